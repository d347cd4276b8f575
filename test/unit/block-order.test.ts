/** The benchmark's block order (bench/support/order.ts): what makes its interleaved rounds fair to every path. */
import { describe, expect, it } from 'vitest';
import { roundOrder } from '../../bench/support/order.js';

describe('roundOrder', () => {
  const paths = [
    'read',
    'floor obo',
    'floor app',
    'ours obo',
    'ours app',
    'getMe',
    'peer obo',
    'peer app',
    'peer getMe',
  ];

  it('gives each round every block once, and the same rounds again for the same seed', () => {
    const a = roundOrder(7);
    const b = roundOrder(7);
    for (let round = 0; round < 25; round++) {
      const order = a(paths);
      expect([...order].sort()).toEqual([...paths].sort());
      expect(b(paths)).toEqual(order);
    }
  });

  it('gives every block at least four different predecessors over 25 rounds of 9 blocks', () => {
    const order = roundOrder();
    const predecessors = new Map(paths.map((path) => [path, new Set<string>()]));
    for (let round = 0; round < 25; round++) {
      const blocks = order(paths);
      blocks.slice(1).forEach((block, i) => predecessors.get(block)!.add(blocks[i]!));
    }
    for (const path of paths) expect(predecessors.get(path)!.size, path).toBeGreaterThanOrEqual(4);
  });
});
