/**
 * Scenario 2 (and 7, the same with the L1 tier on): a warm, silent invocation through the real handler path, per
 * store — the token part of the web API (on-behalf-of from the caller's partition with a fresh client per
 * invocation, as `getMe` does), the full `getMe` handler (bearer validation + OBO + downstream HTTP call), and the
 * app daemon's client credentials — against scenario 1's raw read of the same store.
 *
 * The baseline read and every path are measured in interleaved rounds on the same store client, so drift over the
 * run (JIT, GC, a noisy neighbour on a 2-core machine) hits them alike and the ratio compares like with like.
 */
import { getMe } from '../../app/webapi/me.js';
import { benchContext, bearerRequest } from '../support/context.js';
import { delta, snapshot } from '../../dev/counting-store.js';
import { measuredOn, type MeasuredOn } from '../support/environment.js';
import type { Goal, ScenarioResult } from '../support/report.js';
import {
  authorityTokenRequests,
  quietLogger,
  type BenchApp,
  type BenchStack,
  type BenchStoreKind,
  type QuietLogger,
} from '../support/stack.js';
import { percentile, round, summarize, type Summary } from '../support/stats.js';
import { newCaller } from '../support/users.js';
import { BASELINE_DOCUMENT_BYTES, prepareBaselineRead, type BaselineFigures } from './baseline.js';

export const ROUNDS = 5;
const BLOCK = 100;
const HANDLER_BLOCK = 40;
const WARM_UP = 50;
export const RATIO_GOAL = 1.25;

export interface PathFigures extends Summary {
  /** Median of this path ÷ median of the baseline read of the same store. */
  readonly ratioToBaseline: number;
  /** Median time waiting for the store (the plugin's own `storeMs`). */
  readonly medianStoreMs: number | undefined;
  /** Median of (invocation − store wait): MSAL, decryption, client construction, JSON. */
  readonly medianOtherMs: number | undefined;
  readonly perInvocation: {
    readonly storeReads: number;
    readonly storeWrites: number;
    readonly authorityRequests: number;
    /** Documents served by the L1 tier, per invocation; undefined where the path does not report it. */
    readonly l1Hits: number | undefined;
  };
  /** Share of invocations answered from the cache (1 = all); undefined where the path does not report it. */
  readonly fromCache: number | undefined;
  /** Invocations that failed (non-200 for the handler). */
  readonly failures: number;
}

export interface WarmFigures {
  readonly on: MeasuredOn;
  readonly l1: string;
  readonly baselineMedianMs: number;
  readonly obo: PathFigures;
  readonly getMe: PathFigures;
  readonly appDaemon: PathFigures;
  /** Stored (sealed) size of the partitions the paths read. */
  readonly documentBytes: { readonly user: number; readonly app: number };
  readonly warnings: number;
}

interface Outcome {
  readonly ok: boolean;
  readonly fromCache?: boolean;
  readonly storeMs?: number;
  readonly l1Hits?: number;
}

/** Collects one path's samples and counts over the blocks it runs in. */
class Recorder {
  readonly samples: number[] = [];
  readonly other: number[] = [];
  readonly storeMs: number[] = [];
  private ops = { read: 0, write: 0 };
  private authority = 0;
  private fromCache = 0;
  private cacheKnown = 0;
  private failures = 0;
  private l1Hits = 0;
  private l1Known = 0;

  constructor(
    private readonly stack: BenchStack,
    private readonly app: BenchApp | undefined,
    readonly invoke: () => Promise<Outcome>,
  ) {}

  async warmUp(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await this.invoke();
  }

  async block(count: number): Promise<void> {
    const storeBefore = this.app && snapshot(this.app.store.counts);
    const authorityBefore = this.app ? authorityTokenRequests(this.stack, this.app.clientId) : 0;
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const outcome = await this.invoke();
      const elapsed = performance.now() - started;
      this.samples.push(elapsed);
      if (outcome.storeMs !== undefined) {
        this.storeMs.push(outcome.storeMs);
        this.other.push(elapsed - outcome.storeMs);
      }
      if (!outcome.ok) this.failures++;
      if (outcome.fromCache !== undefined) {
        this.cacheKnown++;
        if (outcome.fromCache) this.fromCache++;
      }
      if (outcome.l1Hits !== undefined) {
        this.l1Known++;
        this.l1Hits += outcome.l1Hits;
      }
    }
    if (this.app && storeBefore) {
      const ops = delta(this.app.store.counts, storeBefore);
      this.ops.read += ops.read;
      this.ops.write += ops.write;
      this.authority += authorityTokenRequests(this.stack, this.app.clientId) - authorityBefore;
    }
  }

  summary(): Summary {
    return summarize(this.samples);
  }

  figures(baselineMedianMs: number): PathFigures {
    const summary = this.summary();
    const n = this.samples.length;
    const median = (values: number[]) =>
      values.length
        ? round(
            percentile(
              [...values].sort((a, b) => a - b),
              50,
            ),
            3,
          )
        : undefined;
    return {
      ...summary,
      ratioToBaseline: round(summary.medianMs / baselineMedianMs, 2),
      medianStoreMs: median(this.storeMs),
      medianOtherMs: median(this.other),
      perInvocation: {
        storeReads: round(this.ops.read / n, 3),
        storeWrites: round(this.ops.write / n, 3),
        authorityRequests: round(this.authority / n, 3),
        l1Hits: this.l1Known ? round(this.l1Hits / this.l1Known, 3) : undefined,
      },
      fromCache: this.cacheKnown ? round(this.fromCache / this.cacheKnown, 3) : undefined,
      failures: this.failures,
    };
  }
}

