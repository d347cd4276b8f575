import { describe, expect, it } from 'vitest';
import { growthBySize, type GrowthFigures } from '../../bench/scenarios/growth.js';
import { measuredOn } from '../../bench/support/environment.js';

function row(store: 'table' | 'cosmos', tokens: number, roundRatio: number, via?: string): GrowthFigures {
  return {
    on: measuredOn(store),
    ...(via ? { via } : {}),
    tokens,
    accessTokensStored: tokens,
    documentBytes: 1000 * tokens,
    plaintextBytes: 2000 * tokens,
    fillSeconds: 1,
    warmMedianMs: roundRatio,
    medianStoreMs: 0.5,
    medianOtherMs: 0.1,
    warmP95Ms: 1,
    warmP99Ms: 1,
    baselineMedianMs: 1,
    ratioToBaseline: roundRatio + 0.01,
    roundRatio,
    perWarmInvocation: { storeReads: 1, storeWrites: 0, authorityRequests: 0 },
    warnings: 0,
  };
}

describe('growthBySize (bench JSON of scenario 5a)', () => {
  it('keys the figures by number of tokens, each with every store and the highest ratio among them', () => {
    const figures = [
      row('table', 1, 1.02),
      row('table', 100, 1.1),
      row('cosmos', 1, 1.05),
      row('cosmos', 100, 17),
      row('cosmos', 100, 0.9, 'a 304 server'),
    ];
    const bySize = growthBySize(figures);
    expect(Object.keys(bySize)).toEqual(['1', '100']);
    expect(bySize['100']).toMatchObject({ tokens: 100, roundRatio: 17, ratioToBaseline: 17.01, highestOn: 'cosmos' });
    expect(Object.keys(bySize['100']!.stores)).toEqual(['table', 'cosmos', 'cosmos via a 304 server']);
    expect(bySize['100']!.stores['cosmos via a 304 server']!.roundRatio).toBe(0.9);
    expect(bySize['1']).toMatchObject({ roundRatio: 1.05, highestOn: 'cosmos' });
  });
});
