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
  return `${head}${hundredths(telemetry.stats.storeMs)}}`;
}

/** Above this many hundredths, {@link hundredths} leaves the number to `String` (integers stay exact below 2^53). */
const EXACT_HUNDREDTHS = 1e15;

/**
 * `String(Math.round(ms * 100) / 100)`, from integers alone: a double's shortest decimal form takes V8's dtoa, which
 * cost a warm call about 5 µs of its own (bench/ab.ts), once per telemetry line. The two agree because a multiple of
 * 0.01 below 10^13 is the only number of at most two decimals that rounds to its double.
 */
export function hundredths(ms: number): string {
  const n = Math.round(ms * 100);
  if (!(n >= 0 && n < EXACT_HUNDREDTHS)) return String(n / 100);
  const whole = Math.floor(n / 100);
  const cents = n - whole * 100;
  if (cents === 0) return `${whole}`;
  if (cents % 10 === 0) return `${whole}.${cents / 10}`;
  return `${whole}.${cents < 10 ? '0' : ''}${cents}`;
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
