/**
 * Scenario 7: the warm tier. (a) On (the default) and off, on the warm paths of scenario 2, measured in the same
 * interleaved rounds (warm.ts). (b) Its memory: many partitions made warm one after another through the library's
 * silent flow on the memory store (seeded by cloning one real sign-in, bench/support/seed.ts), then the live heap
 * the tier retains — the heap after a full GC with the token cache alive, minus the heap after a full GC once the
 * token cache (and so its tier) is unreachable — against what the tier accounted for and its bound.
 */
import { DEFAULT_WARM_TIER_BYTES } from '../../lib/index.js';
import { scaled } from '../support/config.js';
import { measuredOn, type MeasuredOn } from '../support/environment.js';
import { collectGarbage } from '../support/gc.js';
import type { Goal, ScenarioResult } from '../support/report.js';
import { quietLogger, type BenchStack } from '../support/stack.js';
import { round, runPool } from '../support/stats.js';
import { seedClonedUsers } from '../support/seed.js';
import { warmColumns, warmRows, type WarmFigures } from './warm.js';
import { COSMOS_304 } from './growth.js';

export const TIER_PARTITIONS = scaled(10_000, 1_000);
const MiB = 2 ** 20;
const CONCURRENCY = 8;

export interface TierMemoryFigures {
  readonly on: MeasuredOn;
  readonly partitionsWarmed: number;
  readonly maxBytes: number;
  readonly held: { readonly partitions: number; readonly accountedBytes: number };
  /**
   * Live heap retained by the token cache with its tier (after full GCs), in bytes; undefined without forced GC or
   * when the cache was still reachable after the last GC.
   */
  readonly retainedBytes: number | undefined;
  readonly retainedPerPartition: number | undefined;
  readonly accountedPerPartition: number;
  readonly documentBytes: number;
  readonly seconds: number;
  readonly fromCache: number;
  readonly warnings: number;
}

export async function measureTierMemory(stack: BenchStack, maxBytes: number): Promise<TierMemoryFigures> {
  const store = stack.newStore('memory');
  const logger = quietLogger();
  let app: ReturnType<BenchStack['newApp']> | undefined = stack.newApp(store, {
    CACHE_WARM_TIER_MIB: String(maxBytes / MiB),
  });
  const seeded = await seedClonedUsers(stack, app, TIER_PARTITIONS, logger);
  const scopes = [...app.runtime.settings.web.downstreamScopes];
  const heap = () => process.memoryUsage().heapUsed;
  let fromCache = 0;
  const started = performance.now();
  await runPool(seeded.partitionKeys, CONCURRENCY, async (homeAccountId) => {
    const { result } = await app!.runtime.tokens.acquireTokenSilent({ homeAccountId, scopes }, { logger });
    if (result.fromCache) fromCache++;
  });
  const seconds = (performance.now() - started) / 1000;
  const usage = app.runtime.tokens.warmTierUsage;
  const forced = collectGarbage();
  const withTier = heap();
  app = undefined; // the token cache, its clients and its tier become unreachable
  const retained = forced ? await freedAfter(withTier, heap) : undefined;
  return {
    on: measuredOn('memory'),
    partitionsWarmed: TIER_PARTITIONS,
    maxBytes,
    held: { partitions: usage.partitions, accountedBytes: usage.bytes },
    retainedBytes: retained,
    retainedPerPartition: retained === undefined ? undefined : round(retained / Math.max(1, usage.partitions), 0),
    accountedPerPartition: round(usage.bytes / Math.max(1, usage.partitions), 0),
    documentBytes: seeded.documentBytes,
    seconds: round(seconds, 2),
    fromCache,
    warnings: logger.problems.count,
  };
}

/**
 * The live heap freed once the token cache became unreachable: full GCs half a second apart, until one frees
 * something. Something still in flight from the last calls (a socket, a timer) can keep the cache reachable for a
 * while; undefined when it still was after the last try, instead of a figure that says nothing was retained.
 */
