/**
 * Scenario 7: the optional per-instance L1 tier (`CACHE_L1_MAX_AGE_SECONDS`, `CacheOptions.l1`) on and off, on the
 * warm paths of scenario 2 (measured in the same interleaved rounds, see warm.ts). Were the L1 tier missing from the
 * library, `hasL1` would be false and the scenario skipped with a note.
 */
import type { Goal, ScenarioResult } from '../support/report.js';
import { skippedScenario } from '../support/report.js';
import { RATIO_GOAL, warmColumns, warmRows, type WarmFigures } from './warm.js';

export const L1_MAX_AGE_SECONDS = 5;
const TITLE = `7. L1 tier off vs on (max age ${L1_MAX_AGE_SECONDS} s), warm paths of scenario 2`;

/** True when the library has the L1 tier (lib/cache/l1.ts, wired to CACHE_L1_MAX_AGE_SECONDS). */
export async function hasL1(): Promise<boolean> {
  try {
    const l1 = (await import('../../lib/cache/l1.js')) as { L1Cache?: unknown };
    return typeof l1.L1Cache === 'function';
  } catch {
    return false;
  }
}

export function l1Skipped(reason: string): ScenarioResult {
  return skippedScenario('l1', TITLE, reason);
}

export function l1Scenario(off: readonly WarmFigures[], on: readonly WarmFigures[]): ScenarioResult {
  const goals: Goal[] = on.map((f) => ({
    goal: `warm OBO token part with L1 on ÷ baseline read, ${f.on.store}`,
    target: `≤ ${RATIO_GOAL} (informational)`,
    measured: `${f.obo.ratioToBaseline}; ${f.obo.perInvocation.storeReads} store reads per invocation`,
    met: undefined,
  }));
  return {
    id: 'l1',
    title: TITLE,
    columns: warmColumns(true),
    rows: warmRows(
      off.flatMap((f, i) => [f, on[i]!]),
      true,
    ),
    figures: Object.fromEntries(on.map((f, i) => [f.on.store, { off: off[i], on: f }])),
    goals,
    notes: [
      'Table has no conditional read: an L1 entry younger than the max age costs no store read at all (a hot user is served from process memory); an older one, a full read.',
      'Cosmos revalidates every L1 entry with If-None-Match: one read per invocation, nothing decrypted when unchanged. @vercel/cosmosdb-server ignores If-None-Match and answers 200 with the body, so the transfer Azure would save (304) is not saved here.',
      'Within its max age L1 can serve a document another instance changed meanwhile; writes stay conditional on the ETag, so that costs a conflict and a merge, never lost tokens. "L1 hits" is not reported by the full handler (its telemetry line has no such field).',
    ],
  };
}
