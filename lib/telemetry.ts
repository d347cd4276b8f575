import type { TokenCacheLogger } from './log.js';
import type { CacheStats, StatsCounts } from './cache/stats.js';

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

/** Logs the line; `head` is {@link telemetryHead} of the same telemetry, when made beforehand. */
export function logTokenTelemetry(logger: TokenCacheLogger, telemetry: TokenTelemetry, head?: string): void {
  logger.info(`${TOKEN_TELEMETRY_PREFIX} ${telemetryJson(telemetry, head)}`);
}

/**
 * The telemetry line's JSON: what `JSON.stringify` makes of the fields in this order, written out by hand — on every
 * call, warm ones included, and in half the time. Strings go through `JSON.stringify`; the rest are booleans and
 * finite numbers (counts, and a sum of `performance.now()` differences).
 */
export function telemetryJson(telemetry: TokenTelemetry, head: string = telemetryHead(telemetry)): string {
  return `${head}${Math.round(telemetry.stats.storeMs * 100) / 100}}`;
}

/**
 * {@link telemetryJson} up to the value of `storeMs`, the one field known only once the store answered: a warm call
 * makes it while it waits (see `PartitionedTokenCache`).
 */
export function telemetryHead(telemetry: Omit<TokenTelemetry, 'stats'> & { readonly stats: StatsCounts }): string {
  const { stats } = telemetry;
  const fromCache = telemetry.fromCache === undefined ? '' : `,"fromCache":${telemetry.fromCache}`;
  const saved = telemetry.saved === undefined ? '' : `,"saved":${telemetry.saved}`;
  return (
    `{"op":${JSON.stringify(telemetry.operation)},"partition":${JSON.stringify(telemetry.partitionKey)}${fromCache}` +
    `${saved},"outcome":${JSON.stringify(telemetry.outcome)},"reads":${stats.reads},"writes":${stats.writes}` +
    `,"conflicts":${stats.conflicts},"retries":${stats.retries},"failures":${stats.failures}` +
    `,"tierHits":${stats.tierHits},"tierAnswers":${stats.tierAnswers},"discarded":${stats.discarded}` +
    `,"foreign":${stats.foreign},"bytesRead":${stats.bytesRead},"bytesWritten":${stats.bytesWritten}` +
    `,"storeMs":`
  );
}