async function freedAfter(withTier: number, heap: () => number): Promise<number | undefined> {
  for (let attempt = 0; attempt < 6; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (!collectGarbage()) return undefined;
    const freed = withTier - heap();
    if (freed > 0) return freed;
  }
  return undefined;
}

/** The bounds measured: the default, and one large enough to hold every partition warmed. */
export const TIER_BOUNDS = [DEFAULT_WARM_TIER_BYTES, 1024 * MiB] as const;

export function tierScenario(
  on: readonly WarmFigures[],
  off: readonly WarmFigures[],
  memory: readonly TierMemoryFigures[],
): ScenarioResult {
  const goals: Goal[] = memory.map((m) => ({
    goal: `warm tier memory, ${m.partitionsWarmed.toLocaleString('en-US')} partitions warmed, bound ${round(m.maxBytes / MiB, 0)} MiB: retained heap within the bound and within the accounted bytes`,
    target: `≤ ${round(m.maxBytes / MiB, 0)} MiB and ≤ accounted`,
    measured:
      m.retainedBytes === undefined
        ? 'not measured: no forced GC, or the token cache was still reachable after 6 full GCs'
        : `${round(m.retainedBytes / MiB, 1)} MiB retained, ${round(m.held.accountedBytes / MiB, 1)} MiB accounted, ${m.held.partitions} partitions held`,
    met:
      m.retainedBytes === undefined
        ? undefined
        : m.retainedBytes <= m.maxBytes && m.retainedBytes <= m.held.accountedBytes,
  }));
  return {
    id: 'tier',
    title: '7. Warm tier: on (default) vs off on the warm paths, and its memory',
    columns: warmColumns(true),
    rows: warmRows(
      on.flatMap((f, i) => (off[i] ? [f, off[i]] : [f])),
      true,
    ),
    extraTables: [
      {
        title: `Memory: ${TIER_PARTITIONS.toLocaleString('en-US')} partitions made warm (silent flow, memory store)`,
        columns: [
          'bound MiB',
          'partitions held',
          'accounted MiB',
          'retained heap MiB (full GC)',
          'accounted per partition B',
          'retained per partition B',
          'sealed document B',
          'from cache',
          'run s',
          'warnings',
        ],
        rows: memory.map((m) => [
          round(m.maxBytes / MiB, 0),
          m.held.partitions,
          round(m.held.accountedBytes / MiB, 1),
          m.retainedBytes === undefined ? undefined : round(m.retainedBytes / MiB, 1),
          m.accountedPerPartition,
          m.retainedPerPartition,
          m.documentBytes,
          `${m.fromCache} / ${m.partitionsWarmed}`,
          m.seconds,
          m.warnings,
        ]),
      },
    ],
    figures: {
      ...Object.fromEntries(on.map((f, i) => [f.on.store, { on: f, off: off[i] }])),
      memory,
    },
    goals,
    notes: [
      "On: the partition's MSAL client is kept between invocations and every invocation revalidates the ETag with the store's cheapest read (Cosmos: If-None-Match; Table: a point query of the ETag only; Redis, memory: the version); unchanged, nothing is decrypted, parsed or deserialized. Off (CACHE_WARM_TIER_MIB=0): a new client per invocation, the document opened each time.",
      `@vercel/cosmosdb-server ignores If-None-Match and answers 200 with the item: the store then compares the ETag itself (the transfer a 304 saves on Azure is not saved here). The 304 branch is exercised in npm test through the Cosmos stand-in, and measured in scenarios 2 and 5a on a Cosmos DB server answering If-None-Match ("cosmos via ${COSMOS_304}").`,
      'Memory: "accounted" = what the tier counts against its bound (a fixed cost per client plus a multiple of the plaintext length, and for each answer the client keeps a fixed cost plus the length of its tokens, lib/cache/warm-tier.ts); "retained" = live heap with the token cache alive minus live heap once it is unreachable, both right after a forced full GC.',
    ],
  };
}
