/**
 * Continuous Access Evaluation end to end, over HTTP on the local stack: a critical event on the local authority,
 * the downstream API's claims challenge, what each flow's caller sees, what the partition holds after, and what a
 * challenge costs in store reads/writes, authority requests and downstream calls.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enableBackground, readOptIn } from '../app/daemons/optin.js';
import { httpsRequest, trustingAgent } from '../dev/https-trust.js';
import { parseClaimsChallenge } from '../lib/index.js';
import { CookieJar, invokeMe, runtimeCalling, startTestApp, testContext, visit, type TestApp } from './support/app.js';
import { capturedLines } from './support/log-audit.js';
import { signIn as signInDirect } from './support/signin.js';
import { authority, captureLogger, downstream, newId, stack } from './support/stack.js';
import { readStored, section } from './support/stored.js';

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

/** A client app's token for this web API; `xms_cc: ['cp1']`: the client declared it handles claims challenges. */
const callerToken = (oid: string, extra: Record<string, unknown> = {}) =>
  authority.mint({ oid, sub: oid, tid: app.tenantId, aud: `api://${app.clientId}`, scp: 'access_as_user', ...extra });

describe('web API GET /api/me', () => {
  const me = (token: string) => fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });

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

  it('a revoked session: a cp1 caller gets the claims challenge; signed in again, its next call succeeds', async () => {
    const { oid, partitionKey, token, rejected } = await servedCaller({ xms_cc: ['cp1'] });
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

    // The client signs in again with the claims: its new token for this API is issued after the event.
    const again = await callerToken(oid, { xms_cc: ['cp1'], iat: at });
    const next = await meter();
    const answered = await me(again);
    expect(answered.status).toBe(200);
    expect(await answered.json()).toMatchObject({ id: oid });
    expect(await next()).toEqual({ reads: 1, writes: 1, authority: 1, downstream: 1, challenges: 0 });
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
  /** App login → authority (login_hint skips the picker) → app callback; returns the callback's answer. */
  async function completeAt(jar: CookieJar, authorizeUrl: string, loginHint: string): Promise<Response> {
    const authorize = new URL(authorizeUrl);
    expect(authorize.origin).toBe(stack().authority.url);
    authorize.searchParams.set('login_hint', loginHint);
    const answer = await httpsRequest(trustingAgent(stack().authority.ca), authorize.toString());
    expect(answer.status).toBe(302);
    return visit(jar, answer.headers.location!);
  }

  async function signIn(jar: CookieJar, loginHint: string): Promise<{ oid: string; partitionKey: string }> {
    const login = await visit(jar, `${app.url}/api/auth/login`);
    expect((await completeAt(jar, login.headers.get('location')!, loginHint)).status).toBe(302);
    const page = await (await visit(jar, `${app.url}/api/profile`)).text();
    const oid = /<th>id<\/th><td>([^<]+)<\/td>/.exec(page)![1]!;
    return { oid, partitionKey: `${oid}.${app.tenantId}` };
  }

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

  it('does not send the person round again when the sign-in it asked for did not satisfy the claims', async () => {
    const jar = new CookieJar();
    const { oid } = await signIn(jar, `ken-${newId()}@contoso.test`);
    await authority.criticalEvent(oid, 'revoke_session', app.tenantId);
    // As if this browser had just come back from a claims sign-in.
    jar.cookies.set('__Host-msal_claims_signin', '1');
    const response = await visit(jar, `${app.url}/api/profile`);
    expect(response.status).toBe(502);
    expect(await response.text()).toMatch(/still rejects your tokens after the sign-in it asked for/);
    expect(jar.cookies.has('__Host-msal_claims_signin')).toBe(false);
  });
});

describe('daemons', () => {
  it('user daemon: a reissued user succeeds silently with the claims; a revoked one is paused with the reason', async () => {
    const logger = captureLogger();
    const scopes = [...app.runtime.settings.web.downstreamScopes];
    const reissued = await signInDirect(app.cache, `lena-${newId()}@contoso.test`, scopes, logger);
    const revoked = await signInDirect(app.cache, `mike-${newId()}@contoso.test`, scopes, logger);
    for (const { partitionKey } of [reissued, revoked]) await enableBackground(app.runtime, partitionKey);
    const rejected = [reissued.result.accessToken, revoked.result.accessToken];
    await authority.criticalEvent(reissued.partitionKey.split('.')[0]!, 'reissue', app.tenantId);
    await authority.criticalEvent(revoked.partitionKey.split('.')[0]!, 'revoke_session', app.tenantId);

    app.logs.length = 0;
    const cost = await meter();
    await app.host.timers.fire('userDaemon');
    expect(app.logs.find((l) => l.includes('user daemon: processed'))).toMatch(
      /processed 2, succeeded 1, paused 1, failed 0/,
    );
    // Per user: 2 reads and 1 write of the token store; 1 refresh; 2 downstream calls (reissued) or 1 (revoked).
    expect(await cost()).toEqual({ reads: 4, writes: 2, authority: 2, downstream: 3, challenges: 2 });
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

    app.logs.length = 0;
    const next = await meter();
    await app.host.timers.fire('userDaemon');
    // The paused person is still listed (their opt-in is sealed, its status inside) and skipped.
    expect(app.logs.find((l) => l.includes('user daemon: processed'))).toMatch(
      /processed 2, succeeded 1, paused 0, failed 0, skipped 1/,
    );
    expect(await next()).toMatchObject({ authority: 0, downstream: 1, challenges: 0 });
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
  /** A downstream API that answers every call with `header` (a claims challenge the authority can satisfy). */
  async function challengingApi(header: string): Promise<{ url: string; calls: () => number; close: () => void }> {
    const { createServer } = await import('node:http');
    let calls = 0;
    const server = createServer((_req, res) => {
      calls++;
      res.writeHead(401, { 'www-authenticate': header, 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    return { url: `http://127.0.0.1:${port}/v1.0/me`, calls: () => calls, close: () => server.close() };
  }

  const pastNbf = () => Buffer.from(JSON.stringify(nbfClaims(Math.floor(Date.now() / 1000) - 60))).toString('base64');

  it('web API: a challenge repeated after the claims retry, or a malformed one, is a 502 with the reason', async () => {
    const cases: [string, RegExp, number, number][] = [
      // Cold partition: the first on-behalf-of, then the one with the claims; the second challenge ends it.
      [
        `Bearer realm="", error="insufficient_claims", claims="${pastNbf()}"`,
        /claims challenge again.*one claims retry per call/,
        2,
        2,
      ],
      // Not retried: no claims to ask for.
      [
        'Bearer error="insufficient_claims", claims="not base64!"',
        /^downstream API answered HTTP 401 with an unusable claims challenge: the claims parameter is not base64$/,
        1,
        1,
      ],
    ];
    for (const [header, reason, calls, tokenRequests] of cases) {
      const api = await challengingApi(header);
      try {
        const token = await callerToken(newId(), { xms_cc: ['cp1'] });
        const before = await authority.requests(app.clientId);
        const response = await invokeMe(app, runtimeCalling(app, api.url), token);
        expect(response.status).toBe(502);
        const body = response.jsonBody as { error: string; error_description: string };
        expect(body.error).toBe('downstream_failed');
        expect(body.error_description).toMatch(reason);
        expect(api.calls()).toBe(calls);
        expect((await authority.requests(app.clientId)).token).toBe(before.token + tokenRequests);
      } finally {
        api.close();
      }
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
