import { InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUserDaemon, type UserDaemonResult } from '../app/daemons/user-daemon.js';
import { createAppRuntime, type AppRuntime } from '../app/runtime.js';
import { CookieJar, startTestApp, visit, webSignIn, webSignInPartition, type TestApp } from './support/app.js';
import { logLine, newKeySetting } from './support/log-audit.js';
import { enableBackground } from '../app/daemons/optin.js';
import { holdFirstRead } from './support/gate.js';
import { authority } from './support/stack.js';
import { expireAccessTokens } from './support/stored.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
});

/** What the daemon logged in the last `daemon()` call. */
let daemonLogs: string[] = [];

async function daemon(runtime: AppRuntime = app.runtime): Promise<UserDaemonResult> {
  daemonLogs = [];
  const context = new InvocationContext({
    functionName: 'userDaemon',
    logHandler: (level, ...args) => daemonLogs.push(logLine(level, ...args)),
  });
  return runUserDaemon(undefined, context, runtime, { concurrency: 2, budget: 1000 });
}

const form = (jar: CookieJar, path: string, body: string) =>
  visit(jar, `${app.url}${path}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: app.url },
  });

async function backgroundLabel(jar: CookieJar): Promise<string | undefined> {
  const page = await visit(jar, `${app.url}/api/profile/background`);
  return (await page.text()).match(/Status: <strong>([^<]+)/)?.[1];
}

/** Every record the app keeps about this partition (opt-ins of any kind), by key. */
async function recordsOf(partitionKey: string): Promise<string[]> {
  const { entries } = await app.records.list({});
  return entries.map((e) => e.partitionKey).filter((key) => key.endsWith(partitionKey));
}

/**
 * A person opted in whose refresh token the authority now rejects, and a user daemon run on a second instance that
 * will decide to pause them: `meanwhile` runs after the daemon read their tokens and before it acts on the refusal.
 */
async function pauseDecidedWhile(
  loginHint: string,
  meanwhile: (jar: CookieJar) => Promise<void>,
): Promise<{ jar: CookieJar; partition: string; result: UserDaemonResult }> {
  const jar = new CookieJar();
  const partition = await webSignInPartition(app, jar, loginHint);
  expect((await form(jar, '/api/profile/background', 'enabled=true')).status).toBe(302);
  await expireAccessTokens(app.store, app.cache.keyRing, partition);
  await authority.revoke(partition.split('.')[0]!);
  const hold = holdFirstRead(app.store, partition);
  const instance = createAppRuntime(app.runtime.settings, { stores: { tokens: hold.store, records: app.records } });
  try {
    const run = daemon(instance);
    await hold.reached;
    await meanwhile(jar);
    hold.release();
    return { jar, partition, result: await run };
  } finally {
    await instance.close();
  }
}

describe('background opt-in and sign-out', () => {
  it('a pause the daemon decided before the person signed out does not bring background work back', async () => {
    const { partition, result } = await pauseDecidedWhile('nora@contoso.test', async (jar) => {
      expect((await form(jar, '/api/auth/logout', '')).status).toBe(200);
    });
    expect(result).toMatchObject({ paused: 0, skipped: 1 });
    expect(daemonLogs.some((line) => line.includes(`${partition} changed its opt-in meanwhile; not paused`))).toBe(
      true,
    );
    expect(await recordsOf(partition)).toEqual([]);
    const again = new CookieJar();
    expect(await webSignInPartition(app, again, 'nora@contoso.test')).toBe(partition);
    expect(await backgroundLabel(again)).toBe('off');
    await daemon();
    expect(daemonLogs.some((line) => line.includes(partition))).toBe(false);
  });

  it('a refresh in flight when the person signs out does not bring their partition back', async () => {
    const jar = new CookieJar();
    const partition = await webSignInPartition(app, jar, 'sven@contoso.test');
    expect((await form(jar, '/api/profile/background', 'enabled=true')).status).toBe(302);
    await expireAccessTokens(app.store, app.cache.keyRing, partition);
    const hold = holdFirstRead(app.store, partition);
    const instance = createAppRuntime(app.runtime.settings, { stores: { tokens: hold.store, records: app.records } });
    try {
      const run = daemon(instance);
      await hold.reached;
      expect((await form(jar, '/api/auth/logout', '')).status).toBe(200);
      expect(await app.store.read(partition)).toBeUndefined();
      hold.release();
      await run;
    } finally {
      await instance.close();
    }
    // The daemon redeemed the refresh token it had read; what came back is not written over the sign-out.
    expect(daemonLogs.some((line) => line.includes('token-cache-telemetry') && line.includes(partition))).toBe(true);
    expect(await app.store.read(partition)).toBeUndefined();
    expect(await recordsOf(partition)).toEqual([]);
  });

  it('a pause the daemon decided on tokens older than a fresh sign-in does not apply', async () => {
    const { jar, result } = await pauseDecidedWhile('otto@contoso.test', async (jar) => {
      expect((await webSignIn(app, jar, 'otto@contoso.test')).status).toBe(302);
    });
    expect(result).toMatchObject({ paused: 0, skipped: 1 });
    expect(await backgroundLabel(jar)).toBe('on');
  });

  it('an opt-in sealed under a key this instance lacks is neither shown as off nor skipped: 503 and a failure for now', async () => {
    const jar = new CookieJar();
    const partition = await webSignInPartition(app, jar, 'nina@contoso.test');
    const { settings } = app.runtime;
    const keys = `${newKeySetting('n2')},${settings.cache.keys}`;
    const newer = createAppRuntime(
      { ...settings, cache: { ...settings.cache, keys } },
      {
        stores: { tokens: app.store, records: app.records },
      },
    );
    try {
      await enableBackground(newer, partition);
    } finally {
      await newer.close();
    }
    const page = await visit(jar, `${app.url}/api/profile/background`);
    expect(page.status).toBe(503);
    expect(page.headers.get('retry-after')).toBe('5');
    await daemon();
    expect(
      daemonLogs.some(
        (line) => line.includes(`opt-in of partition ${partition} unreadable now`) && line.includes('"n2"'),
      ),
    ).toBe(true);
    expect(daemonLogs.some((line) => line.includes('token-cache-telemetry') && line.includes(partition))).toBe(false);
  });

  it('ignores opt-in records written without the keys, or copied from another person: logged, never acted on', async () => {
    const users = [];
    for (const hint of ['olga@contoso.test', 'pete@contoso.test', 'quinn@contoso.test']) {
      const jar = new CookieJar();
      users.push({ jar, partition: await webSignInPartition(app, jar, hint) });
    }
    const [genuine, plain, copied] = users as [(typeof users)[0], (typeof users)[0], (typeof users)[0]];
    expect((await form(genuine.jar, '/api/profile/background', 'enabled=true')).status).toBe(302);
    // Someone with write access to the store but not the keys opts two people in.
    const record = (await app.records.list({})).entries.find((e) => e.partitionKey.endsWith(genuine.partition))!;
    const sealed = (await app.records.read(record.partitionKey))!.data;
    await app.records.write(
      record.partitionKey.replace(genuine.partition, plain.partition),
      Buffer.from(JSON.stringify({ updatedAt: new Date().toISOString() })),
    );
    await app.records.write(record.partitionKey.replace(genuine.partition, copied.partition), sealed);

    await daemon();
    const worked = (partition: string) =>
      daemonLogs.some((line) => line.includes('token-cache-telemetry') && line.includes(partition));
    expect(worked(genuine.partition)).toBe(true);
    for (const { partition } of [plain, copied]) {
      expect(daemonLogs.filter((line) => line.includes(partition))).toEqual([
        expect.stringMatching(/does not open.*: ignored$/),
      ]);
      expect(worked(partition)).toBe(false);
    }
    expect(await backgroundLabel(plain.jar)).toBe('off');
    expect(await backgroundLabel(copied.jar)).toBe('off');
    expect(await backgroundLabel(genuine.jar)).toBe('on');
    // Turning it off removes the forged record too.
    expect((await form(plain.jar, '/api/profile/background', 'enabled=false')).status).toBe(302);
    expect(await recordsOf(plain.partition)).toEqual([]);
  });

  it('renews an opt-in record past a quarter of its lifetime when the daemon succeeds, and leaves a young one alone', async () => {
    const { enableBackground } = await import('../app/daemons/optin.js');
    const lifetimeMs = app.runtime.settings.cache.lifetimeDays * 86_400_000;
    const old = new CookieJar();
    const oldPartition = await webSignInPartition(app, old, 'rita@contoso.test');
    await enableBackground(app.runtime, oldPartition, new Date(Date.now() - lifetimeMs / 3));
    const young = new CookieJar();
    const youngPartition = await webSignInPartition(app, young, 'sam@contoso.test');
    await enableBackground(app.runtime, youngPartition, new Date(Date.now() - lifetimeMs / 5));
    const listed = async () => new Map((await app.records.list({})).entries.map((e) => [e.partitionKey, e]));
    const before = await listed();
    const startedAt = Date.now();

    await daemon();
    const after = await listed();
    const entry = (partition: string, map: typeof after) =>
      [...map.values()].find((e) => e.partitionKey.endsWith(partition))!;
    expect(entry(oldPartition, after).expiresAt!.getTime()).toBeGreaterThanOrEqual(startedAt + lifetimeMs - 1000);
    expect(entry(oldPartition, after).etag).not.toBe(entry(oldPartition, before).etag);
    expect(entry(youngPartition, after).etag).toBe(entry(youngPartition, before).etag);
    expect(await backgroundLabel(old)).toBe('on');
  });
});