interface AppPaths {
  readonly app: BenchApp;
  readonly l1: string;
  readonly logger: QuietLogger;
  readonly obo: Recorder;
  readonly appDaemon: Recorder;
  readonly getMe: Recorder;
  readonly documentBytes: { user: number; app: number };
}

async function preparePaths(stack: BenchStack, app: BenchApp, l1Seconds: number): Promise<AppPaths> {
  const { runtime } = app;
  const logger = quietLogger();
  const caller = await newCaller(stack, app);
  const scopes = runtime.settings.web.downstreamScopes;
  const appScopes = runtime.settings.daemons.appScopes;
  const obo = () =>
    runtime.tokens.acquireTokenOnBehalfOf({ caller: caller.claims, assertion: caller.assertion, scopes }, { logger });
  const appToken = () => runtime.tokens.acquireTokenByClientCredential({ scopes: appScopes }, { logger });
  // First calls: to the authority, written to the partitions (not timed).
  const first = await obo();
  const firstApp = await appToken();
  if (first.result.fromCache || firstApp.result.fromCache) throw new Error('first calls unexpectedly from cache');
  const documentBytes = {
    user: (await app.store.inner.read(first.partitionKey))?.data.byteLength ?? 0,
    app: (await app.store.inner.read(firstApp.partitionKey))?.data.byteLength ?? 0,
  };
  const url = 'http://127.0.0.1:7071/api/me';
  return {
    app,
    l1: l1Seconds > 0 ? `on (max age ${l1Seconds} s)` : 'off',
    logger,
    documentBytes,
    obo: new Recorder(stack, app, async () => {
      const { result, stats } = await obo();
      return { ok: true, fromCache: result.fromCache, storeMs: stats.storeMs, l1Hits: stats.l1Hits };
    }),
    appDaemon: new Recorder(stack, app, async () => {
      const { result, stats } = await appToken();
      return { ok: true, fromCache: result.fromCache, storeMs: stats.storeMs, l1Hits: stats.l1Hits };
    }),
    getMe: new Recorder(stack, app, async () => {
      let storeMs: number | undefined;
      let fromCache: boolean | undefined;
      const context = benchContext('me', logger, (line) => {
        storeMs = line.storeMs;
        fromCache = line.fromCache;
      });
      const response = await getMe(bearerRequest(url, caller.assertion), context, runtime);
      return {
        ok: response.status === 200,
        ...(storeMs === undefined ? {} : { storeMs }),
        ...(fromCache === undefined ? {} : { fromCache }),
      };
    }),
  };
}

export interface WarmRun {
  readonly baseline: BaselineFigures;
  readonly off: WarmFigures;
  /** With the L1 tier on; undefined when it was not measured. */
  readonly on: WarmFigures | undefined;
}

/** Scenarios 1, 2 and (with `l1Seconds`) 7 for one store, in interleaved rounds. */
export async function measureWarmRounds(
  stack: BenchStack,
  kind: BenchStoreKind,
  options: { readonly l1Seconds?: number } = {},
): Promise<WarmRun> {
  const store = stack.newStore(kind);
  const baselineRead = new Recorder(stack, undefined, async () => {
    await read();
    return { ok: true };
  });
  const read = await prepareBaselineRead(store.inner);
  const variants = [await preparePaths(stack, stack.newApp(store, { CACHE_L1_MAX_AGE_SECONDS: '0' }), 0)];
  const l1Seconds = options.l1Seconds ?? 0;
  if (l1Seconds > 0) {
    const app = stack.newApp(store, { CACHE_L1_MAX_AGE_SECONDS: String(l1Seconds) });
    variants.push(await preparePaths(stack, app, l1Seconds));
  }
  await baselineRead.warmUp(WARM_UP);
  for (const v of variants) {
    await v.obo.warmUp(WARM_UP);
    await v.appDaemon.warmUp(WARM_UP);
    await v.getMe.warmUp(WARM_UP / 5);
  }
  for (let r = 0; r < ROUNDS; r++) {
    await baselineRead.block(BLOCK);
    for (const v of variants) {
      await v.obo.block(BLOCK);
      await v.appDaemon.block(BLOCK);
      await v.getMe.block(HANDLER_BLOCK);
    }
  }
  const baseline: BaselineFigures = {
    on: measuredOn(kind),
    documentBytes: BASELINE_DOCUMENT_BYTES,
    ...baselineRead.summary(),
  };
  const figures = variants.map((v): WarmFigures => ({
    on: measuredOn(kind),
    l1: v.l1,
    baselineMedianMs: baseline.medianMs,
    obo: v.obo.figures(baseline.medianMs),
    getMe: v.getMe.figures(baseline.medianMs),
    appDaemon: v.appDaemon.figures(baseline.medianMs),
    documentBytes: v.documentBytes,
    warnings: v.logger.problems.count,
  }));
  return { baseline, off: figures[0]!, on: figures[1] };
}

