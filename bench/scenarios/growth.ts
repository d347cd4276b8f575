/**
 * Scenario 5a: a partition that grows. One user gets on-behalf-of tokens for 1, 10 and 100 different resources
 * (each a real authority request and write); then the size of the stored document and the latency of a warm call.
 */
import { decodeDocument, isObject } from '../../lib/cache/document.js';
import { open } from '../../lib/cache/envelope.js';
import { delta, snapshot } from '../../dev/counting-store.js';
import { measuredOn, type MeasuredOn } from '../support/environment.js';
import type { ScenarioResult } from '../support/report.js';
import { authorityTokenRequests, quietLogger, type BenchStack, type BenchStoreKind } from '../support/stack.js';
import { round, summarize, timeEach } from '../support/stats.js';
import { newCaller } from '../support/users.js';
import type { BaselineFigures } from './baseline.js';

const SIZES = [1, 10, 100] as const;
const WARM_CALLS = 200;
const WARM_UP = 20;

export interface GrowthFigures {
  readonly on: MeasuredOn;
  readonly tokens: number;
  readonly accessTokensStored: number;
  readonly documentBytes: number;
  readonly fillSeconds: number;
  readonly warmMedianMs: number;
  readonly warmP95Ms: number;
  readonly ratioToBaseline: number;
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
  baseline: BaselineFigures,
): Promise<GrowthFigures> {
  const store = stack.newStore(kind);
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
  if (stored) {
    const doc = decodeDocument(open(app.keyRing, partitionKey, stored.data).plaintext);
    const section = doc.msal.AccessToken;
    accessTokensStored = isObject(section) ? Object.keys(section).length : 0;
  }
  const warm = () => oboFor(0);
  await timeEach(WARM_UP, warm);
  const storeBefore = snapshot(store.counts);
  const authorityBefore = authorityTokenRequests(stack, app.clientId);
  const summary = summarize(await timeEach(WARM_CALLS, warm));
  const ops = delta(store.counts, storeBefore);
  return {
    on: measuredOn(kind),
    tokens,
    accessTokensStored,
    documentBytes,
    fillSeconds: round(fillSeconds, 2),
    warmMedianMs: summary.medianMs,
    warmP95Ms: summary.p95Ms,
    ratioToBaseline: round(summary.medianMs / baseline.medianMs, 2),
    perWarmInvocation: {
      storeReads: round(ops.read / WARM_CALLS, 3),
      storeWrites: round(ops.write / WARM_CALLS, 3),
      authorityRequests: round((authorityTokenRequests(stack, app.clientId) - authorityBefore) / WARM_CALLS, 3),
    },
    warnings: logger.problems.count,
  };
}

export async function measureGrowth(
  stack: BenchStack,
  kind: BenchStoreKind,
  baseline: BaselineFigures,
): Promise<GrowthFigures[]> {
  const figures: GrowthFigures[] = [];
  for (const tokens of SIZES) figures.push(await grow(stack, kind, tokens, baseline));
  return figures;
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
      'warm median ms',
      'warm p95 ms',
      '× baseline',
      'reads / writes / authority per warm inv.',
    ],
    rows: figures.map((f) => [
      f.on.store,
      f.tokens,
      f.accessTokensStored,
      f.documentBytes,
      f.warmMedianMs,
      f.warmP95Ms,
      f.ratioToBaseline,
      `${f.perWarmInvocation.storeReads} / ${f.perWarmInvocation.storeWrites} / ${f.perWarmInvocation.authorityRequests}`,
    ]),
    figures,
    goals: [],
    notes: [
      `Filled with one OBO per resource (api://bench-resource-N/.default), same assertion; then ${WARM_CALLS} warm OBO calls for the first resource. Document bytes = the sealed document as stored (AES-GCM envelope, not compressed).`,
      'Every warm call reads, decrypts and deserializes the whole partition: latency grows with the document, which is why superseded OBO tokens are pruned before every write.',
    ],
  };
}
