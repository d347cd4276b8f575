import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backgroundStatus, enableBackground } from '../app/daemons/optin.js';
import { startTestApp, type TestApp } from './support/app.js';
import { signIn } from './support/signin.js';
import { authority, captureLogger } from './support/stack.js';
import { expireAccessTokens } from './support/stored.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ USER_DAEMON_CONCURRENCY: '4' });
});
afterAll(async () => {
  await app.close();
});

describe('app daemon (timer)', () => {
  it('runs twice: the second run is served from the cache and makes 0 authority requests', async () => {
    const before = await authority.requests(app.clientId);
    await app.host.timers.fire('appDaemon');
    const afterFirst = await authority.requests(app.clientId);
    expect(afterFirst.byGrant.client_credentials ?? 0).toBe((before.byGrant.client_credentials ?? 0) + 1);
    await app.host.timers.fire('appDaemon', { isPastDue: true });
    const afterSecond = await authority.requests(app.clientId);
    expect(afterSecond.token).toBe(afterFirst.token);
    const lines = app.logs.filter((l) => l.includes('appDaemon'));
    expect(lines.filter((l) => l.includes('app daemon: ok'))).toHaveLength(2);
    expect(lines.some((l) => l.includes('past due'))).toBe(true);
    expect(lines.some((l) => /token-cache-telemetry .*"fromCache":true.*"reads":1,"writes":0/.test(l))).toBe(true);
  });
});

describe('user daemon (timer)', () => {
  it('works for 50 opted-in users; one with a revoked refresh token is paused and skipped next run, nobody else affected', async () => {
    const logger = captureLogger();
    const ring = app.cache.keyRing;
    const users = [];
    for (let i = 0; i < 50; i++) {
      const { partitionKey } = await signIn(
        app.cache,
        `worker${i}@contoso.test`,
        [...app.runtime.settings.web.downstreamScopes],
        logger,
      );
      await enableBackground(app.runtime, partitionKey);
      // Expired access tokens: the daemon has to refresh from each user's cached refresh token.
      await expireAccessTokens(app.runtime.tokenStore, ring, partitionKey);
      users.push(partitionKey);
    }
    const revoked = users[17]!;
    await authority.revoke(revoked.split('.')[0]!);

    const before = await authority.requests(app.clientId);
    app.logs.length = 0;
    await app.host.timers.fire('userDaemon');
    expect(app.logs.find((l) => l.includes('user daemon: processed'))).toMatch(
      /processed 50, succeeded 49, paused 1, failed 0, skipped 0/,
    );
    expect((await authority.requests(app.clientId)).byGrant.refresh_token).toBe(
      (before.byGrant.refresh_token ?? 0) + 50,
    );
    const statuses = await Promise.all(users.map((user) => backgroundStatus(app.runtime, user, logger)));
    expect(statuses.filter((status) => status === 'active')).toHaveLength(49);
    expect(statuses[17]).toBe('needs_sign_in');

    app.logs.length = 0;
    const beforeSecond = await authority.requests(app.clientId);
    await app.host.timers.fire('userDaemon');
    expect(app.logs.find((l) => l.includes('user daemon: processed'))).toMatch(
      /processed 50, succeeded 49, paused 0, failed 0, skipped 1/,
    );
    expect(app.logs.some((l) => l.includes(revoked))).toBe(false);
    // Everyone else's tokens were refreshed and cached on the first run: the second run needs the authority 0 times.
    expect((await authority.requests(app.clientId)).token).toBe(beforeSecond.token);
  });

  it('keeps to its per-run budget and continues where it stopped on the next run', async () => {
    const { runUserDaemon } = await import('../app/daemons/user-daemon.js');
    const { InvocationContext } = await import('@azure/functions');
    const context = new InvocationContext({ functionName: 'userDaemon', logHandler: () => undefined });
    const first = await runUserDaemon(undefined, context, app.runtime, { concurrency: 3, budget: 20, pageSize: 7 });
    expect(first.processed).toBe(20);
    expect(first.peakConcurrency).toBeLessThanOrEqual(3);
    expect(first.cursor).toBeDefined();
    const second = await runUserDaemon(undefined, context, app.runtime, {
      concurrency: 3,
      budget: 20,
      pageSize: 7,
      cursor: first.cursor,
    });
    const third = await runUserDaemon(undefined, context, app.runtime, {
      concurrency: 3,
      budget: 20,
      pageSize: 7,
      cursor: second.cursor,
    });
    expect(second.processed + third.processed).toBe(30);
    expect(third.cursor).toBeUndefined();
  });
});

describe('POST /admin/functions/{name} on the local host (as Core Tools and Azure)', () => {
  it('runs a timer function now: 202, then the run shows in the log', async () => {
    app.logs.length = 0;
    const response = await fetch(`${app.url}/admin/functions/appDaemon`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: '' }),
    });
    expect(response.status).toBe(202);
    await expect.poll(() => app.logs.some((l) => l.includes('app daemon: ok')), { timeout: 10_000 }).toBe(true);
  });

  it('answers 404 for an unknown function, 400 for an HTTP function, 405 for GET', async () => {
    const post = (name: string) => fetch(`${app.url}/admin/functions/${name}`, { method: 'POST' });
    expect((await post('noSuchFunction')).status).toBe(404);
    const http = await post('me');
    expect(http.status).toBe(400);
    expect(await http.text()).toMatch(/HTTP-triggered/);
    expect((await fetch(`${app.url}/admin/functions/appDaemon`)).status).toBe(405);
  });
});