type PathName = 'obo' | 'getMe' | 'appDaemon';
const PATH_LABELS: Record<PathName, string> = {
  obo: 'web API OBO, token part',
  getMe: 'full getMe handler',
  appDaemon: 'app daemon (client credentials)',
};

export function warmRows(figures: readonly WarmFigures[], withL1: boolean) {
  return figures.flatMap((f) =>
    (['obo', 'appDaemon', 'getMe'] as const).map((path) => {
      const p = f[path];
      const per = p.perInvocation;
      return [
        f.on.store,
        ...(withL1 ? [f.l1] : []),
        PATH_LABELS[path],
        p.medianMs,
        p.p95Ms,
        p.ratioToBaseline,
        p.medianStoreMs,
        p.medianOtherMs,
        `${per.storeReads} / ${per.storeWrites} / ${per.authorityRequests}`,
        ...(withL1 ? [per.l1Hits] : []),
        p.failures,
      ];
    }),
  );
}

export function warmColumns(withL1: boolean): string[] {
  return [
    'store',
    ...(withL1 ? ['L1'] : []),
    'path',
    'median ms',
    'p95 ms',
    '× baseline',
    'store wait ms (median)',
    'rest ms (median)',
    'reads / writes / authority per inv.',
    ...(withL1 ? ['L1 hits per inv.'] : []),
    'failures',
  ];
}

export function warmGoals(figures: readonly WarmFigures[]): Goal[] {
  return figures.flatMap((f) =>
    (['obo', 'appDaemon'] as const).flatMap((path): Goal[] => {
      const p = f[path];
      const per = p.perInvocation;
      return [
        {
          goal: `warm ${PATH_LABELS[path]} ÷ baseline read, ${f.on.store}`,
          target: `≤ ${RATIO_GOAL}`,
          measured: `${p.ratioToBaseline} (${p.medianMs} ms vs ${f.baselineMedianMs} ms)`,
          met: p.ratioToBaseline <= RATIO_GOAL,
        },
        {
          goal: `round trips per warm ${PATH_LABELS[path]}, ${f.on.store}`,
          target: '1 read / 0 writes / 0 authority',
          measured: `${per.storeReads} / ${per.storeWrites} / ${per.authorityRequests}`,
          met: per.storeReads === 1 && per.storeWrites === 0 && per.authorityRequests === 0,
        },
      ];
    }),
  );
}

export function warmScenario(figures: readonly WarmFigures[]): ScenarioResult {
  return {
    id: 'warm',
    title: '2. Warm silent invocation through the handler path (new client + plugin per invocation, L1 off)',
    columns: warmColumns(false),
    rows: warmRows(figures, false),
    figures: Object.fromEntries(figures.map((f) => [f.on.store, f])),
    goals: warmGoals(figures),
    notes: [
      `${ROUNDS} rounds, each: ${BLOCK} baseline reads, then ${BLOCK} invocations of each token path and ${HANDLER_BLOCK} of the full handler (after ${WARM_UP} warm-up ones); sequential, same store client as the baseline.`,
      '"× baseline" = median of the path ÷ median raw read of the same store (scenario 1); goal ≤ 1.25 for the token paths. "store wait" is the plugin\'s own storeMs; "rest" = invocation − store wait (MSAL, decryption, client construction).',
      'The full getMe handler also validates the bearer token (RS256, JWKS cached) and calls the downstream API over HTTP: shown for scale, not held to the ratio goal.',
      `Stored partitions: ${figures.map((f) => `${f.on.store} user ${f.documentBytes.user} B, app ${f.documentBytes.app} B`).join('; ')} (the baseline document is ${BASELINE_DOCUMENT_BYTES} B).`,
    ],
  };
}
