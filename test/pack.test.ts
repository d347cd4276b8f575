/**
 * The library as another project gets it: `npm pack ./lib`, installed from the tarball into a fresh project with
 * only the peers it needs, the README's library example compiled there (strict, no skipLibCheck) and run against
 * Azurite and the local authority. The example's two Microsoft hosts are pointed at the local stand-ins; nothing
 * else of it is changed. A second project installs no store SDK at all: the library's types still compile there,
 * and a store whose SDK is missing says which package to install.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTableStore, generateKeySetting } from '../lib/index.js';
import { logLine, noteKeySetting } from './support/log-audit.js';
import { CLIENT_SECRET, authority, newId, stack } from './support/stack.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const PACKAGE = 'msal-functions-token-cache';

let scratch: string;
let tarball: string;

/** A consumer of the memory store, in a project without any store SDK: strict, no skipLibCheck. */
const WITHOUT_SDKS = `
import {
  PartitionedTokenCache,
  createCosmosStore,
  createMemoryStore,
  createRedisStore,
  createTableStore,
  generateKeySetting,
  hasErrorCode,
  parseKeyRing,
  type CacheStore,
} from '${PACKAGE}';

const memory: CacheStore = createMemoryStore();
const tokens = new PartitionedTokenCache({
  auth: { clientId: 'app', tenantId: '00000000-0000-0000-0000-000000000001', clientSecret: 'secret' },
  cache: { store: memory, keyRing: parseKeyRing(generateKeySetting('k1')) },
});
await memory.write('a.b', new Uint8Array([1]));
const stored = await memory.read('a.b');

const missing: Record<string, CacheStore> = {
  '@azure/data-tables': createTableStore({ connectionString: 'UseDevelopmentStorage=true' }),
  '@azure/cosmos': createCosmosStore({ endpoint: 'https://127.0.0.1:9/', key: 'a2V5' }),
  redis: createRedisStore({ url: 'redis://127.0.0.1:9' }),
};
const failures: { sdk: string; op: string; misconfigured: boolean; code: unknown; message: string }[] = [];
for (const [sdk, store] of Object.entries(missing)) {
  for (const [op, call] of [
    ['read', () => store.read('a.b')],
    ['list', () => store.list()],
  ] as const) {
    try {
      await call();
      failures.push({ sdk, op, misconfigured: false, code: 'none', message: '' });
    } catch (error) {
      const { code, message } = error as { code?: unknown; message: string };
      failures.push({ sdk, op, misconfigured: hasErrorCode(error, 'store_misconfigured'), code, message });
    }
  }
}
await tokens.close();
console.log(JSON.stringify({ memory: stored?.data.length, failures }));
`;

/** A Table store that signs in with Entra ID by default, where `@azure/identity` is not installed. */
const IDENTITY_MISSING = `
import { createTableStore, hasErrorCode } from '${PACKAGE}';
const store = createTableStore({ accountUrl: 'https://127.0.0.1:9/devstoreaccount1' });
const failure = await store.read('a.b').then(
  () => ({ code: 'none', message: '' }),
  (error) => ({ code: error.code, message: error.message, misconfigured: hasErrorCode(error, 'store_misconfigured') }),
);
console.log(JSON.stringify({ sdk: '@azure/identity', op: 'read', ...failure }));
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2023',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    skipLibCheck: false,
    types: ['node'],
    outDir: 'dist',
    rootDir: 'src',
  },
  include: ['src'],
};

/** A fresh project with these dependencies, installed. */
async function install(project: string, dependencies: Record<string, string>): Promise<void> {
  await run('mkdir', ['-p', join(project, 'src')]);
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'someone-elses-function-app', private: true, type: 'module', dependencies }),
  );
  await writeFile(join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
    cwd: project,
    maxBuffer: 16 * 1024 * 1024,
  });
}

/** Type-checks and compiles a project; fails with the compiler's diagnostics. */
async function tsc(project: string): Promise<void> {
  try {
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project]);
  } catch (error) {
    const { stdout = '' } = error as { stdout?: string };
    throw new Error(`tsc -p ${project} failed:\n${stdout}`, { cause: error });
  }
}

/** The TypeScript block that follows the README's `library-example` marker. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const marker = readme.indexOf('<!-- library-example');
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(marker));
  if (marker < 0 || !block) throw new Error('README.md has no library example after its library-example marker');
  return block[1]!;
}

const DRIVER = `
import functions from '@azure/functions';
import { format } from 'node:util';
import { me, nightly, noToken } from './dist/functions.js';
import { BearerError, StoreError, TokenCacheError } from '${PACKAGE}';
const lines = [];
const problems = [];
const context = (name) =>
  new functions.InvocationContext({
    functionName: name,
    logHandler: (level, ...args) => {
      lines.push(format(...args));
      if (level === 'warning' || level === 'error') problems.push(format(...args));
    },
  });
