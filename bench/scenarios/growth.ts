/**
 * Scenario 5a: a partition that grows. One user gets on-behalf-of tokens for 1, 10 and 100 different resources
 * (each a real authority request and write); then the size of the stored document and the latency of a warm call,
 * measured in rounds interleaved with the raw read of a baseline document on the same store client (as scenario 2).
 */
import { decodeDocument, isObject } from '../../lib/cache/document.js';
import { open } from '../../lib/cache/envelope.js';
import { delta, snapshot, type CountingStore } from '../../dev/counting-store.js';
import { measuredOn, storeLabel, type MeasuredOn } from '../support/environment.js';
import type { ScenarioResult } from '../support/report.js';
import { authorityTokenRequests, quietLogger, type BenchStack, type BenchStoreKind } from '../support/stack.js';
import { scaled } from '../support/config.js';
import { roundOrder } from '../support/order.js';
import { median, round, roundRatio, summarize, timeEach } from '../support/stats.js';
import { newCaller } from '../support/users.js';
import { describeWarmUp, warmUp, type WarmUp } from '../support/warm-up.js';
import { prepareBaselineRead } from './baseline.js';

const SIZES = [1, 10, 100] as const;
// Short interleaved blocks, as in scenario 2 (see warm.ts).
const ROUNDS = scaled(20, 4);
const BLOCK = scaled(10, 10);
/** Lighter than scenario 2's: that ran first, so the warm path's code is through V8's tiers (see warm-up.ts). */
const WARM_UP: WarmUp = { calls: scaled(2_000, 200), ms: scaled(1_000, 200) };
export const GROWTH_GOAL = { tokens: 100, ratio: 1.5 } as const;

export interface GrowthFigures {
  readonly on: MeasuredOn;
  /** How the store was reached, when not the run's own emulator (e.g. a Cosmos DB server answering 304s). */
  readonly via?: string;
  readonly tokens: number;
  readonly accessTokensStored: number;
  readonly documentBytes: number;
  /** The document's plaintext (MSAL's cache and the entries' update times), before compression and encryption. */
  readonly plaintextBytes: number;
  readonly fillSeconds: number;
  readonly warmMedianMs: number;
  /** Median of the time the warm call waited for the store, and of the rest (this library and MSAL). */
  readonly medianStoreMs: number;
  readonly medianOtherMs: number;
  readonly warmP95Ms: number;
  readonly warmP99Ms: number;
  /** Median of the raw baseline read measured in the same rounds. */
  readonly baselineMedianMs: number;
  /** Warm median ÷ baseline median, each over the whole run. */
  readonly ratioToBaseline: number;
  /** The same paired by round (bench/support/stats.ts `roundRatio`): what the goal is checked on. */
  readonly roundRatio: number;
  readonly perWarmInvocation: {
    readonly storeReads: number;
    readonly storeWrites: number;
    readonly authorityRequests: number;
  };
  readonly warnings: number;
}

const scopeFor = (i: number) => [`api://bench-resource-${i}/.default`];

