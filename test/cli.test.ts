/**
 * The command-line client end to end, as separate processes of the compiled CLI (dist/dev/cli/main.js, built by
 * `npm test`): device code sign-in against the run's local authority, the function app's GET /api/me (which does
 * on-behalf-of to the downstream API), and the one-file cache under its cross-process lock file.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsRequest, trustingAgent } from '../dev/https-trust.js';
import { startTestApp, type TestApp } from './support/app.js';
import { logLine } from './support/log-audit.js';
import { authority, newId, stack } from './support/stack.js';

const CLI = join(import.meta.dirname, '../dist/dev/cli/main.js');
const LOCK_MODULE = join(import.meta.dirname, '../dist/dev/cli/file-lock.js');
const ALICE = { oid: '6f1a3c52-8d0e-4b7a-9c21-3e5f7a9b1d01', username: 'alice@dev.localhost' };

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface CacheFile {
  Account: Record<string, { username: string; home_account_id: string }>;
  RefreshToken: Record<string, { secret: string; client_id: string }>;
  AccessToken: Record<string, { secret: string }>;
}

let app: TestApp;
let dir: string;
let caPath: string;
/** A cache file signed in once (Alice, client `signedInClientId`), copied by the tests that start signed in. */
let signedInCache: string;
let signedInClientId: string;
const agent = () => trustingAgent(stack().authority.ca);

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm test\` (it builds first) or \`npm run build\``);
  app = await startTestApp();
  dir = await mkdtemp(join(tmpdir(), 'cli-test-'));
  caPath = join(dir, 'authority-ca.pem');
  await writeFile(caPath, stack().authority.ca);
  signedInClientId = newId();
  signedInCache = join(dir, 'signed-in', 'msal-cache.json');
  await login(signedInCache, signedInClientId);
});

