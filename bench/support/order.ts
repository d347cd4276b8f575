import { seededRandom, shuffle } from './stats.js';

/** The seed of every scenario's block order: fixed, so two runs interleave alike. */
const BLOCK_ORDER_SEED = 20_261_202;

/**
 * The order of each round's blocks, new every round. A block that runs right after msal-node-heavy work (a bare
 * client's or the peer's blocks) pays for that work's garbage collection and colder caches: on Redis the same warm
 * calls measured up to twice as slow there as after raw reads. In a fixed order one path would always pay it;
 * shuffled every round (seeded, so a run can be repeated), every path, the baseline read included, follows the others
 * about equally often.
 */
export function roundOrder(seed = BLOCK_ORDER_SEED): <T>(blocks: readonly T[]) => T[] {
  const random = seededRandom(seed);
  return (blocks) => shuffle([...blocks], random);
}
