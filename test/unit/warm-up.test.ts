/** The benchmark's warm-up rule (bench/support/warm-up.ts): the same for every path it compares. */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { warmUp } from '../../bench/support/warm-up.js';

describe('warmUp', () => {
  it('makes the given number of calls when the time limit does not come first', async () => {
    let calls = 0;
    const made = await warmUp(
      () => {
        calls++;
        return Promise.resolve();
      },
      { calls: 250, ms: 60_000 },
    );
    expect(made).toBe(250);
    expect(calls).toBe(250);
  });

  it('stops at the time limit, before the calls are made', async () => {
    let calls = 0;
    // 1,000 calls of 10 ms could not end within 30 ms: only the limit stops it this early.
    const made = await warmUp(
      async () => {
        calls++;
        await sleep(10);
      },
      { calls: 1_000, ms: 30 },
    );
    expect(made).toBe(calls);
    expect(made).toBeGreaterThanOrEqual(1);
    expect(made).toBeLessThan(1_000);
  });
});
