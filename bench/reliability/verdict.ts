import type { ReliabilityFigures } from './scenario.js';

/** The invariants of a run that did not hold, in words; empty when all held. */
export function violations(figures: ReliabilityFigures): string[] {
  const revoked = new Set(figures.revoked);
  const paused = new Set(figures.paused);
  const found: string[] = [];
  const add = (what: string, items: readonly string[]) => {
    if (items.length > 0) found.push(`${what} (${items.length}): ${items.slice(0, 5).join('; ')}`);
  };
  add('calls not answered acceptably', figures.unacceptable);
  add('refresh tokens lost: newest not stored', figures.refreshTokens.notNewest);
  add('refresh tokens lost: not redeemed', figures.refreshTokens.notRedeemed);
  add(
    'paused but not revoked',
    figures.paused.filter((p) => !revoked.has(p)),
  );
  add(
    'revoked but not paused',
    figures.revoked.filter((p) => !paused.has(p)),
  );
  add('background work not on for a person not revoked', figures.wrongStatus);
  add('cross-user entries', figures.crossUser.found);
  add('store round trips over the bound', figures.roundTrips.overBound);
  add('invocations over their store operation bound', figures.storeOps.overBound);
  if (!/succeeded \d+, paused \d+, failed 0/.test(figures.finalRun))
    found.push(`final daemon run: ${[figures.finalRun, ...figures.finalRunProblems].join('; ')}`);
  return found;
}
