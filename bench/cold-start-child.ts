/**
 * Child process of the cold-start scenario (bench/scenarios/cold-start.ts): a fresh Node process that imports the
 * compiled function app the way the Functions host does, then makes the first store call of an invocation.
 * `node dist/bench/cold-start-child.js <functions folder> [--trace]` prints one JSON line: timings, and with
 * `--trace` which store SDKs were loaded (a synchronous module resolve hook records every resolved URL).
 */
import { readdirSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const bootMs = performance.now();
const folder = process.argv[2];
const trace = process.argv.includes('--trace');
if (!folder) throw new Error('usage: cold-start-child.js <functions folder> [--trace]');

const resolved = new Set<string>();
if (trace) {
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const result = nextResolve(specifier, context);
      resolved.add(result.url);
      return result;
    },
  });
}

const SDKS = {
  cosmos: '/node_modules/@azure/cosmos/',
  table: '/node_modules/@azure/data-tables/',
  redis: /\/node_modules\/(redis|@redis\/[^/]+)\//,
  identity: '/node_modules/@azure/identity/',
} as const;

function loadedSdks(): Record<keyof typeof SDKS, boolean> | undefined {
  if (!trace) return undefined;
  const urls = [...resolved];
  const has = (pattern: string | RegExp) =>
    urls.some((url) => (typeof pattern === 'string' ? url.includes(pattern) : pattern.test(url)));
  return {
    cosmos: has(SDKS.cosmos),
    table: has(SDKS.table),
    redis: has(SDKS.redis),
    identity: has(SDKS.identity),
  };
}

const files = readdirSync(folder)
  .filter((f) => f.endsWith('.js'))
  .sort();
const importStarted = performance.now();
for (const file of files) await import(pathToFileURL(join(folder, file)).href);
const importMs = performance.now() - importStarted;
const afterImport = loadedSdks();
const modulesAfterImport = resolved.size;

// The first invocation: the runtime from the app settings, and the store's first read (SDK load + connection).
const { appRuntime } = await import('../app/host/registration.js');
const readStarted = performance.now();
const runtime = appRuntime();
const document = await runtime.tokenStore.read(process.env.BENCH_PROBE_KEY ?? 'cold-start-probe');
const firstReadMs = performance.now() - readStarted;
const secondStarted = performance.now();
await runtime.tokenStore.read(process.env.BENCH_PROBE_KEY ?? 'cold-start-probe');
const secondReadMs = performance.now() - secondStarted;
const afterFirstRead = loadedSdks();

process.stdout.write(
  `${JSON.stringify({
    store: runtime.tokenStore.kind,
    functions: files.length,
    bootMs,
    importMs,
    firstReadMs,
    secondReadMs,
    totalMs: performance.now(),
    probeFound: document !== undefined,
    afterImport,
    afterFirstRead,
    modulesAfterImport: trace ? modulesAfterImport : undefined,
    modules: trace ? resolved.size : undefined,
  })}\n`,
);
await runtime.close();
