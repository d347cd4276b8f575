/**
 * Continuous Access Evaluation end to end, over HTTP on the local stack: a critical event on the local authority,
 * the downstream API's claims challenge, what each flow's caller sees, what the partition holds after, and what a
 * challenge costs in store reads/writes, authority requests and downstream calls.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableBackground, enableBackground, readOptIn, renewBackgroundOnSignIn } from '../app/daemons/optin.js';
import { installAppRuntime } from '../app/host/registration.js';
import { httpsRequest, trustingAgent } from '../dev/https-trust.js';
import { signInWithLoginHint } from '../dev/sign-in.js';
import { createMemoryStore, parseClaimsChallenge } from '../lib/index.js';
import { CookieJar, runtimeCalling, startTestApp, testContext, visit, type TestApp } from './support/app.js';
import { capturedLines } from './support/log-audit.js';
import { signIn as signInDirect } from './support/signin.js';
import {
  authority,
  captureLogger,
  downstream,
  newApp,
  newId,
  stack,
  type TestApp as CacheApp,
} from './support/stack.js';
import { expireAccessTokens, readStored, section } from './support/stored.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
});

interface Cost {
  reads: number;
  writes: number;
  /** Token requests to the authority. */
  authority: number;
  /** Requests to the downstream API with a token of this app's tenant. */
  downstream: number;
  challenges: number;
}

/** Starts counting; the returned function tells what happened since. */
async function meter(): Promise<() => Promise<Cost>> {
  const store = { ...app.store.counts };
  const token = (await authority.requests(app.clientId)).token;
  const api = await downstream.requests(app.tenantId);
  return async () => {
    const apiNow = await downstream.requests(app.tenantId);
    return {
      reads: app.store.counts.read - store.read,
      writes: app.store.counts.write - store.write,
      authority: (await authority.requests(app.clientId)).token - token,
      downstream: apiNow.total - api.total,
      challenges: apiNow.challenges - api.challenges,
    };
  };
}

/** Fires the user daemon's timer once: its summary log line and what the run cost. */
async function userDaemonRun(): Promise<{ summary: string | undefined; cost: Cost }> {
  app.logs.length = 0;
  const cost = await meter();
  await app.host.timers.fire('userDaemon');
  return { summary: app.logs.find((l) => l.includes('user daemon: processed')), cost: await cost() };
}

/** The secrets of the access tokens a partition holds (read past the counting wrapper). */
async function storedAccessTokens(partitionKey: string): Promise<string[]> {
  const doc = await readStored(app.store.inner, app.cache.keyRing, partitionKey);
  return Object.values(section(doc, 'AccessToken')).map((entry) => entry.secret as string);
}

async function storedRefreshTokens(partitionKey: string): Promise<number> {
  const doc = await readStored(app.store.inner, app.cache.keyRing, partitionKey);
  return Object.keys(section(doc, 'RefreshToken')).length;
}

function nbfClaims(at: number): unknown {
  return { access_token: { nbf: { essential: true, value: String(at) } } };
}

/**
 * A client app (`client`, a registration of its own) signs the user in interactively (auth code + PKCE,
 * `login_hint` skips the picker), with `claims` when given, and gets its access token for this web API.
 */
async function clientSignIn(client: CacheApp, loginHint: string, claims?: string): Promise<string> {
  const scopes = [`api://${app.clientId}/access_as_user`];
  const { result } = await signInWithLoginHint(client.tokens, stack().authority.ca, loginHint, scopes, {}, claims);
  return result.accessToken;
}

/** A client app's token for this web API; `xms_cc: ['cp1']`: the client declared it handles claims challenges. */
const callerToken = (oid: string, extra: Record<string, unknown> = {}) => authority.webApiToken(app, oid, extra);

