/**
 * Scenario 5b: one user-daemon run (`runUserDaemon`, bounded concurrency, paging) over many opted-in users, seeded
 * by cloning one real sign-in into every partition (bench/support/seed.ts), each with its background opt-in record.
 * The daemon serves every user from the cache (1 read, 0 writes, 0 authority requests each), which is the warm path.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { constants as perfConstants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { enableBackground } from '../../app/daemons/optin.js';
import { runUserDaemon } from '../../app/daemons/user-daemon.js';
import { benchContext } from '../support/context.js';
import { collectGarbage } from '../support/gc.js';
import { delta, snapshot } from '../../dev/counting-store.js';
import { measuredOn, type MeasuredOn } from '../support/environment.js';
import type { Goal, ScenarioResult } from '../support/report.js';
import { authorityTokenRequests, quietLogger, type BenchStack, type BenchStoreKind } from '../support/stack.js';
import { seedClonedUsers } from '../support/seed.js';
import { round } from '../support/stats.js';

const PAGE_SIZE = 100;
const MiB = 2 ** 20;
/** The downstream call's own timeout (lib/downstream.ts) plus a second: its pending timers are gone by then. */
const SETTLE_MS = 11_000;

export interface DaemonFigures {
  readonly on: MeasuredOn;
  readonly users: number;
  readonly concurrency: number;
  readonly seed: { readonly seconds: number; readonly documentBytes: number; readonly storeWrites: number };
  readonly run: {
    readonly seconds: number;
    readonly usersPerSecond: number;
    readonly succeeded: number;
    readonly failed: number;
    readonly paused: number;
    readonly peakConcurrency: number;
    readonly storeReads: number;
    readonly storeWrites: number;
    readonly storeDeletes: number;
    readonly storeListPages: number;
    readonly authorityRequests: number;
    readonly downstreamRequests: number;
  };
  readonly heapMiB: {
    /** After a forced full GC just before / just after the run: what stays alive. */
    readonly liveBefore?: number;
    readonly liveAfter?: number;
    /** The same, 11 s after the run, once the downstream calls' timeout timers have fired. */
    readonly liveSettled?: number;
    readonly before: number;
    readonly peak: number;
    readonly after: number;
    /** Largest heap right after a major GC during the run: the live set, garbage excluded. */
    readonly peakAfterMajorGc?: number;
    readonly majorCollections: number;
  };
  readonly warnings: number;
}

export async function measureDaemon(stack: BenchStack, kind: BenchStoreKind, users: number): Promise<DaemonFigures> {
  const store = stack.newStore(kind);
  const app = stack.newApp(store, { USER_DAEMON_MAX_USERS: String(users) });
  const { runtime } = app;
  const logger = quietLogger();

  const storeAtSeed = snapshot(store.counts);
  const seeded = await seedClonedUsers(stack, app, users, logger, async (partitionKey) => {
    await enableBackground(runtime, partitionKey);
  });
  const seedSeconds = seeded.seconds;
  const documentBytes = seeded.documentBytes;
  const seedWrites = store.counts.write - storeAtSeed.write;

  const context = benchContext('userDaemon', logger);
  const heap = () => process.memoryUsage().heapUsed / MiB;
  const forced = collectGarbage();
  const liveBefore = forced ? heap() : undefined;
  const before = heap();
  let peak = before;
  // What stays alive: the heap right after each major (mark-compact) collection during the run.
  let majorCollections = 0;
  let peakAfterMajorGc: number | undefined;
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const { detail } = entry as PerformanceEntry & { detail?: { kind?: number } };
      if (detail?.kind !== perfConstants.NODE_PERFORMANCE_GC_MAJOR) continue;
      majorCollections++;
      peakAfterMajorGc = Math.max(peakAfterMajorGc ?? 0, heap());
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const sampler = setInterval(() => (peak = Math.max(peak, heap())), 20);
  const storeBefore = snapshot(store.counts);
  const authorityBefore = authorityTokenRequests(stack, app.clientId);
  const downstreamBefore = stack.downstream.requests();
  const started = performance.now();
  const result = await runUserDaemon(undefined, context, runtime, {
    concurrency: runtime.settings.daemons.userConcurrency,
    budget: users,
    pageSize: PAGE_SIZE,
  });
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  gcObserver.disconnect();
  peak = Math.max(peak, heap());
  const after = heap();
  const liveAfter = forced && collectGarbage() ? heap() : undefined;
  let liveSettled: number | undefined;
  if (forced) {
    await sleep(SETTLE_MS);
    if (collectGarbage()) liveSettled = heap();
  }
  const ops = delta(store.counts, storeBefore);
  return {
    on: measuredOn(kind),
    users,
    concurrency: runtime.settings.daemons.userConcurrency,
    seed: { seconds: round(seedSeconds, 2), documentBytes, storeWrites: seedWrites },
    run: {
      seconds: round(seconds, 2),
      usersPerSecond: round(result.processed / seconds, 0),
      succeeded: result.succeeded,
      failed: result.failed,
      paused: result.paused,
      peakConcurrency: result.peakConcurrency,
      storeReads: ops.read,
      storeWrites: ops.write,
      storeDeletes: ops.delete,
      storeListPages: ops.list,
      authorityRequests: authorityTokenRequests(stack, app.clientId) - authorityBefore,
      downstreamRequests: stack.downstream.requests() - downstreamBefore,
    },
    heapMiB: {
      ...(liveBefore === undefined ? {} : { liveBefore: round(liveBefore, 1) }),
      ...(liveAfter === undefined ? {} : { liveAfter: round(liveAfter, 1) }),
      ...(liveSettled === undefined ? {} : { liveSettled: round(liveSettled, 1) }),
      before: round(before, 1),
      peak: round(peak, 1),
      after: round(after, 1),
      ...(peakAfterMajorGc === undefined ? {} : { peakAfterMajorGc: round(peakAfterMajorGc, 1) }),
      majorCollections,
    },
    warnings: logger.problems.count,
  };
}

