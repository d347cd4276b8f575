/**
 * Scenario 4: 2,000 on-behalf-of invocations over 200 users at concurrency 32, per store. Each user has their own
 * assertion; a user's first call goes to the authority and writes their partition, later ones are warm. Two orders:
 * round-robin (a user's calls never overlap) and shuffled (a user's first calls can run at the same time).
 */
import { delta, snapshot } from '../../dev/counting-store.js';
import { measuredOn, type MeasuredOn } from '../support/environment.js';
import type { Goal, ScenarioResult } from '../support/report.js';
import { authorityTokenRequests, quietLogger, type BenchStack, type BenchStoreKind } from '../support/stack.js';
import { percentile, round, runPool, seededRandom, shuffle } from '../support/stats.js';
import { newCaller, type Caller } from '../support/users.js';

export const INVOCATIONS = 2000;
export const USERS = 200;
export const CONCURRENCY = 32;
type Order = 'round-robin' | 'shuffled';

export interface ConcurrencyFigures {
  readonly on: MeasuredOn;
  readonly order: Order;
  readonly invocations: number;
  readonly users: number;
  readonly concurrency: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly conflicts: number;
  /** Write attempts after a conflict (re-read, merge, write again), as the invocations counted them. */
  readonly retries: number;
  readonly authorityRequests: number;
  readonly authorityEqualsUsers: boolean;
  readonly storeReads: number;
  readonly storeWrites: number;
  readonly fromCache: number;
  readonly failures: number;
  readonly warnings: number;
}

async function run(stack: BenchStack, kind: BenchStoreKind, order: Order): Promise<ConcurrencyFigures> {
  const store = stack.newStore(kind);
  const app = stack.newApp(store);
  const { tokens } = app.runtime;
  const scopes = app.runtime.settings.web.downstreamScopes;
  const logger = quietLogger();
  const callers: Caller[] = [];
  for (let u = 0; u < USERS; u++) callers.push(await newCaller(stack, app));
  const plan = Array.from({ length: INVOCATIONS }, (_, i) => callers[i % USERS]!);
  if (order === 'shuffled') shuffle(plan, seededRandom(42));

  // Connect the store (and create its table/container) before the clock starts.
  await store.inner.read('warm.up');
  const storeBefore = snapshot(store.counts);
  const authorityBefore = authorityTokenRequests(stack, app.clientId);
  const latencies: number[] = [];
  let conflicts = 0;
  let retries = 0;
  let fromCache = 0;
  let failures = 0;
  const started = performance.now();
  await runPool(plan, CONCURRENCY, async (caller) => {
    const t0 = performance.now();
    try {
      const outcome = await tokens.acquireTokenOnBehalfOf(
        { caller: caller.claims, assertion: caller.assertion, scopes },
        { logger },
      );
      conflicts += outcome.stats.conflicts;
      retries += outcome.stats.retries;
      if (outcome.result.fromCache) fromCache++;
    } catch {
      failures++;
    }
    latencies.push(performance.now() - t0);
  });
  const seconds = (performance.now() - started) / 1000;
  const ops = delta(store.counts, storeBefore);
  const authorityRequests = authorityTokenRequests(stack, app.clientId) - authorityBefore;
  latencies.sort((a, b) => a - b);
  return {
    on: measuredOn(kind),
    order,
    invocations: INVOCATIONS,
    users: USERS,
    concurrency: CONCURRENCY,
    seconds: round(seconds, 2),
    perSecond: round(INVOCATIONS / seconds, 0),
    p50Ms: round(percentile(latencies, 50), 2),
    p95Ms: round(percentile(latencies, 95), 2),
    p99Ms: round(percentile(latencies, 99), 2),
    conflicts,
    retries,
    authorityRequests,
    authorityEqualsUsers: authorityRequests === USERS,
    storeReads: ops.read,
    storeWrites: ops.write,
    fromCache,
    failures,
    warnings: logger.problems.count,
  };
}

export async function measureConcurrency(stack: BenchStack, kind: BenchStoreKind): Promise<ConcurrencyFigures[]> {
  return [await run(stack, kind, 'round-robin'), await run(stack, kind, 'shuffled')];
}

export function concurrencyScenario(figures: readonly ConcurrencyFigures[]): ScenarioResult {
  const goals: Goal[] = figures.map((f) => ({
    goal: `authority requests = distinct first-time users, ${f.on.store}, ${f.order}`,
    target: `${f.users}`,
    measured: `${f.authorityRequests}`,
    met: f.authorityEqualsUsers,
  }));
  return {
    id: 'concurrency',
    title: `4. Concurrency: ${INVOCATIONS.toLocaleString('en-US')} OBO invocations over ${USERS} users at concurrency ${CONCURRENCY}`,
    columns: [
      'store',
      'order',
      'inv./s',
      'p50 ms',
      'p95 ms',
      'p99 ms',
      'conflicts',
      'retries',
      'authority requests',
      '= users?',
      'store reads / writes',
      'failures',
      'warnings',
    ],
    rows: figures.map((f) => [
      f.on.store,
      f.order,
      f.perSecond,
      f.p50Ms,
      f.p95Ms,
      f.p99Ms,
      f.conflicts,
      f.retries,
      f.authorityRequests,
      f.authorityEqualsUsers,
      `${f.storeReads} / ${f.storeWrites}`,
      f.failures,
      f.warnings,
    ]),
    figures,
    goals,
    notes: [
      "One process, the library as the handler calls it (warm tier on: a user's later calls reuse the client their first one kept); each user has their own minted assertion.",
      "round-robin: invocation i is user i mod 200, so a user's next call starts long after their first finished. shuffled: the same 2,000 calls in a fixed pseudo-random order (seed 42), so two first calls of one user can overlap.",
      'Overlapping first calls of one user in one process are coalesced (lib/auth/coalesce.ts): the later ones join the first and share its token, so the authority sees one request per user and the store fewer reads than invocations. Across instances such calls would each ask the authority; their writes would then conflict and merge.',
    ],
  };
}
