import { describe, expect, it } from 'vitest';
import { type CacheStats, emptyStats, sameCounts } from '../../lib/cache/stats.js';
import { type TokenTelemetry, hundredths, telemetryJson } from '../../lib/telemetry.js';

/** The line as JSON.stringify writes it: the format telemetryJson must keep, field for field and in order. */
function stringified(t: TokenTelemetry): string {
  const s = t.stats;
  return JSON.stringify({
    op: t.operation,
    partition: t.partitionKey,
    fromCache: t.fromCache,
    saved: t.saved,
    outcome: t.outcome,
    reads: s.reads,
    writes: s.writes,
    conflicts: s.conflicts,
    retries: s.retries,
    failures: s.failures,
    tierHits: s.tierHits,
    tierAnswers: s.tierAnswers,
    discarded: s.discarded,
    foreign: s.foreign,
    bytesRead: s.bytesRead,
    bytesWritten: s.bytesWritten,
    storeMs: Math.round(s.storeMs * 100) / 100,
  });
}

describe('telemetryJson', () => {
  const stats = {
    ...emptyStats(),
    reads: 2,
    writes: 1,
    conflicts: 1,
    retries: 1,
    tierHits: 1,
    discarded: true,
    bytesRead: 3_072,
    bytesWritten: 2_048,
    storeMs: 1.23456,
  };
  const cases: TokenTelemetry[] = [
    { operation: 'on_behalf_of', partitionKey: 'a-b.c-d', fromCache: true, saved: true, stats, outcome: 'ok' },
    { operation: 'silent', partitionKey: '', fromCache: undefined, saved: undefined, stats, outcome: 'store_conflict' },
    { operation: 'op "quoted" \\ \n\u2028 é', partitionKey: 'p', fromCache: false, saved: false, stats, outcome: 'ok' },
    { operation: 'x', partitionKey: 'p', fromCache: true, saved: undefined, stats: emptyStats(), outcome: 'ok' },
    {
      operation: 'x',
      partitionKey: 'p',
      fromCache: undefined,
      saved: true,
      stats: { ...stats, storeMs: 1e-7 },
      outcome: 'ok',
    },
  ];

  it.each(cases.map((c, i) => [i, c] as const))('writes case %i exactly as JSON.stringify of its fields', (_, c) => {
    expect(telemetryJson(c)).toBe(stringified(c));
  });
});

describe('hundredths', () => {
  const asString = (ms: number) => String(Math.round(ms * 100) / 100);

  it('writes a time as String writes it rounded to hundredths: edge values', () => {
    const values = [0, 1e-7, 0.004, 0.005, 0.01, 0.05, 0.1, 0.105, 0.5, 0.994, 0.995, 1, 1.005, 1.1, 1.23456, 9.999];
    values.push(10, 12.5, 99.99, 100, 1_234.56, 65_536.07, 1e9 + 0.01, 9_999_999_999_999.99, 1e13, 1e16, 1e21, 1e22);
    values.push(-0, -0.004, -1.5, -2.25, NaN, Infinity, -Infinity);
    for (const ms of values) expect(hundredths(ms), String(ms)).toBe(asString(ms));
  });

  it('writes a time as String writes it rounded to hundredths: every hundredth below 20 s, and random times up to 10^21', () => {
    for (let n = 0; n < 2_000_000; n++) {
      const ms = n / 100;
      if (hundredths(ms) !== asString(ms)) expect(hundredths(ms), String(ms)).toBe(asString(ms));
    }
    for (let i = 0; i < 200_000; i++) {
      const ms = Math.random() * 10 ** Math.floor(Math.random() * 22);
      if (hundredths(ms) !== asString(ms)) expect(hundredths(ms), String(ms)).toBe(asString(ms));
    }
  });
});

describe('sameCounts', () => {
  it('tells apart stats that differ in any one count, and ignores the time', () => {
    const base = emptyStats();
    const timed: CacheStats = { ...emptyStats(), storeMs: 12.5 };
    expect(sameCounts(base, timed)).toBe(true);
    for (const name of Object.keys(base) as (keyof CacheStats)[]) {
      if (name === 'storeMs') continue;
      const changed = { ...base, [name]: typeof base[name] === 'boolean' ? !base[name] : base[name] + 1 };
      expect(sameCounts(base, changed), name).toBe(false);
    }
  });
});