afterAll(async () => {
  await app?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The CLI's options for this run's stack and app, with a cache file and a public client id. */
function cliArgs(cachePath: string, clientId: string): string[] {
  const s = stack();
  return [
    ...['--authority', s.authority.url, '--tenant', app.tenantId, '--client-id', clientId],
    ...['--scopes', `api://${app.clientId}/access_as_user`, '--api', app.url, '--ca', caPath, '--cache', cachePath],
  ];
}

function start(args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<Run>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      // What the CLI printed is its log: it goes to this file's log audit (the user code it shows is no secret).
      for (const line of stdout.split('\n')) logLine('cli stdout:', line);
      for (const line of stderr.split('\n')) logLine('cli stderr:', line);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done, stdout: () => stdout };
}

function cli(command: string, cachePath: string, clientId: string, ...extra: string[]): Promise<Run> {
  return start([command, ...cliArgs(cachePath, clientId), ...extra]).done;
}

async function adminPost(action: string, body: unknown) {
  return httpsRequest(agent(), `${stack().authority.url}/_admin/${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** `login` as a child process; the user code is read from its output and approved through the admin endpoint. */
async function login(cachePath: string, clientId: string, loginHint = ALICE.username): Promise<Run> {
  const running = start(['login', ...cliArgs(cachePath, clientId)]);
  let userCode: string | undefined;
  // Up to 25 s for a child process to start and print it (milliseconds usually; a loaded machine must not fail it).
  for (let waited = 0; !userCode && waited < 25_000; waited += 25) {
    userCode = /enter the code ([A-Z0-9]+) to authenticate/.exec(running.stdout())?.[1];
    if (!userCode) await new Promise((resolve) => setTimeout(resolve, 25));
  }
  if (!userCode) {
    running.child.kill();
    throw new Error(`login printed no user code: ${JSON.stringify(await running.done)}`);
  }
  expect(running.stdout()).toContain(`${stack().authority.url}/${app.tenantId}/oauth2/v2.0/deviceauth`);
  const approved = await adminPost('approve-device', { user_code: userCode, login_hint: loginHint });
  expect(approved.status).toBe(200);
  const run = await running.done;
  expect(run, run.stderr).toMatchObject({ code: 0 });
  expect(run.stdout).toContain(`Signed in as ${loginHint}`);
  return run;
}

async function readCache(path: string): Promise<CacheFile> {
  return JSON.parse(await readFile(path, 'utf8')) as CacheFile;
}

/** A fresh folder with a copy of the signed-in cache (Alice, `signedInClientId`). */
async function signedInCopy(): Promise<string> {
  const target = join(await mkdtemp(join(dir, 'copy-')), 'msal-cache.json');
  await copyFile(signedInCache, target);
  return target;
}

/** A process that has exited: its pid is not running anymore. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('token-cache-cli', () => {
  it('signs in with the device code flow, calls /api/me (the app does OBO), then serves the next call from the file', async () => {
    const clientId = newId();
    const cachePath = join(dir, 'e2e', 'nested', 'msal-cache.json');
    // A user of this test only (created on the fly): the app's on-behalf-of requests for them are this test's.
    const suffix = newId().slice(0, 8);
    const username = `grace-${suffix}@contoso.test`;
    const displayName = `Grace ${suffix[0]!.toUpperCase()}${suffix.slice(1)}`;
    const signedIn = await login(cachePath, clientId, username);
    const oid = /\(([0-9a-f-]{36})\.[0-9a-f-]{36}\)/.exec(signedIn.stdout)![1]!;
    expect((await stat(cachePath)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'e2e', 'nested'))).mode & 0o777).toBe(0o700);
    expect(existsSync(`${cachePath}.lockfile`)).toBe(false);
    const cached = await readCache(cachePath);
    expect(Object.values(cached.Account).map((a) => a.username)).toEqual([username]);
    const [accessToken] = Object.values(cached.AccessToken);
    expect(decodeJwt(accessToken!.secret)).toMatchObject({
      aud: `api://${app.clientId}`,
      scp: 'access_as_user',
      azp: clientId,
      oid,
      tid: app.tenantId,
    });
    const issued = await authority.refreshTokens(clientId, oid);
    expect(issued).toMatchObject([{ issuedBy: 'device_code', publicClient: true }]);

    expect(await authority.refreshTokens(app.clientId, oid)).toEqual([]);
    const first = await cli('call', cachePath, clientId);
    expect(first, first.stderr).toMatchObject({ code: 0, stderr: '' });
    // The downstream API's /me of the user: only a token the app got on the user's behalf is accepted there.
    expect(JSON.parse(first.stdout)).toEqual({
      id: oid,
      displayName,
      userPrincipalName: username,
      tenantId: app.tenantId,
    });
    expect(await authority.refreshTokens(app.clientId, oid)).toMatchObject([{ issuedBy: 'on_behalf_of' }]);

    // The second call: the access token comes from the file, not from the authority.
    const before = await authority.requests(clientId);
    const second = await cli('call', cachePath, clientId);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ id: oid });
    const after = await authority.requests(clientId);
    expect(after.total).toBe(before.total);
    expect(after.byGrant.refresh_token).toBeUndefined();

    const whoami = await cli('whoami', cachePath, clientId);
    expect(whoami.code).toBe(0);
    expect(whoami.stdout).toBe(`${username}\t${displayName}\ttenant ${app.tenantId}\t${oid}.${app.tenantId}\n`);

    const logout = await cli('logout', cachePath, clientId);
    expect(logout).toMatchObject({ code: 0 });
    expect(logout.stdout).toContain(`Signed out ${username}`);
    const emptied = await readCache(cachePath);
    expect(emptied.Account).toEqual({});
    expect(emptied.RefreshToken).toEqual({});
    const signedOut = await cli('call', cachePath, clientId);
    expect(signedOut.code).toBe(1);
    expect(signedOut.stderr).toMatch(/^Not signed in/);
  });

  it('lets six processes refresh against the same file at once: no failure, and the file keeps a working refresh token', async () => {
    const cachePath = await signedInCopy();
    const before = await authority.requests(signedInClientId);
    const runs = await Promise.all(
      Array.from({ length: 6 }, () => cli('call', cachePath, signedInClientId, '--force-refresh')),
    );
    for (const run of runs) {
      expect(run, run.stderr).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(run.stdout)).toMatchObject({ id: ALICE.oid, tenantId: app.tenantId });
    }
    const after = await authority.requests(signedInClientId);
    expect((after.byGrant.refresh_token ?? 0) - (before.byGrant.refresh_token ?? 0)).toBe(6);

    const cached = await readCache(cachePath);
    expect(Object.values(cached.Account).map((a) => a.username)).toEqual([ALICE.username]);
    const refreshTokens = Object.values(cached.RefreshToken);
    expect(refreshTokens).toHaveLength(1);
    expect(await readdir(join(cachePath, '..'))).toEqual(['msal-cache.json']);

    // The refresh token left in the file works, without a secret (a public client's).
    const redeemed = await httpsRequest(agent(), `${stack().authority.url}/${app.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: signedInClientId,
        refresh_token: refreshTokens[0]!.secret,
        scope: `api://${app.clientId}/access_as_user offline_access`,
      }).toString(),
    });
    expect(redeemed.status).toBe(200);
  });

  it('recovers a lock left by a dead process or not touched for too long', async () => {
    const cachePath = await signedInCopy();
    const lockPath = `${cachePath}.lockfile`;

    const dead = await deadPid();
    await writeFile(lockPath, String(dead));
    const afterDead = await cli('call', cachePath, signedInClientId);
    expect(afterDead.code).toBe(0);
    expect(afterDead.stderr).toContain(`recovered the stale lock file ${lockPath} left by process ${dead}`);
    expect(existsSync(lockPath)).toBe(false);

    // A pid that runs (this test's own) but a lock file untouched for a minute: its holder hung or is elsewhere.
    await writeFile(lockPath, String(process.pid));
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(lockPath, minuteAgo, minuteAgo);
    const afterOld = await cli('call', cachePath, signedInClientId);
    expect(afterOld.code).toBe(0);
    expect(afterOld.stderr).toContain('which stopped updating it');
    expect(existsSync(lockPath)).toBe(false);
  });

  it('waits for a lock held by a live process and fails naming the lock file; once its holder is killed, recovers', async () => {
    const cachePath = await signedInCopy();
    const lockPath = `${cachePath}.lockfile`;
    const holderScript =
      `const { FileLock } = await import(${JSON.stringify(pathToFileURL(LOCK_MODULE).href)});` +
      `const lock = new FileLock(process.env.LOCK_PATH); await lock.acquire();` +
      `process.stdout.write('locked\\n'); setInterval(() => {}, 1000);`;
    const holder = spawn(process.execPath, ['--input-type=module', '-e', holderScript], {
      env: { ...process.env, LOCK_PATH: lockPath },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.once('data', () => resolve());
        holder.once('exit', () => reject(new Error('the lock holder exited')));
      });
      expect((await readFile(lockPath, 'utf8')).trim()).toBe(String(holder.pid));

      const started = Date.now();
      // The holder never lets go: that the CLI exits at all, saying it timed out, is the bound on its wait.
      const blocked = await cli('call', cachePath, signedInClientId, '--lock-timeout', '1');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      expect(blocked.code).toBe(1);
      expect(blocked.stdout).toBe('');
      expect(blocked.stderr).toContain(`Timed out after 1.`);
      expect(blocked.stderr).toContain(`waiting for the lock file ${lockPath}, held by process ${holder.pid}`);
    } finally {
      holder.kill('SIGKILL');
      await exited;
    }
    // Killed: its lock file is still there, with a pid that no longer runs.
    expect(existsSync(lockPath)).toBe(true);
    const recovered = await cli('call', cachePath, signedInClientId);
    expect(recovered.code).toBe(0);
    expect(recovered.stderr).toContain(`left by process ${holder.pid}, which is no longer running`);
  });

  it('reports a corrupt cache file without its contents, replaces it, and signs in again', async () => {
    const clientId = newId();
    const marker = `do-not-print-${newId()}`;
    const cases = [
      [`{"RefreshToken": {"x": {"secret": "${marker}"`, 'not JSON'],
      [`{"AccessToken": {"k": "${marker}"}}`, 'an entry of its AccessToken section is not an object'],
    ] as const;
    const paths = await Promise.all(
      cases.map(async ([content, reason], i) => {
        const folder = join(dir, `corrupt-${i}`);
        await mkdir(folder, { mode: 0o700 });
        const cachePath = join(folder, 'msal-cache.json');
        await writeFile(cachePath, content, { mode: 0o644 });
        const run = await cli('call', cachePath, clientId);
        expect(run.code).toBe(1);
        expect(run.stderr).toContain(`the token cache ${cachePath} is not a valid MSAL cache (${reason})`);
        expect(run.stderr).not.toContain(marker);
        expect(run.stderr).toContain('Not signed in');
        const replaced = await readFile(cachePath, 'utf8');
        expect(replaced).not.toContain(marker);
        expect(JSON.parse(replaced)).toMatchObject({ Account: {}, RefreshToken: {} });
        expect((await stat(cachePath)).mode & 0o777).toBe(0o600);
        return cachePath;
      }),
    );
    const cachePath = paths[0]!;
    await login(cachePath, clientId, 'bob@dev.localhost');
    const call = await cli('call', cachePath, clientId);
    expect(call.code).toBe(0);
    expect(JSON.parse(call.stdout)).toMatchObject({ userPrincipalName: 'bob@dev.localhost' });
  });

  it('the lock file excludes other processes: six of them incrementing one counter under it lose no update', async () => {
    const folder = await mkdtemp(join(dir, 'counter-'));
    const counter = join(folder, 'counter');
    await writeFile(counter, '0');
    const script =
      `const { FileLock } = await import(${JSON.stringify(pathToFileURL(LOCK_MODULE).href)});` +
      `const { readFile, writeFile } = await import('node:fs/promises');` +
      `const lock = new FileLock(process.env.COUNTER + '.lockfile', { timeoutMs: 20000 });` +
      `for (let i = 0; i < 20; i++) {` +
      `  await lock.acquire();` +
      `  const n = Number(await readFile(process.env.COUNTER, 'utf8'));` +
      `  await new Promise((resolve) => setTimeout(resolve, 1));` +
      `  await writeFile(process.env.COUNTER, String(n + 1));` +
      `  await lock.release();` +
      `}`;
    const exits = await Promise.all(
      Array.from({ length: 6 }, () => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
          env: { ...process.env, COUNTER: counter },
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        return new Promise<number | null>((resolve) => child.once('exit', resolve));
      }),
    );
    expect(exits).toEqual([0, 0, 0, 0, 0, 0]);
    expect(await readFile(counter, 'utf8')).toBe('120');
    expect(await readdir(folder)).toEqual(['counter']);
  });

  it('explains usage errors', async () => {
    const run = await start(['frobnicate']).done;
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("Unknown command 'frobnicate'");
    expect(run.stderr).toContain('Usage: token-cache-cli <command>');
  });
});
