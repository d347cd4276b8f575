/**
 * How much each timed path runs before it is timed. V8 compiles a function with its optimizing tier only after it
 * has run many times: measured on this machine (memory store, warm on-behalf-of), this library's warm path cost
 * 15–50 µs per call until about 6,400 calls and 4–7 µs from 12,800 on, its functions optimized between those. A raw
 * read, whose SDK code every path runs, is there long before. Each path of a comparison therefore warms up by the same
 * rule — a number of calls, or a time limit for paths too slow to make them (the full handler, Table, a simulated
 * region) — so that what is timed is each path's steady state, not how far its code got through the tiers.
 */
import { scaled } from './config.js';

export interface WarmUp {
  /** Calls to make before timing... */
  readonly calls: number;
  /** ...unless this many milliseconds pass first. */
  readonly ms: number;
}

/**
 * The raw read and every token path of scenario 2. The time limit binds on Table (about 1 ms a call): there 1 s of
 * warm-up left this library's on-behalf-of at 1.09–1.10× the read, 2.5 s at 1.04–1.06×, 5,000 calls at 1.02–1.03×.
 */
export const STEADY_STATE: WarmUp = { calls: scaled(5_000, 500), ms: scaled(2_500, 200) };

/** The full handler of scenario 2 (bearer validation and a downstream HTTP call, a few ms): shown for scale only. */
export const HANDLER: WarmUp = { calls: scaled(5_000, 500), ms: scaled(500, 100) };

/** Runs `call` by the rule; returns how many calls it made. */
export async function warmUp(call: () => Promise<unknown>, rule: WarmUp): Promise<number> {
  const until = performance.now() + rule.ms;
  let made = 0;
  while (made < rule.calls && performance.now() < until) {
    await call();
    made++;
  }
  return made;
}

export function describeWarmUp(rule: WarmUp): string {
  return `${rule.calls.toLocaleString('en-US')} warm-up calls or ${rule.ms.toLocaleString('en-US')} ms of them, whichever came first`;
}