const request = () =>
  new functions.HttpRequest({
    method: 'GET',
    url: 'http://localhost/api/me',
    headers: { authorization: 'Bearer ' + process.env.CALLER_TOKEN },
  });
const timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: {} };
const statuses = [];
for (let i = 0; i < 2; i++) statuses.push((await me(request(), context('me'))).status);
statuses.push((await me(new functions.HttpRequest({ method: 'GET', url: 'http://localhost/api/me' }), context('me'))).status);
for (let i = 0; i < 2; i++) await nightly(timer, context('nightly'));
// What the example answers when no token came, for each kind of failure (errors as the library throws them).
const quiet = new functions.InvocationContext({ functionName: 'me', logHandler: () => {} });
const failures = {};
for (const code of ['account_not_cached', 'authority_unavailable', 'partition_unavailable', 'store_unavailable']) {
  const error = code === 'store_unavailable' ? new StoreError(code, 'down') : new TokenCacheError(code, 'no');
  const { status, headers } = noToken(error, quiet);
  failures[code] = { status, retryAfter: headers?.['retry-after'] };
}
for (const [status, error] of [[503, 'temporarily_unavailable'], [401, 'invalid_token']]) {
  const answer = noToken(new BearerError(status, error, 'no'), quiet);
  failures['bearer ' + status] = { status: answer.status, retryAfter: answer.headers?.['retry-after'] };
}
let deepImport = 'allowed';
try {
  await import('${PACKAGE}/dist/cache/plugin.js');
} catch (error) {
  deepImport = error.code;
}
const prefix = 'token-cache-telemetry ';
const telemetry = lines.filter((l) => l.startsWith(prefix)).map((l) => JSON.parse(l.slice(prefix.length)));
console.log(JSON.stringify({ statuses, failures, telemetry, deepImport, problems, lines }));
process.exit(0);
`;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'pack-'));
  const { stdout } = await run('npm', ['pack', './lib', '--pack-destination', scratch, '--json'], {
    cwd: root,
    maxBuffer: 16 * 1024 * 1024,
  });
  tarball = join(scratch, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
  const versions = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as Record<
    string,
    Record<string, string>
  >;
  const version = (name: string) => versions.dependencies?.[name] ?? versions.devDependencies?.[name] ?? 'latest';
  const project = join(scratch, 'app');
  const bare = join(scratch, 'bare');
  const peers = { [PACKAGE]: `file:${tarball}`, '@azure/msal-node': version('@azure/msal-node') };
  await Promise.all([
    install(project, {
      ...peers,
      '@azure/data-tables': version('@azure/data-tables'),
      '@azure/functions': version('@azure/functions'),
      '@types/node': version('@types/node'),
    }),
    install(bare, { ...peers, '@types/node': version('@types/node') }),
  ]);
  await writeFile(join(bare, 'src', 'consumer.ts'), WITHOUT_SDKS);
  const { url, ca } = stack().authority;
  const example = (await readmeExample())
    .replaceAll('https://login.microsoftonline.com', url)
    .replaceAll('https://graph.microsoft.com/v1.0/me', `${stack().downstream.url}/v1.0/me`);
  await writeFile(join(project, 'src', 'functions.ts'), example);
  await writeFile(join(project, 'ca.pem'), ca);
  // The example's table (the default name), created as the deployment creates it.
  const setup = createTableStore({ connectionString: stack().table.connectionString, createIfMissing: true });
  await setup.write(`setup.${newId()}`, Buffer.from('x'));
  await writeFile(join(project, 'run.mjs'), DRIVER);
  await writeFile(join(project, 'identity.mjs'), IDENTITY_MISSING);
}, 240_000);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('the packed library in a project that is not this one', () => {
  it('is named apart from the app of this repository (its package and lock file)', async () => {
    const nameIn = async (file: string) =>
      (JSON.parse(await readFile(join(root, file), 'utf8')) as { name: string }).name;
    expect(await nameIn('lib/package.json')).toBe(PACKAGE);
    const app = await nameIn('package.json');
    expect(app).not.toBe(PACKAGE);
    const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as {
      name: string;
      packages: Record<string, { name?: string }>;
    };
    expect([lock.name, lock.packages['']?.name]).toEqual([app, app]);
  });

  it('the tarball holds the compiled library, its types and README, and no sources or tests', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.trim().split('\n');
    expect(files).toContain('package/package.json');
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.d.ts');
    expect(files).toContain('package/README.md');
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => /test|\.map$/.test(f))).toEqual([]);
  });

  it('installs with its peers only (no Cosmos or Redis SDK), compiles the README example, and runs it', async () => {
    const project = join(scratch, 'app');
    expect(readdirSync(join(project, 'node_modules', '@azure'))).not.toContain('cosmos');
    expect(existsSync(join(project, 'node_modules', 'redis'))).toBe(false);
    await tsc(project);

    const clientId = newId();
    const tenantId = newId();
    const oid = newId();
    const callerToken = await authority.mint({
      oid,
      sub: oid,
      tid: tenantId,
      aud: `api://${clientId}`,
      scp: 'access_as_user',
    });
    const cacheKeys = generateKeySetting('x1');
    noteKeySetting('CACHE_KEYS', cacheKeys);
    const { stdout, stderr } = await run(process.execPath, ['run.mjs'], {
      cwd: project,
      env: {
        ...process.env,
        CLIENT_ID: clientId,
        TENANT_ID: tenantId,
        CLIENT_SECRET,
        TABLE_CONNECTION_STRING: stack().table.connectionString,
        CACHE_KEYS: cacheKeys,
        CALLER_TOKEN: callerToken,
        NODE_EXTRA_CA_CERTS: join(project, 'ca.pem'),
      },
    });
    const report = JSON.parse(stdout) as {
      statuses: number[];
      failures: Record<string, { status: number; retryAfter?: string }>;
      telemetry: { op: string; fromCache: boolean; reads: number; writes: number; outcome: string }[];
      deepImport: string;
      problems: string[];
      lines: string[];
    };
    // What the example logged goes to this file's log audit.
    for (const line of [...report.lines, ...stderr.split('\n')]) logLine('example:', line);
    expect(report.problems).toEqual([]);
    expect(report.statuses).toEqual([200, 200, 401]);
    // The user must come back: 401. The identity provider or the store is down: 503, retry later; never 401, which
    // makes a client throw its token away.
    expect(report.failures).toEqual({
      account_not_cached: { status: 401 },
      authority_unavailable: { status: 503, retryAfter: '5' },
      partition_unavailable: { status: 503, retryAfter: '5' },
      store_unavailable: { status: 503, retryAfter: '5' },
      'bearer 503': { status: 503, retryAfter: '5' },
      'bearer 401': { status: 401 },
    });
    const pick = (op: string) => report.telemetry.filter((t) => t.op === op);
    expect(pick('on_behalf_of')).toMatchObject([
      { fromCache: false, reads: 1, writes: 1, outcome: 'ok' },
      { fromCache: true, reads: 1, writes: 0, outcome: 'ok' },
    ]);
    expect(pick('client_credentials')).toMatchObject([
      { fromCache: false, reads: 1, writes: 1, outcome: 'ok' },
      { fromCache: true, reads: 1, writes: 0, outcome: 'ok' },
    ]);
    // Only the entry point is exported.
    expect(report.deepImport).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  }, 120_000);

  it('compiles against the types and runs the memory store with no store SDK installed; a store without its SDK says which to install', async () => {
    const bare = join(scratch, 'bare');
    const installed = readdirSync(join(bare, 'node_modules', '@azure'));
    expect(installed.filter((name) => ['cosmos', 'data-tables', 'identity'].includes(name))).toEqual([]);
    expect(existsSync(join(bare, 'node_modules', 'redis'))).toBe(false);
    await tsc(bare);

    const { stdout } = await run(process.execPath, ['dist/consumer.js'], { cwd: bare });
    const report = JSON.parse(stdout) as {
      memory: number;
      failures: { sdk: string; op: string; misconfigured: boolean; code: unknown; message: string }[];
    };
    expect(report.memory).toBe(1);
    // The project with the Table SDK but not @azure/identity: a store that signs in with Entra ID by default.
    const identity = await run(process.execPath, ['identity.mjs'], { cwd: join(scratch, 'app') });
    report.failures.push(JSON.parse(identity.stdout) as (typeof report.failures)[number]);
    expect(report.failures.map(({ sdk, op }) => `${sdk} ${op}`)).toEqual([
      '@azure/data-tables read',
      '@azure/data-tables list',
      '@azure/cosmos read',
      '@azure/cosmos list',
      'redis read',
      'redis list',
      '@azure/identity read',
    ]);
    for (const failure of report.failures) {
      expect(failure, failure.message).toMatchObject({ misconfigured: true, code: 'store_misconfigured' });
      expect(failure.message).toContain(`npm install ${failure.sdk}`);
    }
  }, 60_000);
});
