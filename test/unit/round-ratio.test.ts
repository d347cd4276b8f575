import { describe, expect, it } from 'vitest';
import { roundRatio } from '../../bench/support/stats.js';

describe('roundRatio (bench)', () => {
  it("divides each round's block median by the baseline's of the same round, and takes the median of those", () => {
    // The baseline ran fast in rounds 1-3 and slow in 4-5; the path's block of round 3 already ran slow.
    const baseline = [0.2, 0.2, 0.2, 0.4, 0.4];
    const path = [0.21, 0.21, 0.42, 0.42, 0.42];
    expect(roundRatio(path, baseline)).toBeCloseTo(1.05, 10);
    expect(roundRatio([0.3, 0.1, 0.2], [0.1, 0.1, 0.1])).toBeCloseTo(2, 10);
  });

  it('refuses blocks that do not pair one to one', () => {
    expect(() => roundRatio([0.2, 0.2], [0.2])).toThrow(/2 blocks against 1/);
    expect(() => roundRatio([], [])).toThrow();
  });
});
