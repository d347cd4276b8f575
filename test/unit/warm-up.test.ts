/** The benchmark's warm-up rule (bench/support/warm-up.ts): the same for every path it compares. */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { warmUp } from '../../bench/support/warm-up.js';

describe('warmUp', () => {
  it('makes the given number of calls of each path when the time limit does not come first', async () => {
    const calls = [0, 0, 0];
    const made = await warmUp(
      calls.map((_, i) => () => {
        calls[i]!++;
        return Promise.resolve();
      }),
      { calls: 120, ms: 60_000 },
    );
    expect(made).toBe(120);
    expect(calls).toEqual([120, 120, 120]);
  });

  it('stops at the time limit, before the calls are made, with the same number of calls of each path', async () => {
    const calls = [0, 0];
    // A fast path and a slow one: 1,000 calls of the slow one could not end within 2 × 30 ms.
    const made = await warmUp(
      [
        () => {
          calls[0]!++;
          return Promise.resolve();
        },
        async () => {
          calls[1]!++;
          await sleep(2);
        },
      ],
      { calls: 1_000, ms: 30 },
    );
    expect(made).toBeGreaterThanOrEqual(1);
    expect(made).toBeLessThan(1_000);
    expect(calls).toEqual([made, made]);
  });
});