async function grow(
  stack: BenchStack,
  kind: BenchStoreKind,
  tokens: number,
  through?: { readonly label: string; readonly newStore: () => CountingStore },
): Promise<GrowthFigures> {
  const store = through ? through.newStore() : stack.newStore(kind);
  const app = stack.newApp(store);
  const logger = quietLogger();
  const caller = await newCaller(stack, app);
  const oboFor = (i: number) =>
    app.runtime.tokens.acquireTokenOnBehalfOf(
      { caller: caller.claims, assertion: caller.assertion, scopes: scopeFor(i) },
      { logger },
    );
  const fillStarted = performance.now();
  let partitionKey = '';
  for (let i = 0; i < tokens; i++) {
    const outcome = await oboFor(i);
    partitionKey = outcome.partitionKey;
  }
  const fillSeconds = (performance.now() - fillStarted) / 1000;
  const stored = await store.inner.read(partitionKey);
  const documentBytes = stored?.data.byteLength ?? 0;
  let accessTokensStored = 0;
  let plaintextBytes = 0;
  if (stored) {
    const { plaintext } = open(app.keyRing, partitionKey, stored.data);
    plaintextBytes = plaintext.byteLength;
    const doc = decodeDocument(plaintext);
    const section = doc.msal.AccessToken;
    accessTokensStored = isObject(section) ? Object.keys(section).length : 0;
  }
  const storeWaits: number[] = [];
  const warm = async () => {
    const outcome = await oboFor(0);
    storeWaits.push(outcome.stats.storeMs);
  };
  const read = await prepareBaselineRead(store.inner);
  await warmUp([warm, read], WARM_UP);
  const samples: number[] = [];
  const waits: number[] = [];
  const rests: number[] = [];
  const baselineSamples: number[] = [];
  const blockMedians: number[] = [];
  const baselineBlockMedians: number[] = [];
  const ops = { read: 0, write: 0 };
  let authority = 0;
  const order = roundOrder();
  const readBlock = async () => {
    const times = await timeEach(BLOCK, read);
    baselineSamples.push(...times);
    baselineBlockMedians.push(median(times));
  };
  const warmBlock = async () => {
    const storeBefore = snapshot(store.counts);
    const authorityBefore = authorityTokenRequests(stack, app.clientId);
    storeWaits.length = 0;
    const times = await timeEach(BLOCK, warm);
    samples.push(...times);
    blockMedians.push(median(times));
    rests.push(...times.map((t, i) => t - storeWaits[i]!));
    waits.push(...storeWaits);
    const block = delta(store.counts, storeBefore);
    ops.read += block.read;
    ops.write += block.write;
    authority += authorityTokenRequests(stack, app.clientId) - authorityBefore;
  };
  for (let r = 0; r < ROUNDS; r++) {
    for (const block of order([readBlock, warmBlock])) await block();
  }
  const summary = summarize(samples);
  const baseline = summarize(baselineSamples);
  const calls = samples.length;
  return {
    on: measuredOn(kind),
    ...(through ? { via: through.label } : {}),
    tokens,
    accessTokensStored,
    documentBytes,
    plaintextBytes,
    fillSeconds: round(fillSeconds, 2),
    warmMedianMs: summary.medianMs,
    medianStoreMs: summarize(waits).medianMs,
    medianOtherMs: summarize(rests).medianMs,
    warmP95Ms: summary.p95Ms,
    warmP99Ms: summary.p99Ms,
    baselineMedianMs: baseline.medianMs,
    ratioToBaseline: round(summary.medianMs / baseline.medianMs, 2),
    roundRatio: round(roundRatio(blockMedians, baselineBlockMedians), 2),
    perWarmInvocation: {
      storeReads: round(ops.read / calls, 3),
      storeWrites: round(ops.write / calls, 3),
      authorityRequests: round(authority / calls, 3),
    },
    warnings: logger.problems.count,
  };
}

export async function measureGrowth(
  stack: BenchStack,
  kind: BenchStoreKind,
  through?: { readonly label: string; readonly newStore: () => CountingStore },
): Promise<GrowthFigures[]> {
  const figures: GrowthFigures[] = [];
  for (const tokens of SIZES) figures.push(await grow(stack, kind, tokens, through));
  return figures;
}

/** The label of the Cosmos rows measured on a server answering If-None-Match (dev/cosmos-if-none-match.ts). */
export const COSMOS_304 = 'server answering If-None-Match (304)';

/** What the rows "via {@link COSMOS_304}" are (growth and warm). */
export const COSMOS_304_NOTE = `"cosmos via ${COSMOS_304}": a second @vercel/cosmosdb-server in this process, with its point reads made conditional as Azure Cosmos DB documents them (dev/cosmos-if-none-match.ts): If-None-Match listing the item's _etag is answered 304 without a body, after the same lookup of the item, nothing serialized or sent. An emulation of the service's behaviour, not a measurement of it; the baseline is the same unconditional raw read on that server.`;

