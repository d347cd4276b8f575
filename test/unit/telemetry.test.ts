/**
 * lib/telemetry.ts writes its JSON member by member (it runs on every acquisition): the line must read exactly as
 * JSON.stringify of the same members would write it, whatever the values.
 */
import { describe, expect, it } from 'vitest';
import { emptyStats, type CacheStats } from '../../lib/cache/stats.js';
import { TOKEN_TELEMETRY_PREFIX, logTokenTelemetry, type TokenTelemetry } from '../../lib/telemetry.js';

function written(telemetry: TokenTelemetry): string {
  const lines: string[] = [];
  const keep = (message: string) => lines.push(message);
  logTokenTelemetry({ info: keep, warn: keep, error: keep }, telemetry);
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

function stringified(telemetry: TokenTelemetry): string {
  const { stats } = telemetry;
  return `${TOKEN_TELEMETRY_PREFIX} ${JSON.stringify({
    op: telemetry.operation,
    partition: telemetry.partitionKey,
    fromCache: telemetry.fromCache,
    saved: telemetry.saved,
    outcome: telemetry.outcome,
    reads: stats.reads,
    writes: stats.writes,
    conflicts: stats.conflicts,
    retries: stats.retries,
    failures: stats.failures,
    tierHits: stats.tierHits,
    tierAnswers: stats.tierAnswers,
    discarded: stats.discarded,
    foreign: stats.foreign,
    bytesRead: stats.bytesRead,
    bytesWritten: stats.bytesWritten,
    storeMs: Math.round(stats.storeMs * 100) / 100,
  })}`;
}

const stats = (overrides: Partial<CacheStats>): CacheStats => ({ ...emptyStats(), ...overrides });

describe('the telemetry line', () => {
  it.each<[string, TokenTelemetry]>([
    [
      'a warm hit',
      {
        operation: 'on_behalf_of',
        partitionKey: 'oid.tid',
        fromCache: true,
        saved: true,
        outcome: 'ok',
        stats: stats({ reads: 1, tierHits: 1, tierAnswers: 1, storeMs: 0.0678 }),
      },
    ],
    [
      'a failure with nothing known of the result',
      {
        operation: 'silent',
        partitionKey: 'a.b',
        fromCache: undefined,
        saved: undefined,
        outcome: 'store_unavailable',
        stats: stats({ failures: 2, discarded: true, foreign: true, storeMs: 10_000.004 }),
      },
    ],
    [
      'strings that need escaping and numbers JSON cannot hold',
      {
        operation: 'op "quoted"\n',
        partitionKey: 'ü\\\u2028',
        fromCache: false,
        saved: false,
        outcome: 'ok',
        stats: stats({ bytesRead: Number.NaN, bytesWritten: Number.POSITIVE_INFINITY, storeMs: -0 }),
      },
    ],
  ])('reads as JSON.stringify of its members: %s', (_, telemetry) => {
    expect(written(telemetry)).toBe(stringified(telemetry));
  });
});
