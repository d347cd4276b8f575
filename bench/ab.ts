/**
 * This build's warm path against another build's, in one process, on one store server: `npm run bench:ab --
 * --base=<a built clone of this repository> [--store=redis|table|cosmos|memory] [--flow=obo|app] [--rounds=6]
 * [--setting=NAME=value ...]`; each `--setting` is an app setting both builds run with (e.g. `CACHE_WARM_TIER_MIB=0`).
 *
 * Each build gets its own app runtime over a store made by its own library, against the same emulator; one caller,
 * the same incoming token. Every round runs 30 sets of three 20-call blocks — the raw read (this build's store),
 * the other build, this build — in alternating order, and prints each path's median and its ratio to the raw read;
 * the last line gives the medians over all rounds. Each path first warms up as in `npm run bench`
 * (bench/support/warm-up.ts). It measures a change of a few microseconds that the shuffled rounds of `npm run bench`
 * cannot show through their noise (a warm path here does not follow msal-node-heavy paths, so its figures are lower).
 * A script, not a test: it asserts nothing.
 *
 * The other build must have been built (`npm ci && npm run build` in it) from a version of this repository whose
 * `dist/` has the same module layout and app settings.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AppRuntime } from '../app/runtime.js';
import type * as Library from '../lib/index.js';
import { prepareBaselineRead } from './scenarios/baseline.js';
import { quietLogger, startBenchStack, type BenchStoreKind } from './support/stack.js';
import { median } from './support/stats.js';
import { newCaller } from './support/users.js';
import { STEADY_STATE, warmUp } from './support/warm-up.js';

interface OtherBuild {
  readonly createAppRuntime: typeof import('../app/runtime.js').createAppRuntime;
  readonly parseSettings: typeof import('../app/settings.js').parseSettings;
  readonly library: typeof Library;
}

const args = process.argv.slice(2);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

/** The `--setting=NAME=value` arguments, as app settings. */
function settingsOf(argv: readonly string[]): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const arg of argv.filter((a) => a.startsWith('--setting='))) {
    const [name, ...value] = arg.slice('--setting='.length).split('=');
    if (!name || value.length === 0) throw new Error(`--setting needs NAME=value, got "${arg}"`);
    settings[name] = value.join('=');
  }
  return settings;
}

async function loadOtherBuild(root: string): Promise<OtherBuild> {
  // Typed as this build's modules: the other build is required to have the same layout.
  const load = <T>(path: string) => import(pathToFileURL(resolve(root, 'dist', path)).href) as Promise<T>;
  const [runtime, settings, library] = await Promise.all([
    load<typeof import('../app/runtime.js')>('app/runtime.js'),
    load<typeof import('../app/settings.js')>('app/settings.js'),
    load<typeof Library>('lib/index.js'),
  ]);
  return {
    createAppRuntime: runtime.createAppRuntime,
    parseSettings: settings.parseSettings,
    library,
  };
}

const BLOCK = 20;
const SETS = 30;

async function main(): Promise<void> {
  const base = option('base');
  if (!base) throw new Error('--base=<a built clone of this repository> is required');
  const kind = (option('store') ?? 'redis') as BenchStoreKind;
  const flow = option('flow') ?? 'obo';
  if (flow !== 'obo' && flow !== 'app') throw new Error('--flow must be obo or app');
  const rounds = Number(option('rounds') ?? 6);
  const other = await loadOtherBuild(base);
  const stack = await startBenchStack();
  try {
    const store = stack.newStore(kind);
    const app = stack.newApp(store, settingsOf(args));
    const otherTokens = other.createAppRuntime(other.parseSettings(app.env), {
      stores: { tokens: stack.newStoreOf(other.library, kind), records: stack.newStoreOf(other.library, kind) },
      logger: quietLogger(),
    }).tokens;
    const logger = quietLogger();
    const caller = await newCaller(stack, app);
    const scopes = ['https://graph.microsoft.com/.default'];
    const call = (tokens: AppRuntime['tokens']) =>
      flow === 'obo'
        ? () =>
            tokens.acquireTokenOnBehalfOf({ caller: caller.claims, assertion: caller.assertion, scopes }, { logger })
        : () => tokens.acquireTokenByClientCredential({ scopes }, { logger });
    const paths: Record<string, () => Promise<unknown>> = {
      read: await prepareBaselineRead(store.inner),
      other: call(otherTokens),
      this: call(app.runtime.tokens),
    };
    const all: Record<string, number[]> = { read: [], other: [], this: [] };
    const block = async (name: string, count: number, into: number[]) => {
      for (let i = 0; i < count; i++) {
        const started = performance.now();
        await paths[name]!();
        into.push(performance.now() - started);
      }
    };
    await warmUp(Object.values(paths), STEADY_STATE);
    const line = (label: string, samples: Record<string, number[]>) => {
      const µs = (name: string) => median(samples[name]!) * 1000;
      const [read, otherBuild, thisBuild] = [µs('read'), µs('other'), µs('this')];
      console.log(
        `${label}: read ${read.toFixed(1)} µs, other build ${otherBuild.toFixed(1)} µs (${(otherBuild / read).toFixed(3)}×, +${(otherBuild - read).toFixed(1)}), this build ${thisBuild.toFixed(1)} µs (${(thisBuild / read).toFixed(3)}×, +${(thisBuild - read).toFixed(1)})`,
      );
    };
    for (let round = 1; round <= rounds; round++) {
      const samples: Record<string, number[]> = { read: [], other: [], this: [] };
      for (let set = 0; set < SETS; set++) {
        for (const name of set % 2 ? ['read', 'other', 'this'] : ['this', 'other', 'read']) {
          await block(name, BLOCK, samples[name]!);
        }
      }
      for (const name of Object.keys(all)) all[name]!.push(...samples[name]!);
      line(`round ${round}`, samples);
    }
    line(`all ${rounds} rounds, ${kind}, ${flow}`, all);
    await otherTokens.close();
  } finally {
    await stack.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