/** One size of partition in the JSON (`growth.<n>`): every store measured, and the ratios of the highest among them. */
export interface GrowthBySize {
  readonly tokens: number;
  /** The ratios of the store whose `roundRatio` (what the goal is checked on) is the highest: `highestOn`. */
  readonly ratioToBaseline: number;
  readonly roundRatio: number;
  /** The label of that store. */
  readonly highestOn: string;
  /** Keyed by store label, as `warm.<store>`. */
  readonly stores: Readonly<Record<string, GrowthFigures>>;
}

/** The JSON of scenario 5a: keyed by the number of tokens, `growth.<n>.ratioToBaseline` (the stable key). */
export function growthBySize(figures: readonly GrowthFigures[]): Record<string, GrowthBySize> {
  const sizes = [...new Set(figures.map((f) => f.tokens))].sort((a, b) => a - b);
  return Object.fromEntries(
    sizes.map((tokens) => {
      const rows = figures.filter((f) => f.tokens === tokens);
      const highest = rows.reduce((a, b) => (b.roundRatio > a.roundRatio ? b : a));
      const size: GrowthBySize = {
        tokens,
        ratioToBaseline: highest.ratioToBaseline,
        roundRatio: highest.roundRatio,
        highestOn: storeLabel(highest),
        stores: Object.fromEntries(rows.map((f) => [storeLabel(f), f])),
      };
      return [String(tokens), size];
    }),
  );
}

export function growthScenario(figures: readonly GrowthFigures[]): ScenarioResult {
  return {
    id: 'growth',
    title: '5a. Growth: one user with 1, 10, 100 on-behalf-of tokens (different resources)',
    columns: [
      'store',
      'tokens requested',
      'access tokens stored',
      'document bytes',
      'plaintext bytes',
      'warm median ms',
      'store wait ms (median)',
      'rest ms (median)',
      'warm p95 ms',
      'warm p99 ms',
      'baseline read ms',
      '× baseline',
      '× baseline, paired by round',
      'reads / writes / authority per warm inv.',
      'warnings',
    ],
    rows: figures.map((f) => [
      storeLabel(f),
      f.tokens,
      f.accessTokensStored,
      f.documentBytes,
      f.plaintextBytes,
      f.warmMedianMs,
      f.medianStoreMs,
      f.medianOtherMs,
      f.warmP95Ms,
      f.warmP99Ms,
      f.baselineMedianMs,
      f.ratioToBaseline,
      f.roundRatio,
      `${f.perWarmInvocation.storeReads} / ${f.perWarmInvocation.storeWrites} / ${f.perWarmInvocation.authorityRequests}`,
      f.warnings,
    ]),
    figures: growthBySize(figures),
    goals: figures
      .filter((f) => f.tokens === GROWTH_GOAL.tokens)
      .map((f) => ({
        goal: `warm OBO with ${f.tokens} resources in the partition ÷ baseline read, ${storeLabel(f)}`,
        target: `≤ ${GROWTH_GOAL.ratio}`,
        measured: `${f.roundRatio} paired by round; medians of the run ${f.ratioToBaseline} (${f.warmMedianMs} ms vs ${f.baselineMedianMs} ms)`,
        met: f.roundRatio <= GROWTH_GOAL.ratio,
      })),
    notes: [
      `Filled with one OBO per resource (api://bench-resource-N/.default), same assertion; then (after ${describeWarmUp(WARM_UP)}) ${ROUNDS} rounds of a block of ${BLOCK} raw reads of a 3 KB baseline document and one of ${BLOCK} warm OBO calls for the first resource (in a seeded shuffled order each round), on the same store client. "× baseline, paired by round" (what the goal is checked on) as in scenario 2. Document bytes = the document as stored: deflated (CACHE_COMPRESS, on by default), then sealed in its AES-GCM envelope; plaintext bytes = the same before both.`,
      "A warm call revalidates the partition's ETag and reuses the warm client: nothing is decrypted or deserialized, whatever the size. What still grows: MSAL's own lookup over more tokens, and on the Cosmos DB server the transfer, since it ignores If-None-Match and answers every conditional read with the whole item (the library then compares the ETag itself).",
      COSMOS_304_NOTE,
    ],
  };
}
