/**
 * The library as another project gets it: `npm pack ./lib`, installed from the tarball into a fresh project with
 * only the peers it needs, the README's library example compiled there (strict, no skipLibCheck) and run against
 * Azurite and the local authority. The example's two Microsoft hosts are pointed at the local stand-ins; nothing
 * else of it is changed.
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
import { me, nightly } from './dist/functions.js';
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
let deepImport = 'allowed';
try {
  await import('${PACKAGE}/dist/cache/plugin.js');
} catch (error) {
  deepImport = error.code;
}
const prefix = 'token-cache-telemetry ';
const telemetry = lines.filter((l) => l.startsWith(prefix)).map((l) => JSON.parse(l.slice(prefix.length)));
console.log(JSON.stringify({ statuses, telemetry, deepImport, problems, lines }));
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
  await run('mkdir', ['-p', join(project, 'src')]);
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({
      name: 'someone-elses-function-app',
      private: true,
      type: 'module',
      dependencies: {
        [PACKAGE]: `file:${tarball}`,
        '@azure/msal-node': version('@azure/msal-node'),
        '@azure/data-tables': version('@azure/data-tables'),
        '@azure/functions': version('@azure/functions'),
        '@types/node': version('@types/node'),
      },
    }),
  );
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
    cwd: project,
    maxBuffer: 16 * 1024 * 1024,
  });
  const { url, ca } = stack().authority;
  const example = (await readmeExample())
    .replaceAll('https://login.microsoftonline.com', url)
    .replaceAll('https://graph.microsoft.com/v1.0/me', `${stack().downstream.url}/v1.0/me`);
  await writeFile(join(project, 'src', 'functions.ts'), example);
  await writeFile(
    join(project, 'tsconfig.json'),
    JSON.stringify({
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
    }),
  );
  await writeFile(join(project, 'ca.pem'), ca);
  // The example's table (the default name), created as the deployment creates it.
  const setup = createTableStore({ connectionString: stack().table.connectionString, createIfMissing: true });
  await setup.write(`setup.${newId()}`, Buffer.from('x'));
  await writeFile(join(project, 'run.mjs'), DRIVER);
}, 240_000);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('the packed library in a project that is not this one', () => {
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
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project]);

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
      telemetry: { op: string; fromCache: boolean; reads: number; writes: number; outcome: string }[];
      deepImport: string;
      problems: string[];
      lines: string[];
    };
    // What the example logged goes to this file's log audit.
    for (const line of [...report.lines, ...stderr.split('\n')]) logLine('example:', line);
    expect(report.problems).toEqual([]);
    expect(report.statuses).toEqual([200, 200, 401]);
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
});