/** Authority (login_hint skips the picker) → app callback; returns the callback's answer. */
async function completeAt(jar: CookieJar, authorizeUrl: string, loginHint: string): Promise<Response> {
  const authorize = new URL(authorizeUrl);
  expect(authorize.origin).toBe(stack().authority.url);
  authorize.searchParams.set('login_hint', loginHint);
  const answer = await httpsRequest(trustingAgent(stack().authority.ca), authorize.toString());
  expect(answer.status).toBe(302);
  return visit(jar, answer.headers.location!);
}

/** A person signs in to the web app in `jar` and sees the profile once. */
async function signIn(jar: CookieJar, loginHint: string): Promise<{ oid: string; partitionKey: string }> {
  const login = await visit(jar, `${app.url}/api/auth/login`);
  expect((await completeAt(jar, login.headers.get('location')!, loginHint)).status).toBe(302);
  const page = await (await visit(jar, `${app.url}/api/profile`)).text();
  const oid = /<th>id<\/th><td>([^<]+)<\/td>/.exec(page)![1]!;
  return { oid, partitionKey: `${oid}.${app.tenantId}` };
}

/** Runs `body` with the app's functions calling `downstreamUrl` instead of the stack's downstream API (same stores). */
async function calling<T>(downstreamUrl: string, body: () => Promise<T>): Promise<T> {
  installAppRuntime(runtimeCalling(app, downstreamUrl));
  try {
    return await body();
  } finally {
    installAppRuntime(app.runtime);
  }
}

