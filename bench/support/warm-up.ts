/**
 * How much each timed path runs before it is timed. V8 compiles a function with its optimizing tier only after it
 * has run many times: measured on this machine (memory store, warm on-behalf-of), this library's warm path cost
 * 13–51 µs per call between 400 and 6,400 calls and 4–9 µs after, its functions optimized between about 1,600 and
 * 12,800 calls. A raw read, whose SDK code every path runs, is there long before. The paths of a comparison therefore
 * warm up together, by one rule — a number of calls each, or a time limit for paths too slow to make them (the full
 * handler, Table, a simulated region) — taking turns, so that each makes the same number of calls, and what is timed
 * is each path's steady state, not how far its code got through the tiers.
 */
import { scaled } from './config.js';

export interface WarmUp {
  /** Calls each path makes before timing... */
  readonly calls: number;
  /** ...unless this many milliseconds per path pass first. */
  readonly ms: number;
}

/**
 * The raw read and every token path of scenario 2. The time limit binds on Table (about 1 ms a call): there 1 s of
 * warm-up per path left this library's on-behalf-of at 1.09–1.10× the read, 2.5 s at 1.04–1.06×, 5,000 calls at
 * 1.02–1.03×.
 */
export const STEADY_STATE: WarmUp = { calls: scaled(5_000, 500), ms: scaled(2_500, 200) };

/** The full handler of scenario 2 (bearer validation and a downstream HTTP call, a few ms): shown for scale only. */
export const HANDLER: WarmUp = { calls: scaled(5_000, 500), ms: scaled(500, 100) };

/** Calls each path makes in its turn. */
const TURN = 50;

/**
 * Runs the paths by the rule, in turns of up to {@link TURN} calls each, until each made `calls` or `ms` per path
 * have passed in all (checked between turns). Returns the number of calls each path made: the same for all.
 */
export async function warmUp(paths: ReadonlyArray<() => Promise<unknown>>, rule: WarmUp): Promise<number> {
  const until = performance.now() + rule.ms * paths.length;
  let made = 0;
  while (made < rule.calls && performance.now() < until) {
    const turn = Math.min(TURN, rule.calls - made);
    for (const path of paths) for (let i = 0; i < turn; i++) await path();
    made += turn;
  }
  return made;
}

export function describeWarmUp(rule: WarmUp): string {
  return `${rule.calls.toLocaleString('en-US')} warm-up calls each or ${rule.ms.toLocaleString('en-US')} ms of them per path, whichever came first, the paths taking turns`;
}
