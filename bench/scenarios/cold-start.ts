/**
 * Scenario 6: cold start. A fresh Node process per run imports every compiled function (`dist/functions/*.js`, what
 * package.json `main` globs), then makes an invocation's first store read from the app settings. Reports the times
 * and which store SDKs were loaded — only the configured store's may be, and none by the import alone.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startRedisServer, type RedisServer } from '../../dev/emulators.js';
import { parseSettings } from '../../app/settings.js';
import { createStores } from '../../app/stores.js';
import { measuredOn, ROOT, type MeasuredOn, type StoreKind } from '../support/environment.js';
import type { Goal, ScenarioResult } from '../support/report.js';
import { suffix, type BenchStack } from '../support/stack.js';
import { median, round } from '../support/stats.js';

const run = promisify(execFile);
const TIMED_RUNS = 5;
const PROBE_KEY = 'cold-start-probe';
const CHILD = join(ROOT, 'dist/bench/cold-start-child.js');
const FUNCTIONS = join(ROOT, 'dist/functions');

type Sdks = Record<'cosmos' | 'table' | 'redis' | 'identity', boolean>;

interface ChildReport {
  readonly store: string;
  readonly functions: number;
  readonly bootMs: number;
  readonly importMs: number;
  readonly firstReadMs: number;
  readonly secondReadMs: number;
  readonly totalMs: number;
  readonly probeFound: boolean;
  readonly afterImport?: Sdks;
  readonly afterFirstRead?: Sdks;
  readonly modulesAfterImport?: number;
  readonly modules?: number;
}

export interface ColdStartFigures {
  readonly on: MeasuredOn;
  readonly runs: number;
  readonly functions: number;
  readonly medianMs: {
    readonly boot: number;
    readonly import: number;
    readonly firstRead: number;
    readonly total: number;
  };
  readonly secondReadMs: number;
  readonly probeFound: boolean;
  readonly sdksAfterImport: Sdks;
  readonly sdksAfterFirstRead: Sdks;
  readonly onlyConfiguredSdk: boolean;
  readonly modulesResolved: { readonly afterImport: number; readonly afterFirstRead: number };
}

async function child(env: Record<string, string>, trace: boolean): Promise<ChildReport> {
  const { stdout } = await run(process.execPath, [CHILD, FUNCTIONS, ...(trace ? ['--trace'] : [])], {
    env: { ...process.env, ...env, BENCH_PROBE_KEY: PROBE_KEY },
    cwd: ROOT,
    timeout: 60_000,
  });
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as ChildReport;
}

const medianRounded = (values: number[]) => round(median(values), 1);

async function measure(stack: BenchStack, kind: StoreKind, redis: RedisServer | undefined): Promise<ColdStartFigures> {
  const specific: Record<StoreKind, Record<string, string>> = {
    memory: {},
    table: { TABLE_NAME: `cold${suffix()}` },
    cosmos: {
      COSMOS_ENDPOINT: stack.cosmos.endpoint,
      COSMOS_KEY: stack.cosmos.key,
      COSMOS_DATABASE: 'bench',
      COSMOS_CONTAINER: `cold${suffix()}`,
    },
    redis: { REDIS_URL: redis?.url ?? '', REDIS_KEY_PREFIX: `cold${suffix()}:` },
  };
  // As in production: the table/container exists (created here once) and the app does not create it.
  const env = stack.settings({ CACHE_STORE: kind, ...specific[kind], CACHE_CREATE_IF_MISSING: 'false' });
  if (kind !== 'memory') {
    const setup = createStores(parseSettings({ ...env, CACHE_CREATE_IF_MISSING: 'true' }).cache);
    await setup.tokens.write(PROBE_KEY, Buffer.from('probe'));
    await Promise.all([setup.tokens.close?.(), setup.records.close?.()]);
  }
  const traced = await child(env, true);
  const timed: ChildReport[] = [];
  for (let i = 0; i < TIMED_RUNS; i++) timed.push(await child(env, false));
  const sdksAfterImport = traced.afterImport!;
  const sdksAfterFirstRead = traced.afterFirstRead!;
  const configuredSdk = kind === 'memory' ? undefined : kind;
  const onlyConfiguredSdk =
    !Object.values(sdksAfterImport).some(Boolean) &&
    (['cosmos', 'table', 'redis', 'identity'] as const).every(
      (sdk) => sdksAfterFirstRead[sdk] === (sdk === configuredSdk),
    );
  return {
    on: measuredOn(kind),
    runs: TIMED_RUNS,
    functions: traced.functions,
    medianMs: {
      boot: medianRounded(timed.map((r) => r.bootMs)),
      import: medianRounded(timed.map((r) => r.importMs)),
      firstRead: medianRounded(timed.map((r) => r.firstReadMs)),
      total: medianRounded(timed.map((r) => r.totalMs)),
    },
    secondReadMs: medianRounded(timed.map((r) => r.secondReadMs)),
    probeFound: traced.probeFound,
    sdksAfterImport,
    sdksAfterFirstRead,
    onlyConfiguredSdk,
    modulesResolved: { afterImport: traced.modulesAfterImport ?? 0, afterFirstRead: traced.modules ?? 0 },
  };
}

const list = (sdks: Sdks) =>
  Object.entries(sdks)
    .filter(([, loaded]) => loaded)
    .map(([name]) => name)
    .join(', ') || 'none';

export async function coldStartScenario(stack: BenchStack): Promise<ScenarioResult> {
  const notes: string[] = [];
  let redis: RedisServer | undefined;
  try {
    redis = await startRedisServer();
  } catch (error) {
    notes.push(`Redis skipped: ${error instanceof Error ? error.message : String(error)}`);
  }
  const figures: ColdStartFigures[] = [];
  try {
    for (const kind of ['memory', 'table', 'cosmos', ...(redis ? ['redis' as const] : [])] as const) {
      figures.push(await measure(stack, kind, redis));
    }
  } finally {
    await redis?.close();
  }
  const goals: Goal[] = figures.map((f) => ({
    goal: `cold start loads only the configured store's SDK, ${f.on.store}`,
    target: `import: none; after first read: ${f.on.store === 'memory' ? 'none' : f.on.store}`,
    measured: `import: ${list(f.sdksAfterImport)}; after first read: ${list(f.sdksAfterFirstRead)}`,
    met: f.onlyConfiguredSdk,
  }));
  return {
    id: 'coldStart',
    title: `6. Cold start: a fresh process imports dist/functions/*.js, then an invocation's first store read`,
    columns: [
      'CACHE_STORE',
      'node boot ms',
      'import functions ms',
      'first store read ms',
      'second read ms',
      'SDKs after import',
      'SDKs after first read',
      'only configured SDK?',
    ],
    rows: figures.map((f) => [
      f.on.store,
      f.medianMs.boot,
      f.medianMs.import,
      f.medianMs.firstRead,
      f.secondReadMs,
      list(f.sdksAfterImport),
      list(f.sdksAfterFirstRead),
      f.onlyConfiguredSdk,
    ]),
    figures: Object.fromEntries(figures.map((f) => [f.on.store, f])),
    goals,
    notes: [
      `Medians of ${TIMED_RUNS} fresh processes per store (plus one traced run for the SDK list); each imports all ${figures[0]?.functions ?? 0} function files. Outside the Functions host @azure/functions is in test mode and registers nothing, so the host's own start-up (and its gRPC channel) is not included.`,
      'First store read = runtime from the app settings, the store SDK imported lazily, connection set up, one point read. The SDK list comes from a module.registerHooks resolve hook that records every resolved module URL.',
      ...notes,
    ],
  };
}