export function daemonScenario(figures: readonly DaemonFigures[], notes: readonly string[]): ScenarioResult {
  const goals: Goal[] = figures.map((f) => ({
    goal: `user daemon over ${f.users.toLocaleString('en-US')} users, ${f.on.store}: round trips per user`,
    target: '1 read / 0 writes / 0 authority, all succeed',
    measured: `${round(f.run.storeReads / f.users, 3)} / ${round(f.run.storeWrites / f.users, 3)} / ${f.run.authorityRequests}; ${f.run.succeeded} succeeded`,
    met:
      f.run.storeReads === f.users &&
      f.run.storeWrites === 0 &&
      f.run.authorityRequests === 0 &&
      f.run.succeeded === f.users,
  }));
  return {
    id: 'daemon',
    title: '5b. User daemon: one run over many opted-in users (runUserDaemon, bounded concurrency, pages of 100)',
    columns: [
      'store',
      'users',
      'seed s',
      'run s',
      'users/s',
      'succeeded',
      'warnings',
      'reads / writes / list pages',
      'authority',
      'downstream',
      'live heap MiB before → after → 11 s later (full GC)',
      'peak heap MiB',
      'max live during run (after major GCs)',
    ],
    rows: figures.map((f) => [
      f.on.store,
      f.users,
      f.seed.seconds,
      f.run.seconds,
      f.run.usersPerSecond,
      f.run.succeeded,
      f.warnings,
      `${f.run.storeReads} / ${f.run.storeWrites} / ${f.run.storeListPages}`,
      f.run.authorityRequests,
      f.run.downstreamRequests,
      f.heapMiB.liveBefore === undefined
        ? 'no forced GC'
        : `${f.heapMiB.liveBefore} → ${f.heapMiB.liveAfter ?? '?'} → ${f.heapMiB.liveSettled ?? '?'}`,
      f.heapMiB.peak,
      f.heapMiB.peakAfterMajorGc === undefined
        ? 'no major GC'
        : `${f.heapMiB.peakAfterMajorGc} (${f.heapMiB.majorCollections} major GCs)`,
    ]),
    figures,
    goals,
    notes: [
      'Seeding: one real sign-in, then its cache cloned into every partition with the oid rewritten (bench/support/seed.ts); seeding time is the direct writes of the documents and opt-in records, not part of the run.',
      `Concurrency = USER_DAEMON_CONCURRENCY default (${figures[0]?.concurrency ?? 8}); each user: silent token from their partition, then the downstream API over HTTP.`,
      'Heap = process.memoryUsage().heapUsed of the whole process (emulators, authority and downstream API included). "live": right after a forced full GC (bench/support/gc.ts) before the run, right after it, and 11 s later, when the AbortSignal.timeout(10 s) timers of the downstream calls have fired (a heap snapshot diff shows those timers and JIT code as the growth right after the run). "peak" is sampled every 20 ms, garbage included; "max live during run" right after each major GC V8 ran by itself. With the memory store the live heap holds the 10,000 seeded documents throughout.',
      ...notes,
    ],
  };
}
