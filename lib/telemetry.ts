import type { TokenCacheLogger } from './log.js';
import type { CacheStats } from './cache/stats.js';

/** One structured line per token acquisition, for dashboards (hit ratio, store latency, conflicts). No contents. */
export interface TokenTelemetry {
  readonly operation: string;
  readonly partitionKey: string;
  readonly fromCache: boolean | undefined;
  /** Every change the invocation made reached the store (false: the token was returned, the partition not updated). */
  readonly saved: boolean | undefined;
  readonly stats: CacheStats;
  /** `ok`, or a failure code. */
  readonly outcome: string;
}

export const TOKEN_TELEMETRY_PREFIX = 'token-cache-telemetry';

/** `,"name":value` as JSON.stringify writes a member, nothing when `value` is undefined (JSON.stringify omits it). */
function member(name: string, value: string | number | boolean | undefined): string {
  if (value === undefined) return '';
  const json = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : 'null') : JSON.stringify(value);
  return `,"${name}":${json}`;
}

/**
 * Logs the line `token-cache-telemetry {json}`. The JSON is written member by member: this runs on every
 * acquisition, warm ones included, where JSON.stringify of a fresh object was the largest cost after the store read.
 * The text is what JSON.stringify would give for the same object, members in the same order.
 */
export function logTokenTelemetry(logger: TokenCacheLogger, telemetry: TokenTelemetry): void {
  const { stats } = telemetry;
  logger.info(
    `${TOKEN_TELEMETRY_PREFIX} {"op":${JSON.stringify(telemetry.operation)}` +
      member('partition', telemetry.partitionKey) +
      member('fromCache', telemetry.fromCache) +
      member('saved', telemetry.saved) +
      member('outcome', telemetry.outcome) +
      member('reads', stats.reads) +
      member('writes', stats.writes) +
      member('conflicts', stats.conflicts) +
      member('retries', stats.retries) +
      member('failures', stats.failures) +
      member('tierHits', stats.tierHits) +
      member('tierAnswers', stats.tierAnswers) +
      member('discarded', stats.discarded) +
      member('foreign', stats.foreign) +
      member('bytesRead', stats.bytesRead) +
      member('bytesWritten', stats.bytesWritten) +
      member('storeMs', Math.round(stats.storeMs * 100) / 100) +
      '}',
  );
}
