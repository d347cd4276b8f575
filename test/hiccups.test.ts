import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsRequest, trustingAgent } from '../dev/https-trust.js';
import { startAzuriteTable, type AzuriteTable } from '../dev/emulators.js';
import { enableBackground } from '../app/daemons/optin.js';
import { classifyTokenError, createTableStore, hasErrorCode, type TokenCacheError } from '../lib/index.js';
import { CookieJar, startTestApp, visit, type TestApp } from './support/app.js';
import { signIn } from './support/signin.js';
import { authority, captureLogger, newId, stack } from './support/stack.js';

const GRAPH = ['https://graph.microsoft.com/User.Read'];

/**
 * A real outage of the token store only: the tokens live on an Azurite of this file's own, which the tests stop and
 * start again (persisting to disk, so the documents survive); the app's records stay on the run's Azurite.
 */
let azurite: AzuriteTable;
let port: number;
const location = mkdtempSync(join(tmpdir(), 'azurite-hiccup-'));
let app: TestApp;

function tokenStore() {
  return createTableStore({
    connectionString: azurite.connectionString,
    tableName: `h${newId().replace(/-/g, '').slice(0, 12)}`,
    createIfMissing: true,
    allowInsecureConnection: true,
  });
}

async function storeDown(): Promise<void> {
  await azurite.close();
}

async function storeUp(): Promise<void> {
  azurite = await startAzuriteTable({ location, port });
}

beforeAll(async () => {
  azurite = await startAzuriteTable({ location });
  port = Number(new URL(azurite.url).port);
  app = await startTestApp({}, { tokenStore: tokenStore() });
});
afterAll(async () => {
  await app.close();
  await azurite.close();
  rmSync(location, { recursive: true, force: true });
});

/** Follows a browser's sign-in: app login → authority (login_hint skips the picker) → the app's callback. */
async function browserSignIn(jar: CookieJar, loginHint: string): Promise<Response> {
  const login = await visit(jar, `${app.url}/api/auth/login`);
  const authorize = new URL(login.headers.get('location')!);
  authorize.searchParams.set('login_hint', loginHint);
  const answer = await httpsRequest(trustingAgent(stack().authority.ca), authorize.toString());
  return visit(jar, answer.headers.location!);
}

describe('the library while the token store is down', () => {
  it('a silent call fails as partition_unavailable (retryable), not as a missing account; it works again after', async () => {
    const cache = app.cache;
    const logger = captureLogger();
    const signedIn = await signIn(cache, `vera-${newId()}@contoso.test`, GRAPH, logger);
    const homeAccountId = signedIn.result.account!.homeAccountId;
    await storeDown();
    try {
      const error = (await cache.tokens.acquireTokenSilent({ homeAccountId, scopes: GRAPH }, { logger }).then(
        () => undefined,
        (e: unknown) => e,
      )) as TokenCacheError;
      expect(error.code).toBe('partition_unavailable');
      expect(classifyTokenError(error)).toEqual({ kind: 'store_unavailable', code: 'partition_unavailable' });
    } finally {
      await storeUp();
    }
    const again = await cache.tokens.acquireTokenSilent({ homeAccountId, scopes: GRAPH }, { logger });
    expect(again.result.fromCache).toBe(true);
  });

  it('a sign-in whose tokens could not be written fails as partition_not_saved, carrying the redeemed result', async () => {
    const cache = app.cache;
    await storeDown();
    let error: unknown;
    try {
      error = await signIn(cache, `walt-${newId()}@contoso.test`, GRAPH, captureLogger()).then(
        () => undefined,
        (e: unknown) => e,
      );
    } finally {
      await storeUp();
    }
    expect(hasErrorCode(error, 'partition_not_saved')).toBe(true);
    expect(classifyTokenError(error).kind).toBe('store_unavailable');
    const { outcome } = error as { outcome: { result: { accessToken: string }; saved: boolean } };
    expect(outcome.result.accessToken).toBeTruthy();
    expect(outcome.saved).toBe(false);
  });
});

describe('the app while the token store is down', () => {
  it('the user daemon pauses nobody: every user is a failure for now, and succeeds on the next run', async () => {
    const logger = captureLogger();
    const users: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { partitionKey } = await signIn(app.cache, `xena${i}-${newId()}@contoso.test`, GRAPH, logger);
      await enableBackground(app.runtime, partitionKey);
      users.push(partitionKey);
    }
    await storeDown();
    app.logs.length = 0;
    try {
      await app.host.timers.fire('userDaemon');
    } finally {
      await storeUp();
    }
    const summary = app.logs.find((l) => l.includes('user daemon: processed'));
    expect(summary).toMatch(/paused 0/);
    for (const partitionKey of users) {
      expect(await app.runtime.recordStore.read(`bg.${partitionKey}`)).toBeDefined();
      expect(await app.runtime.recordStore.read(`bgp.${partitionKey}`)).toBeUndefined();
    }
    expect(summary).toMatch(new RegExp(`succeeded 0, paused 0, failed ${users.length}`));

    app.logs.length = 0;
    await app.host.timers.fire('userDaemon');
    expect(app.logs.find((l) => l.includes('user daemon: processed'))).toMatch(
      new RegExp(`succeeded ${users.length}, paused 0, failed 0`),
    );
  });

  it('the profile page answers 503 with Retry-After and keeps the session; it shows the profile again after', async () => {
    const jar = new CookieJar();
    const callback = await browserSignIn(jar, `yves-${newId()}@contoso.test`);
    expect(callback.status).toBe(302);
    const session = jar.cookies.get('__Host-msal_session');
    expect(session).toBeTruthy();
    await storeDown();
    let during: Response;
    try {
      during = await visit(jar, `${app.url}/api/profile`);
    } finally {
      await storeUp();
    }
    expect(during.headers.getSetCookie()).toEqual([]);
    expect(during.status).toBe(503);
    expect(Number(during.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await during.json()) as { error: string }).error).toBe('store_unavailable');
    expect(jar.cookies.get('__Host-msal_session')).toBe(session);
    const after = await visit(jar, `${app.url}/api/profile`);
    expect(after.status).toBe(200);
  });

  it('a sign-in callback that cannot save the tokens tells the person so (503), with no session', async () => {
    const jar = new CookieJar();
    const before = await authority.requests(app.clientId);
    await storeDown();
    let callback: Response;
    try {
      callback = await browserSignIn(jar, `zoe-${newId()}@contoso.test`);
    } finally {
      await storeUp();
    }
    // The code was redeemed: the failure is the store's, not the sign-in's.
    expect((await authority.requests(app.clientId)).byGrant.authorization_code).toBe(
      (before.byGrant.authorization_code ?? 0) + 1,
    );
    expect(callback.status).toBe(503);
    expect(Number(callback.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await callback.json()) as { error: string; error_description: string };
    expect(body.error).toBe('sign_in_not_saved');
    expect(body.error_description).toMatch(/could not be saved.*sign in again/i);
    expect(jar.cookies.has('__Host-msal_session')).toBe(false);
  });
});
