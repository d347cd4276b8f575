import { SignJWT, UnsecuredJWT, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsRequest, trustingAgent } from '../dev/https-trust.js';
import {
  CookieJar,
  invokeMe,
  runtimeCalling,
  startTestApp,
  startWebSignIn,
  turnBackgroundOn,
  visit,
  webSignInPartition,
  type TestApp,
} from './support/app.js';
import { auditMark, capturedLines, findLeaks, secretsOfRun } from './support/log-audit.js';
import { authority, newId, stack } from './support/stack.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
});

function resetCounts(): void {
  app.store.counts.read = app.store.counts.write = app.store.counts.delete = app.store.counts.list = 0;
}

/** Follows the sign-in: app login → authority (login_hint skips the picker) → app callback. */
async function signIn(jar: CookieJar, loginHint: string): Promise<Response> {
  const callback = await startWebSignIn(app, jar, loginHint);
  expect(callback.startsWith(`${app.url}/api/auth/callback?`)).toBe(true);
  return visit(jar, callback);
}

describe('web app sign-in', () => {
  it('signs in, shows the profile, and serves the second profile from the cache: 0 authority requests, 1 store read', async () => {
    const jar = new CookieJar();
    const callback = await signIn(jar, 'carol@contoso.test');
    expect(callback.status).toBe(302);
    expect(callback.headers.get('location')).toBe('/api/profile');
    expect(jar.cookies.has('__Host-msal_session')).toBe(true);
    expect(jar.cookies.has('__Host-msal_signin')).toBe(false);
    const setCookie = callback.headers.getSetCookie().find((c) => c.startsWith('__Host-msal_session='))!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/Secure/);
    expect(setCookie).toMatch(/SameSite=Lax/);

    const first = await visit(jar, `${app.url}/api/profile`);
    expect(first.status).toBe(200);
    expect(await first.text()).toContain('carol@contoso.test');

    const before = await authority.requests(app.clientId);
    resetCounts();
    const second = await visit(jar, `${app.url}/api/profile`);
    expect(second.status).toBe(200);
    const page = await second.text();
    expect(page).toContain('served from the token cache');
    expect((await authority.requests(app.clientId)).total).toBe(before.total);
    expect(app.store.counts).toEqual({ read: 1, write: 0, delete: 0, list: 0 });
  });

  it('sends a visitor without a session, or with a tampered or foreign session cookie, to sign in', async () => {
    const none = await visit(new CookieJar(), `${app.url}/api/profile`);
    expect(none.status).toBe(302);
    expect(none.headers.get('location')).toBe('/api/auth/login');

    const jar = new CookieJar();
    await signIn(jar, 'dave@contoso.test');
    const session = jar.cookies.get('__Host-msal_session')!;
    const flipped = session.slice(0, -6) + (session.at(-6) === 'A' ? 'B' : 'A') + session.slice(-5);
    const foreign = await foreignSessionCookie();
    for (const value of [flipped, 'garbage', foreign]) {
      const tampered = new CookieJar();
      tampered.cookies.set('__Host-msal_session', value);
      resetCounts();
      const response = await visit(tampered, `${app.url}/api/profile`);
      expect(response.status).toBe(302);
      expect(response.headers.get('location')).toBe('/api/auth/login');
      expect(response.headers.getSetCookie().some((c) => /^__Host-msal_session=;.*Max-Age=0/.test(c))).toBe(true);
      expect(app.store.counts).toEqual({ read: 0, write: 0, delete: 0, list: 0 });
    }
  });

  it('rejects a callback with a wrong state, or replayed, with 400', async () => {
    const jar = new CookieJar();
    const login = await visit(jar, `${app.url}/api/auth/login`);
    const authorize = new URL(login.headers.get('location')!);
    authorize.searchParams.set('login_hint', 'erin@contoso.test');
    const answer = await httpsRequest(trustingAgent(stack().authority.ca), authorize.toString());
    const callback = new URL(answer.headers.location!);
    const transaction = jar.cookies.get('__Host-msal_signin')!;

    const wrong = new URL(callback);
    wrong.searchParams.set('state', newId());
    const wrongState = await visit(jar, wrong.toString());
    expect(wrongState.status).toBe(400);
    expect(((await wrongState.json()) as { error: string }).error).toBe('invalid_state');

    // The transaction cookie is gone after the first callback: replaying the URL in the same browser fails.
    jar.cookies.set('__Host-msal_signin', transaction);
    expect((await visit(jar, callback.toString())).status).toBe(302);
    const replay = await visit(jar, callback.toString());
    expect(replay.status).toBe(400);
    // Replayed with the old cookie too: the code was already redeemed.
    const withOldCookie = new CookieJar();
    withOldCookie.cookies.set('__Host-msal_signin', transaction);
    const replayed = await visit(withOldCookie, callback.toString());
    expect(replayed.status).toBe(400);
    expect(await replayed.text()).toMatch(/could not be completed/);

    const noParams = await visit(new CookieJar(), `${app.url}/api/auth/callback`);
    expect(noParams.status).toBe(400);
  });

  it("signs out with a same-origin POST: the person's token document and opt-in record are deleted from the stores, the cookie cleared, the browser sent to end the session", async () => {
    const jar = new CookieJar();
    const partition = await webSignInPartition(app, jar, 'frank@contoso.test');
    expect((await turnBackgroundOn(app, jar)).status).toBe(302);
    expect(await app.runtime.tokenStore.read(partition)).toBeDefined();
    expect(await app.runtime.recordStore.read(`bg.${partition}`)).toBeDefined();
    const session = jar.cookies.get('__Host-msal_session')!;

    const out = await visit(jar, `${app.url}/api/auth/logout`, { method: 'POST', headers: { origin: app.url } });
    expect(out.status).toBe(200);
    expect(await out.text()).toMatch(
      /http-equiv="refresh" content="0; url=[^"]*\/oauth2\/v2\.0\/logout\?post_logout_redirect_uri=/,
    );
    expect(jar.cookies.has('__Host-msal_session')).toBe(false);
    // Read back from the stores themselves: the document and the record are gone, not just the cookie.
    expect(await app.runtime.tokenStore.read(partition)).toBeUndefined();
    expect(await app.runtime.recordStore.read(`bg.${partition}`)).toBeUndefined();
    const records = (await app.runtime.recordStore.list({})).entries.map((e) => e.partitionKey);
    expect(records.filter((key) => key.endsWith(partition))).toEqual([]);
    // The old session cookie, replayed, finds no account behind it: sent to sign in after reading the partition.
    const replayed = new CookieJar();
    replayed.cookies.set('__Host-msal_session', session);
    resetCounts();
    const profile = await visit(replayed, `${app.url}/api/profile`);
    expect(profile.status).toBe(302);
    expect(profile.headers.get('location')).toBe('/api/auth/login');
    expect(app.store.counts.read).toBe(1);
  });

  it('lets a signed-in user turn background work on and off, refusing bad or cross-origin posts', async () => {
    const jar = new CookieJar();
    await signIn(jar, 'heidi@contoso.test');
    const page = async () =>
      (await (await visit(jar, `${app.url}/api/profile/background`)).text()).match(/Status: <strong>([^<]+)/)?.[1];
    expect(await page()).toBe('off');
    const post = (body: string, headers: Record<string, string> = {}) =>
      visit(jar, `${app.url}/api/profile/background`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      });
    expect((await post('enabled=true')).status).toBe(302);
    expect(await page()).toBe('on');
    expect((await post('enabled=maybe')).status).toBe(400);
    expect((await post('')).status).toBe(400);
    expect((await post('enabled=false', { origin: 'https://evil.example' })).status).toBe(403);
    expect(await page()).toBe('on');
    expect((await post('enabled=false')).status).toBe(302);
    expect(await page()).toBe('off');
    const signedOut = await visit(new CookieJar(), `${app.url}/api/profile/background`, {
      method: 'POST',
      body: 'enabled=true',
    });
    expect(signedOut.status).toBe(302);
    expect(signedOut.headers.get('location')).toBe('/api/auth/login');
  });

  it('answers an unknown route with 404 and a wrong method with 405', async () => {
    expect((await fetch(`${app.url}/api/nope`)).status).toBe(404);
    expect((await fetch(`${app.url}/api/me`, { method: 'POST' })).status).toBe(405);
  });
});