/** A downstream API that answers every call with `header`; it keeps the bearer tokens it was sent. */
async function challengingApi(
  header: string,
): Promise<{ url: string; calls: () => number; tokens: string[]; close: () => void }> {
  const { createServer } = await import('node:http');
  const tokens: string[] = [];
  const server = createServer((req, res) => {
    tokens.push(/^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
    res.writeHead(401, { 'www-authenticate': header, 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/v1.0/me`, calls: () => tokens.length, tokens, close: () => server.close() };
}

const pastNbf = () => Buffer.from(JSON.stringify(nbfClaims(Math.floor(Date.now() / 1000) - 60))).toString('base64');
/** A claims challenge the authority can satisfy silently. */
const satisfiable = () => `Bearer realm="", error="insufficient_claims", claims="${pastNbf()}"`;

const me = (token: string) => fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });

describe('web API GET /api/me', () => {
  /** A new user's caller, served once (its downstream token cached); `rejected` is that token. */
  async function servedCaller(extra: Record<string, unknown>) {
    const oid = newId();
    const partitionKey = `${oid}.${app.tenantId}`;
    const token = await callerToken(oid, extra);
    expect((await me(token)).status).toBe(200);
    const [rejected] = await storedAccessTokens(partitionKey);
    return { oid, partitionKey, token, rejected: rejected! };
  }

  it('a reissue event: one on-behalf-of with the claims, then 200; the rejected token leaves the partition', async () => {
    const { oid, partitionKey, token, rejected } = await servedCaller({ xms_cc: ['cp1'] });
    expect(decodeJwt(rejected).xms_cc).toEqual(['cp1']);
    await authority.criticalEvent(oid, 'reissue', app.tenantId);

    const cost = await meter();
    const response = await me(token);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id: oid });
    expect(await cost()).toEqual({ reads: 2, writes: 1, authority: 1, downstream: 2, challenges: 1 });
    const stored = await storedAccessTokens(partitionKey);
    expect(stored).toHaveLength(1);
    expect(stored).not.toContain(rejected);

    const next = await meter();
    expect((await me(token)).status).toBe(200);
    expect(await next()).toEqual({ reads: 1, writes: 0, authority: 0, downstream: 1, challenges: 0 });
  });

  it('a revoked session: a cp1 caller gets the claims challenge, again on its next call with that token; signed in again with the claims, its next call succeeds', async () => {
    // A client app of its own that declares cp1 signs the user in for this web API, as a real caller would.
    const client = newApp(createMemoryStore(), { tenantId: app.tenantId, clientCapabilities: ['cp1'] });
    const loginHint = `nina-${newId()}@contoso.test`;
    const token = await clientSignIn(client, loginHint);
    const { oid, xms_cc, iat } = decodeJwt(token) as { oid: string; xms_cc: unknown; iat: number };
    expect(xms_cc).toEqual(['cp1']);
    const partitionKey = `${oid}.${app.tenantId}`;
    expect((await me(token)).status).toBe(200);
    const [rejected] = await storedAccessTokens(partitionKey);
    const { at } = await authority.criticalEvent(oid, 'revoke_session', app.tenantId);

    const cost = await meter();
    const response = await me(token);
    expect(response.status).toBe(401);
    const body = (await response.json()) as { error: string; error_description: string };
    expect(body.error).toBe('insufficient_claims');
    const header = response.headers.get('www-authenticate');
    expect(header).toMatch(/^Bearer realm="", authorization_uri="[^"]+", error="insufficient_claims", /);
    const challenge = parseClaimsChallenge(header)!;
    expect(JSON.parse(challenge.claims)).toEqual(nbfClaims(at));
    expect(challenge.authorizationUri).toBe(`${stack().authority.url}/${app.tenantId}/oauth2/v2.0/authorize`);
    expect(await cost()).toEqual({ reads: 2, writes: 1, authority: 1, downstream: 1, challenges: 1 });
    expect(await storedAccessTokens(partitionKey)).not.toContain(rejected);
    expect(await storedAccessTokens(partitionKey)).toEqual([]);

    // The same stale token again (a second or concurrent call): the downstream token is gone and the identity
    // provider refuses the token on-behalf-of; the caller still gets a claims challenge, for a token newer than it.
    const repeat = await meter();
    const again = await me(token);
    expect(again.status).toBe(401);
    expect(((await again.json()) as { error: string }).error).toBe('insufficient_claims');
    const second = parseClaimsChallenge(again.headers.get('www-authenticate'))!;
    expect(JSON.parse(second.claims)).toEqual(nbfClaims(iat + 1));
    expect(second.authorizationUri).toBe(challenge.authorizationUri);
    expect(await repeat()).toEqual({ reads: 1, writes: 0, authority: 1, downstream: 0, challenges: 0 });

    // The client signs in again with the claims: its new token for this API is issued after the event.
    const fresh = await clientSignIn(client, loginHint, challenge.claims);
    expect(decodeJwt(fresh).iat).toBeGreaterThanOrEqual(at);
    const next = await meter();
    const answered = await me(fresh);
    expect(answered.status).toBe(200);
    expect(await answered.json()).toMatchObject({ id: oid });
    expect(await next()).toEqual({ reads: 1, writes: 1, authority: 1, downstream: 1, challenges: 0 });
  });

  it("a cp1 client's token without xms_cc (this API's registration does not request the optional claim): a plain 401", async () => {
    await authority.requestXmsCc(`api://${app.clientId}`, false);
    try {
      const client = newApp(createMemoryStore(), { tenantId: app.tenantId, clientCapabilities: ['cp1'] });
      const token = await clientSignIn(client, `omar-${newId()}@contoso.test`);
      const { oid, xms_cc } = decodeJwt(token) as { oid: string; xms_cc: unknown };
      expect(xms_cc).toBeUndefined();
      expect((await me(token)).status).toBe(200);
      await authority.criticalEvent(oid, 'revoke_session', app.tenantId);
      const response = await me(token);
      expect(response.status).toBe(401);
      const header = response.headers.get('www-authenticate');
      expect(header).toBe('Bearer error="interaction_required", error_description="user interaction required"');
      expect(parseClaimsChallenge(header)).toBeUndefined();
    } finally {
      await authority.requestXmsCc(`api://${app.clientId}`, true);
    }
  });

  it('a caller without cp1 never receives a claims challenge: a plain interaction_required 401', async () => {
    const { oid, partitionKey, token, rejected } = await servedCaller({});
    await authority.criticalEvent(oid, 'revoke_session', app.tenantId);

    const response = await me(token);
    expect(response.status).toBe(401);
    const header = response.headers.get('www-authenticate')!;
    expect(header).toBe('Bearer error="interaction_required", error_description="user interaction required"');
    expect(parseClaimsChallenge(header)).toBeUndefined();
    const body = (await response.json()) as { error: string; error_description: string };
    expect(body.error).toBe('interaction_required');
    expect(body.error_description).toMatch(/did not declare the cp1 client capability/);
    expect(await storedAccessTokens(partitionKey)).not.toContain(rejected);

    // Its next call with that token: refused on-behalf-of, the downstream API not asked again; still no challenge.
    const next = await meter();
    const again = await me(token);
    expect(again.status).toBe(401);
    expect(again.headers.get('www-authenticate')).toBe(
      'Bearer error="interaction_required", error_description="user interaction required"',
    );
    expect(((await again.json()) as { error: string }).error).toBe('interaction_required');
    expect(await next()).toEqual({ reads: 1, writes: 0, authority: 1, downstream: 0, challenges: 0 });

    // The authority's own claims challenge (Conditional Access) is withheld from it alike, and given to a cp1 caller.
    const other = newId();
    await authority.requireInteraction(other, { access_token: { acrs: { essential: true, value: 'c1' } } });
    try {
      const plain = await me(await callerToken(other));
      expect(plain.status).toBe(401);
      expect(parseClaimsChallenge(plain.headers.get('www-authenticate'))).toBeUndefined();
      const capable = await me(await callerToken(other, { xms_cc: ['cp1'] }));
      expect(capable.status).toBe(401);
      expect(JSON.parse(parseClaimsChallenge(capable.headers.get('www-authenticate'))!.claims)).toEqual({
        access_token: { acrs: { essential: true, value: 'c1' } },
      });
    } finally {
      await authority.requireInteraction(other, null);
    }
  });
});

describe('web app GET /api/profile', () => {
  it('a reissue event: silent with the claims, the page shows; the rejected token leaves the partition', async () => {
    const jar = new CookieJar();
    const { oid, partitionKey } = await signIn(jar, `ivan-${newId()}@contoso.test`);
    const [rejected] = await storedAccessTokens(partitionKey);
    await authority.criticalEvent(oid, 'reissue', app.tenantId);

    const cost = await meter();
    const page = await visit(jar, `${app.url}/api/profile`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/rejected the cached token with a claims challenge/);
    expect(await cost()).toEqual({ reads: 2, writes: 1, authority: 1, downstream: 2, challenges: 1 });
    const stored = await storedAccessTokens(partitionKey);
    expect(stored).toHaveLength(1);
    expect(stored).not.toContain(rejected);

    const next = await meter();
    const again = await visit(jar, `${app.url}/api/profile`);
    expect(await again.text()).toContain('served from the token cache');
    expect(await next()).toEqual({ reads: 1, writes: 0, authority: 0, downstream: 1, challenges: 0 });
  });

  it('a revoked session: a sign-in carrying the claims, then back to the profile without another challenge', async () => {
    const jar = new CookieJar();
    const loginHint = `judy-${newId()}@contoso.test`;
    const { oid, partitionKey } = await signIn(jar, loginHint);
    const [rejected] = await storedAccessTokens(partitionKey);
    const { at } = await authority.criticalEvent(oid, 'revoke_session', app.tenantId);

    const cost = await meter();
    const challenged = await visit(jar, `${app.url}/api/profile`);
    expect(challenged.status).toBe(302);
    const authorizeUrl = challenged.headers.get('location')!;
    const claims = JSON.parse(new URL(authorizeUrl).searchParams.get('claims')!) as { access_token: unknown };
    expect(claims.access_token).toMatchObject((nbfClaims(at) as { access_token: object }).access_token);
    expect(claims.access_token).toMatchObject({ xms_cc: { values: ['cp1'] } });
    expect(await cost()).toEqual({ reads: 2, writes: 1, authority: 1, downstream: 1, challenges: 1 });
    expect(await storedAccessTokens(partitionKey)).not.toContain(rejected);
    expect(await storedAccessTokens(partitionKey)).toEqual([]);
    // The refresh token the authority revoked is gone with it, in that same write.
    expect(await storedRefreshTokens(partitionKey)).toBe(0);
    expect(jar.cookies.get('__Host-msal_claims_signin')).toBe('1');

    const callback = await completeAt(jar, authorizeUrl, loginHint);
    expect(callback.headers.get('location')).toBe('/api/profile');
    const next = await meter();
    const page = await visit(jar, `${app.url}/api/profile`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/You signed in again/);
    expect(await next()).toEqual({ reads: 1, writes: 0, authority: 0, downstream: 1, challenges: 0 });
    expect(jar.cookies.has('__Host-msal_claims_signin')).toBe(false);
    const [fresh] = await storedAccessTokens(partitionKey);
    expect(decodeJwt(fresh!).iat).toBeGreaterThanOrEqual(at);
  });

  it("the identity provider's own claims (a step-up) when the token must be refreshed: a sign-in carrying them, which meets them", async () => {
    const jar = new CookieJar();
    const loginHint = `lisa-${newId()}@contoso.test`;
    const { oid, partitionKey } = await signIn(jar, loginHint);
    const stepUp = { access_token: { acrs: { essential: true, value: 'c1' } } };
    await expireAccessTokens(app.store.inner, app.cache.keyRing, partitionKey);
    await authority.requireInteraction(oid, stepUp);
    try {
      const challenged = await visit(jar, `${app.url}/api/profile`);
      expect(challenged.status).toBe(302);
      const authorizeUrl = challenged.headers.get('location')!;
      const claims = JSON.parse(new URL(authorizeUrl).searchParams.get('claims')!) as { access_token: unknown };
      expect(claims.access_token).toMatchObject(stepUp.access_token);
      expect(jar.cookies.get('__Host-msal_claims_signin')).toBe('1');
      expect((await completeAt(jar, authorizeUrl, loginHint)).headers.get('location')).toBe('/api/profile');
      const page = await visit(jar, `${app.url}/api/profile`);
      expect(page.status).toBe(200);
      expect(jar.cookies.has('__Host-msal_claims_signin')).toBe(false);
    } finally {
      await authority.requireInteraction(oid, null);
    }
  });

  /**
   * A person signs in, their session is revoked, the profile sends them to a sign-in carrying the claims, and they
   * come back through the authority to the callback: the jar holds the claims sign-in cookie.
   */
  async function claimsSignInRound(jar: CookieJar, loginHint: string): Promise<{ oid: string }> {
    const { oid } = await signIn(jar, loginHint);
    await authority.criticalEvent(oid, 'revoke_session', app.tenantId);
    const challenged = await visit(jar, `${app.url}/api/profile`);
    expect(challenged.status).toBe(302);
    const callback = await completeAt(jar, challenged.headers.get('location')!, loginHint);
    expect(callback.headers.get('location')).toBe('/api/profile');
    expect(jar.cookies.get('__Host-msal_claims_signin')).toBe('1');
    return { oid };
  }

  it('does not send the person round again when the sign-in it asked for did not satisfy the claims', async () => {
    const jar = new CookieJar();
    const { oid } = await claimsSignInRound(jar, `ken-${newId()}@contoso.test`);
    // Revoked again before the profile: the downstream API rejects the new sign-in's token too, and the identity
    // provider needs the person once more.
    await authority.criticalEvent(oid, 'revoke_session', app.tenantId);
    const cost = await meter();
    const response = await visit(jar, `${app.url}/api/profile`);
    expect(response.status).toBe(502);
    expect(await response.text()).toMatch(/still rejects your tokens after the sign-in it asked for/);
    expect(jar.cookies.has('__Host-msal_claims_signin')).toBe(false);
    // The token of the sign-in (1 read), then a refresh with the claims, refused (1 read, 1 write removing both).
    expect(await cost()).toEqual({ reads: 2, writes: 1, authority: 1, downstream: 1, challenges: 1 });
  });

  it('clears the claims sign-in cookie when the profile after it fails otherwise (502, 503)', async () => {
    const api = await challengingApi(satisfiable());
    try {
      const repeated = new CookieJar();
      await claimsSignInRound(repeated, `lars-${newId()}@contoso.test`);
      const bad = await calling(api.url, () => visit(repeated, `${app.url}/api/profile`));
      expect(bad.status).toBe(502);
      expect(repeated.cookies.has('__Host-msal_claims_signin')).toBe(false);

      const unavailable = new CookieJar();
      await claimsSignInRound(unavailable, `lea-${newId()}@contoso.test`);
      await authority.failNext(app.clientId, 1, 503);
      const later = await calling(api.url, () => visit(unavailable, `${app.url}/api/profile`));
      expect(later.status).toBe(503);
      expect(unavailable.cookies.has('__Host-msal_claims_signin')).toBe(false);
    } finally {
      api.close();
    }
  });
});

describe('daemons', () => {
  it('user daemon: a reissued user succeeds silently with the claims; a revoked one is paused with the reason, and works again once signed in again', async () => {
    const logger = captureLogger();
    const scopes = [...app.runtime.settings.web.downstreamScopes];
    const reissued = await signInDirect(app.cache, `lena-${newId()}@contoso.test`, scopes, logger);
    const revokedHint = `mike-${newId()}@contoso.test`;
    const revoked = await signInDirect(app.cache, revokedHint, scopes, logger);
    for (const { partitionKey } of [reissued, revoked]) await enableBackground(app.runtime, partitionKey);
    const rejected = [reissued.result.accessToken, revoked.result.accessToken];
    await authority.criticalEvent(reissued.partitionKey.split('.')[0]!, 'reissue', app.tenantId);
    await authority.criticalEvent(revoked.partitionKey.split('.')[0]!, 'revoke_session', app.tenantId);

    const first = await userDaemonRun();
    expect(first.summary).toMatch(/processed 2, succeeded 1, paused 1, failed 0/);
    // Per user: 2 reads and 1 write of the token store; 1 refresh; 2 downstream calls (reissued) or 1 (revoked).
    expect(first.cost).toEqual({ reads: 4, writes: 2, authority: 2, downstream: 3, challenges: 2 });
    expect(await readOptIn(app.runtime, revoked.partitionKey, logger)).toMatchObject({
      status: 'paused',
      reason: 'insufficient_claims:invalid_grant',
    });
    expect(await readOptIn(app.runtime, reissued.partitionKey, logger)).toMatchObject({ status: 'active' });
    for (const { partitionKey } of [reissued, revoked]) {
      const stored = await storedAccessTokens(partitionKey);
      for (const token of rejected) expect(stored).not.toContain(token);
    }
    expect(await storedAccessTokens(revoked.partitionKey)).toEqual([]);

    const next = await userDaemonRun();
    // The paused person is still listed (their opt-in is sealed, its status inside) and skipped.
    expect(next.summary).toMatch(/processed 2, succeeded 1, paused 0, failed 0, skipped 1/);
    // Only the active person's partition is read: served from the cache the claims retry filled.
    expect(next.cost).toEqual({ reads: 1, writes: 0, authority: 0, downstream: 1, challenges: 0 });

    // The revoked person signs in again (as the web app's callback does: new tokens, the opt-in renewed).
    const again = await signInDirect(app.cache, revokedHint, scopes, logger);
    expect(again.partitionKey).toBe(revoked.partitionKey);
    expect(await renewBackgroundOnSignIn(app.runtime, revoked.partitionKey, logger)).toBe(true);
    const third = await userDaemonRun();
    expect(third.summary).toMatch(/processed 2, succeeded 2, paused 0, failed 0, skipped 0/);
    expect(third.cost).toEqual({ reads: 2, writes: 0, authority: 0, downstream: 2, challenges: 0 });
    expect(await readOptIn(app.runtime, revoked.partitionKey, logger)).toMatchObject({ status: 'active' });
    for (const { partitionKey } of [reissued, revoked]) await disableBackground(app.runtime, partitionKey);
  });

  it('app daemon: client credentials with the claims, once; the next run is served from the cache', async () => {
    await app.host.timers.fire('appDaemon');
    const appPartition = `${app.clientId}.${app.tenantId}`;
    const [rejected] = await storedAccessTokens(appPartition);
    const { oid } = decodeJwt(rejected!) as { oid: string };
    await authority.criticalEvent(oid, 'reissue', app.tenantId);

    app.logs.length = 0;
    const cost = await meter();
    await app.host.timers.fire('appDaemon');
    expect(
      app.logs.some((l) => /app daemon: ok \(token from the identity provider, after a claims challenge\)/.test(l)),
    ).toBe(true);
    expect(await cost()).toEqual({ reads: 2, writes: 1, authority: 1, downstream: 2, challenges: 1 });
    const stored = await storedAccessTokens(appPartition);
    expect(stored).toHaveLength(1);
    expect(stored).not.toContain(rejected);

    const next = await meter();
    await app.host.timers.fire('appDaemon');
    expect(await next()).toEqual({ reads: 1, writes: 0, authority: 0, downstream: 1, challenges: 0 });
  });
});

describe('no loops', () => {
  const malformed = 'Bearer error="insufficient_claims", claims="not base64!"';
  const repeated = /claims challenge again.*one claims retry per call/;
  /** The stack's downstream API is not asked: every call goes to the challenging one. */
  const elsewhere = { downstream: 0, challenges: 0 };

  it('web API: a challenge repeated after the claims retry is a 502 with the reason', async () => {
    const api = await challengingApi(satisfiable());
    try {
      const token = await callerToken(newId(), { xms_cc: ['cp1'] });
      const cost = await meter();
      const response = await calling(api.url, () => me(token));
      expect(response.status).toBe(502);
      const body = (await response.json()) as { error: string; error_description: string };
      expect(body.error).toBe('downstream_failed');
      expect(body.error_description).toMatch(repeated);
      expect(api.calls()).toBe(2);
      // Cold partition: the first on-behalf-of (1 read, 1 write), then the one with the claims (1 read, 1 write).
      expect(await cost()).toEqual({ reads: 2, writes: 2, authority: 2, ...elsewhere });
    } finally {
      api.close();
    }
  });

  it('web API: a malformed challenge is a 502 with the reason; the rejected token leaves the partition, so the next call sends another', async () => {
    const api = await challengingApi(malformed);
    try {
      const oid = newId();
      const partitionKey = `${oid}.${app.tenantId}`;
      const token = await callerToken(oid, { xms_cc: ['cp1'] });
      const cost = await meter();
      const response = await calling(api.url, () => me(token));
      expect(response.status).toBe(502);
      const body = (await response.json()) as { error: string; error_description: string };
      expect(body.error_description).toMatch(
        /^downstream API answered HTTP 401 with an unusable claims challenge: the claims parameter is not base64$/,
      );
      expect(api.calls()).toBe(1);
      const [rejected] = api.tokens;
      const stored = await storedAccessTokens(partitionKey);
      expect(stored).not.toContain(rejected);
      expect(stored).toHaveLength(1);
      // The first on-behalf-of, then one that bypasses the cache: the rejected token leaves in its write.
      expect(await cost()).toEqual({ reads: 2, writes: 2, authority: 2, ...elsewhere });

      const next = await meter();
      expect((await calling(api.url, () => me(token))).status).toBe(502);
      expect(api.tokens[1]).toBe(stored[0]);
      expect(await next()).toEqual({ reads: 2, writes: 1, authority: 1, ...elsewhere });
    } finally {
      api.close();
    }
  });

  it('web app: a challenge repeated after the silent claims retry is a 502 with the reason; no sign-in', async () => {
    const jar = new CookieJar();
    await signIn(jar, `olga-${newId()}@contoso.test`);
    const api = await challengingApi(satisfiable());
    try {
      const cost = await meter();
      const response = await calling(api.url, () => visit(jar, `${app.url}/api/profile`));
      expect(response.status).toBe(502);
      expect(((await response.json()) as { error_description: string }).error_description).toMatch(repeated);
      expect(api.calls()).toBe(2);
      // The cached token (1 read), then a refresh with the claims (1 read, 1 write).
      expect(await cost()).toEqual({ reads: 2, writes: 1, authority: 1, ...elsewhere });
      expect(jar.cookies.has('__Host-msal_claims_signin')).toBe(false);
    } finally {
      api.close();
    }
  });

  it('web app: a malformed challenge is a 502 with the reason; the rejected token leaves the partition', async () => {
    const jar = new CookieJar();
    const { partitionKey } = await signIn(jar, `pavel-${newId()}@contoso.test`);
    const api = await challengingApi(malformed);
    try {
      const cost = await meter();
      const response = await calling(api.url, () => visit(jar, `${app.url}/api/profile`));
      expect(response.status).toBe(502);
      expect(((await response.json()) as { error_description: string }).error_description).toMatch(
        /unusable claims challenge/,
      );
      const stored = await storedAccessTokens(partitionKey);
      expect(stored).not.toContain(api.tokens[0]);
      expect(stored).toHaveLength(1);
      // The cached token (1 read), then a refresh that bypasses the cache (1 read, 1 write).
      expect(await cost()).toEqual({ reads: 2, writes: 1, authority: 1, ...elsewhere });
    } finally {
      api.close();
    }
  });

  it('user daemon: a challenge repeated after the silent claims retry fails the person for this run, not paused', async () => {
    const logger = captureLogger();
    const scopes = [...app.runtime.settings.web.downstreamScopes];
    const { partitionKey } = await signInDirect(app.cache, `pia-${newId()}@contoso.test`, scopes, logger);
    await enableBackground(app.runtime, partitionKey);
    const api = await challengingApi(satisfiable());
    try {
      app.logs.length = 0;
      const cost = await meter();
      await calling(api.url, () => app.host.timers.fire('userDaemon'));
      expect(app.logs.find((l) => l.includes('user daemon: processed'))).toMatch(
        /processed 1, succeeded 0, paused 0, failed 1/,
      );
      expect(app.logs.find((l) => l.includes(`partition ${partitionKey} failed`))).toMatch(
        /RepeatedClaimsChallenge.*one claims retry per call/,
      );
      expect(api.calls()).toBe(2);
      expect(await cost()).toEqual({ reads: 2, writes: 1, authority: 1, ...elsewhere });
      expect(await readOptIn(app.runtime, partitionKey, logger)).toMatchObject({ status: 'active' });
    } finally {
      api.close();
      await disableBackground(app.runtime, partitionKey);
    }
  });

  it('app daemon: a repeated challenge fails the run with the reason after one retry', async () => {
    const { runAppDaemon } = await import('../app/daemons/app-daemon.js');
    const api = await challengingApi(`Bearer error="insufficient_claims", claims="${pastNbf()}"`);
    try {
      const from = capturedLines().length;
      const result = await runAppDaemon(
        { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: undefined } as never,
        testContext('appDaemon'),
        runtimeCalling(app, api.url),
      );
      expect(result).toMatchObject({ ok: false, failure: 'downstream' });
      expect(api.calls()).toBe(2);
      const lines = capturedLines().slice(from);
      expect(lines.filter((line) => / appDaemon: /.test(line)).join('\n')).toMatch(
        /RepeatedClaimsChallenge.*one claims retry per call/,
      );
    } finally {
      api.close();
    }
  });
});