/** A session cookie sealed by another deployment (other keys) for a real-looking account. */
async function foreignSessionCookie(): Promise<string> {
  const { sealCookie } = await import('../app/webapp/cookies.js');
  const { createKeyRing } = await import('../lib/index.js');
  const { newCacheKey } = await import('./support/log-audit.js');
  return sealCookie(
    createKeyRing([newCacheKey('s1', 'foreign session key')]),
    'session',
    { hid: `${newId()}.${app.tenantId}` },
    600,
  );
}

describe('web API GET /api/me', () => {
  const claimsFor = (oid: string) => ({
    oid,
    sub: oid,
    tid: app.tenantId,
    aud: `api://${app.clientId}`,
    scp: 'access_as_user',
    azp: newId(),
    name: 'Grace',
    preferred_username: 'grace@contoso.test',
  });

  it('on-behalf-of to the downstream API; a second call with the same token makes 0 authority requests', async () => {
    const oid = newId();
    const token = await authority.mint(claimsFor(oid));
    const before = await authority.requests(app.clientId);
    const first = await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ id: oid, tenantId: app.tenantId });
    expect((await authority.requests(app.clientId)).token).toBe(before.token + 1);

    resetCounts();
    const second = await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(second.status).toBe(200);
    expect((await authority.requests(app.clientId)).token).toBe(before.token + 1);
    expect(app.store.counts).toEqual({ read: 1, write: 0, delete: 0, list: 0 });
  });

  it('rejects bad bearer tokens with the right status and reason, touching no partition', async () => {
    const oid = newId();
    const valid = claimsFor(oid);
    const { privateKey } = await generateKeyPair('RS256');
    const foreignSigned = await new SignJWT(valid)
      .setProtectedHeader({ alg: 'RS256', kid: 'not-the-authority' })
      .setIssuer(`${stack().authority.url}/${app.tenantId}/v2.0`)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    const cases: [string, string | undefined, number, RegExp][] = [
      ['no header', undefined, 401, /no Authorization header/],
      ['Bearer with nothing', 'Bearer ', 401, /empty|not a Bearer/],
      ['not Bearer', 'Basic dXNlcjpwYXNz', 401, /not a Bearer/],
      ['malformed JWT', 'Bearer abc.def', 401, /not a JWT|malformed/],
      ['alg none', `Bearer ${new UnsecuredJWT(valid).setIssuedAt().setExpirationTime('1h').encode()}`, 401, /RS256/],
      ['signed by another key', `Bearer ${foreignSigned}`, 401, /unknown key|signature/],
      ['expired', `Bearer ${await authority.mint(valid, { expiresInSeconds: -600 })}`, 401, /expired/],
      ['not yet valid', `Bearer ${await authority.mint(valid, { notBeforeSeconds: 3600 })}`, 401, /not yet valid/],
      ['wrong audience', `Bearer ${await authority.mint({ ...valid, aud: 'api://someone-else' })}`, 401, /audience/],
      ['wrong issuer', `Bearer ${await authority.mint({ ...valid, iss: 'https://evil.example/v2.0' })}`, 401, /issuer/],
      ['tenant not allowed', `Bearer ${await authority.mint({ ...valid, tid: newId() })}`, 401, /tenant/],
      ['missing scope', `Bearer ${await authority.mint({ ...valid, scp: 'Other.Scope' })}`, 403, /required scope/],
      [
        'app-only token',
        `Bearer ${await authority.mint({ ...valid, scp: undefined, roles: ['x'] })}`,
        403,
        /required scope/,
      ],
    ];
    for (const [name, header, status, reason] of cases) {
      resetCounts();
      const response = await fetch(`${app.url}/api/me`, {
        headers: header === undefined ? {} : { authorization: header },
      });
      expect(response.status, name).toBe(status);
      const body = (await response.json()) as { error: string; error_description: string };
      expect(body.error_description, name).toMatch(reason);
      expect(response.headers.get('www-authenticate'), name).toMatch(
        /^Bearer error="(invalid_token|insufficient_scope)"/,
      );
      expect(app.store.counts, name).toEqual({ read: 0, write: 0, delete: 0, list: 0 });
    }
    resetCounts();
    const huge = await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${'a'.repeat(1024 * 1024)}` } });
    expect(huge.status).toBe(431);
    expect(app.store.counts).toEqual({ read: 0, write: 0, delete: 0, list: 0 });
  });

  it('passes a claims challenge back to a cp1 caller when the authority requires interaction', async () => {
    const oid = newId();
    const token = await authority.mint({ ...claimsFor(oid), xms_cc: ['cp1'] });
    await authority.requireInteraction(oid, { access_token: { acrs: { essential: true, value: 'c1' } } });
    const challenged = await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(challenged.status).toBe(401);
    const header = challenged.headers.get('www-authenticate')!;
    expect(header).toMatch(/error="insufficient_claims"/);
    const claims = /claims="([^"]+)"/.exec(header)![1]!;
    expect(JSON.parse(Buffer.from(claims, 'base64').toString())).toEqual({
      access_token: { acrs: { essential: true, value: 'c1' } },
    });
    await authority.requireInteraction(oid, null);
  });

  it('answers 502 with a reason when the downstream API fails, and still caches the token', async () => {
    const { readStored, section } = await import('./support/stored.js');
    const { settings } = app.runtime;
    const broken = runtimeCalling(app, 'http://127.0.0.1:9/v1.0/me');
    const oid = newId();
    const partition = `${oid}.${app.tenantId}`;
    const token = await authority.mint(claimsFor(oid));
    try {
      const before = await authority.requests(app.clientId);
      const response = await invokeMe(app, broken, token);
      expect(response.status).toBe(502);
      const body = response.jsonBody as { error: string; error_description: string };
      expect(body.error).toBe('downstream_failed');
      expect(body.error_description).toMatch(/unreachable/);
      expect((await authority.requests(app.clientId)).token).toBe(before.token + 1);

      // Cached: the partition holds the token for the downstream scopes, and the next calls — the same instance, or
      // one whose downstream API works — get it from there, not from the authority.
      const cached = Object.values(section(await readStored(app.store, app.cache.keyRing, partition), 'AccessToken'));
      expect(cached).toHaveLength(1);
      for (const scope of settings.web.downstreamScopes)
        expect((cached[0]!.target as string).split(' ')).toContain(scope);
      expect((await invokeMe(app, broken, token)).status).toBe(502);
      const working = await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(working.status).toBe(200);
      expect((await authority.requests(app.clientId)).token).toBe(before.token + 1);
    } finally {
      await broken.close();
    }
  });
});

describe('web API DELETE /api/me/cache', () => {
  it("removes the caller's whole partition and background opt-in; refuses callers without a valid token", async () => {
    const oid = newId();
    const token = await authority.webApiToken(app, oid);
    const partitionKey = `${oid}.${app.tenantId}`;
    expect((await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const { enableBackground } = await import('../app/daemons/optin.js');
    await enableBackground(app.runtime, partitionKey);
    expect(await app.runtime.tokenStore.read(partitionKey)).toBeDefined();

    resetCounts();
    const anonymous = await fetch(`${app.url}/api/me/cache`, { method: 'DELETE' });
    expect(anonymous.status).toBe(401);
    expect(app.store.counts).toEqual({ read: 0, write: 0, delete: 0, list: 0 });

    const purged = await fetch(`${app.url}/api/me/cache`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(purged.status).toBe(204);
    expect(await app.runtime.tokenStore.read(partitionKey)).toBeUndefined();
    expect(await app.runtime.recordStore.read(`bg.${partitionKey}`)).toBeUndefined();
    const again = await fetch(`${app.url}/api/me/cache`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(again.status).toBe(204);
  });
});

describe('logs of this file (searched again after its last hook, by test/support/log-audit-setup.ts)', () => {
  it('hold no secret of the run, and the search covers every kind: authority-issued, cookies, bearer tokens sent, keys', async () => {
    const listing = await authority.secretsSince(auditMark());
    expect(listing.truncated).toBe(false);
    const secrets = secretsOfRun(listing);
    const kinds = new Set(secrets.values());
    for (const kind of [
      'access_token',
      'refresh_token',
      'id_token',
      'authorization_code',
      'code_verifier',
      'client_secret',
      'minted_token',
      'Set-Cookie value',
      'cookie sent',
      'Authorization header sent',
      'CACHE_KEYS',
      'SESSION_KEYS',
    ]) {
      expect(kinds, kind).toContain(kind);
    }
    // Bearer tokens no authority issued (alg none, another key's signature, not a JWT) are searched for too.
    const sentOnly = [...secrets].filter(([, kind]) => kind === 'Authorization header sent').length;
    expect(sentOnly).toBeGreaterThanOrEqual(5);
    const lines = capturedLines();
    // The host's log and a handler called directly (the 502 above, its logs discarded before) reach the audit.
    expect(lines.some((l) => /^information me: token-cache-telemetry /.test(l))).toBe(true);
    expect(lines.some((l) => /^warning me: downstream call failed/.test(l))).toBe(true);
    expect(findLeaks(lines, secrets)).toEqual([]);
  });
});
