import { randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfidentialClientApplication,
  type AccountInfo,
  CryptoProvider,
  InteractionRequiredAuthError,
  PublicClientApplication,
  ServerError,
  type AuthenticationResult,
  type INetworkModule,
} from '@azure/msal-node';
import { createLocalJWKSet, decodeJwt, generateKeyPair, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAuthority, type LocalAuthority } from '../dev/authority/server.js';
import { startDownstreamApi, type DownstreamApi } from '../dev/downstream.js';
import { createNetworkClient, parseClaimsChallenge } from '../lib/index.js';
import { httpsRequest, trustingAgent, type HttpsRequestOptions, type HttpsResponse } from '../dev/https-trust.js';

const SECRET = 'test-secret';
const REDIRECT_URI = 'http://localhost:7071/auth/callback';
const API_SCOPE = (clientId: string) => `api://${clientId}/access_as_user`;
const ALICE = { oid: '6f1a3c52-8d0e-4b7a-9c21-3e5f7a9b1d01', username: 'alice@dev.localhost', name: 'Alice Dev' };

let authority: LocalAuthority;
let agent: Agent;
let networkClient: INetworkModule;

beforeAll(async () => {
  authority = await startLocalAuthority({ clientSecret: SECRET });
  agent = trustingAgent(authority.ca);
  networkClient = createNetworkClient({ ca: authority.ca });
});

afterAll(async () => {
  agent?.destroy();
  await authority?.close();
});

/** Another authority than the shared one, with clients that trust its certificate. */
interface Connected {
  readonly authority: LocalAuthority;
  readonly agent: Agent;
  readonly networkClient: INetworkModule;
}

function connect(other: LocalAuthority): Connected {
  return { authority: other, agent: trustingAgent(other.ca), networkClient: createNetworkClient({ ca: other.ca }) };
}

/** Runs `test` against an authority of its own with a browser listener, closed afterwards. */
async function withBrowserListener(test: (target: Connected) => Promise<void>): Promise<void> {
  const target = connect(await startLocalAuthority({ clientSecret: SECRET, browserPort: 0 }));
  try {
    await test(target);
  } finally {
    target.agent.destroy();
    await target.authority.close();
  }
}

interface AppOptions {
  clientSecret?: string;
  /** Default: the shared authority. */
  on?: Connected;
  /** msal-node's `clientCapabilities`: `['cp1']` makes it a CAE client. */
  capabilities?: string[];
}

function msalApp(clientId: string, tid: string, options: AppOptions = {}): ConfidentialClientApplication {
  const target = options.on?.authority ?? authority;
  return new ConfidentialClientApplication({
    auth: {
      clientId,
      clientSecret: options.clientSecret ?? SECRET,
      authority: target.authorityUrl(tid),
      knownAuthorities: [target.host],
      authorityMetadata: target.metadata(tid),
      ...(options.capabilities ? { clientCapabilities: options.capabilities } : {}),
    },
    system: { networkClient: options.on?.networkClient ?? networkClient },
  });
}

function get(url: string): Promise<HttpsResponse> {
  return httpsRequest(agent, url);
}

function postForm(url: string, params: Record<string, string>): Promise<HttpsResponse> {
  return httpsRequest(agent, url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
}

async function adminPost(action: string, body: unknown): Promise<HttpsResponse> {
  return httpsRequest(agent, `${authority.url}/_admin/${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

function tokenUrl(tid: string): string {
  return `${authority.authorityUrl(tid)}/oauth2/v2.0/token`;
}

/** A client-credentials request for `api://x`, sent as it is, with the client secret and `extra`. */
function requestAppToken(clientId: string, tid: string, extra: Record<string, string> = {}): Promise<HttpsResponse> {
  return postForm(tokenUrl(tid), {
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: SECRET,
    scope: 'api://x/.default',
    ...extra,
  });
}

interface SignIn {
  code: string;
  state: string | null;
  verifier: string;
  nonce: string;
}

/** Opens a URL the way a browser would (no redirects followed). */
type Browser = (url: string) => Promise<HttpsResponse>;

/** The interactive leg, done as a browser would: follow the authorize URL to the 302 with the code. */
async function signIn(
  app: ConfidentialClientApplication,
  loginHint: string,
  scopes: string[],
  browser: Browser = get,
  claims?: string,
): Promise<SignIn> {
  const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
  const state = randomUUID();
  const nonce = randomUUID();
  const url = await app.getAuthCodeUrl({
    scopes,
    redirectUri: REDIRECT_URI,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
    loginHint,
    state,
    nonce,
    ...(claims ? { claims } : {}),
  });
  const response = await browser(url);
  expect(response.status).toBe(302);
  const location = new URL(response.headers.location!);
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
  return { code: location.searchParams.get('code')!, state: location.searchParams.get('state'), verifier, nonce };
}

async function signInAndRedeem(
  app: ConfidentialClientApplication,
  loginHint: string,
  scopes: string[],
  browser: Browser = get,
): Promise<AuthenticationResult> {
  return redeem(app, await signIn(app, loginHint, scopes, browser), scopes);
}

function redeem(app: ConfidentialClientApplication, signedIn: SignIn, scopes: string[]): Promise<AuthenticationResult> {
  const { code, verifier, nonce, state } = signedIn;
  return app.acquireTokenByCode({
    code,
    codeVerifier: verifier,
    nonce,
    redirectUri: REDIRECT_URI,
    scopes,
    state: state!,
  });
}

function cachedRefreshTokens(app: ConfidentialClientApplication): string[] {
  const cache = JSON.parse(app.getTokenCache().serialize()) as { RefreshToken: Record<string, { secret: string }> };
  return Object.values(cache.RefreshToken).map((rt) => rt.secret);
}

/**
 * Calls `listener` with the client-request-id of each request the authority (it runs in this process) answers, when
 * the answer is handed to the operating system. Observed here, not at the client: the order answers arrive in over
 * separate connections is no reliable witness of the order they were sent in. Returns the unsubscribe function.
 */
function onAnswered(listener: (requestId: string) => void): () => void {
  const onStart = (message: unknown) => {
    const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
    const id = request.headers['client-request-id'];
    if (typeof id === 'string') response.once('finish', () => listener(id));
  };
  subscribe('http.server.request.start', onStart);
  return () => unsubscribe('http.server.request.start', onStart);
}

/**
 * `count` refreshes with one refresh token at once, over connections opened beforehand so that they reach the
 * authority together; the answers by client-request-id. Half ask for an id token too: unequal work, to tempt reordering.
 */
async function refreshConcurrently(
  clientId: string,
  tid: string,
  refreshToken: string,
  count: number,
): Promise<Map<string, HttpsResponse>> {
  const warm = new Agent({ ca: authority.ca, keepAlive: true });
  try {
    await Promise.all(Array.from({ length: count }, () => httpsRequest(warm, authority.jwksUri(tid))));
    const answers = new Map<string, HttpsResponse>();
    const refresh = async (withIdToken: boolean) => {
      const requestId = randomUUID();
      const answer = await httpsRequest(warm, tokenUrl(tid), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'client-request-id': requestId },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: clientId,
          client_secret: SECRET,
          refresh_token: refreshToken,
          scope: `${API_SCOPE(clientId)} offline_access${withIdToken ? ' openid profile' : ''}`,
        }).toString(),
      });
      answers.set(requestId, answer);
    };
    await Promise.all(Array.from({ length: count }, (_, i) => refresh(i % 2 === 0)));
    return answers;
  } finally {
    warm.destroy();
  }
}

/** One plain-HTTP request (the browser listener); redirects are returned as they are. */
function plainHttpRequest(url: string, options: HttpsRequestOptions = {}): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const headers = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    const req = httpRequest(url, { method: options.method ?? 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const headers = Object.entries(res.headers).map(([name, value]) => [name, String(value)]);
        resolve({
          status: res.statusCode ?? 0,
          headers: Object.fromEntries(headers) as Record<string, string>,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** An authorize URL without login_hint: the account picker. */
async function pickerUrl(app: ConfidentialClientApplication): Promise<string> {
  const { challenge } = await new CryptoProvider().generatePkceCodes();
  return app.getAuthCodeUrl({
    scopes: ['User.Read'],
    redirectUri: REDIRECT_URI,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
  });
}

async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (e) {
    return e as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

describe('discovery', () => {
  it('serves an Entra-shaped openid-configuration for any tenant, equal to metadata()', async () => {
    const tid = randomUUID();
    const response = await get(`${authority.authorityUrl(tid)}/v2.0/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const config = JSON.parse(response.body) as Record<string, unknown>;
    expect(config).toEqual(JSON.parse(authority.metadata(tid)));
    expect(config).toMatchObject({
      issuer: authority.issuer(tid),
      authorization_endpoint: `${authority.url}/${tid}/oauth2/v2.0/authorize`,
      token_endpoint: `${authority.url}/${tid}/oauth2/v2.0/token`,
      jwks_uri: authority.jwksUri(tid),
      end_session_endpoint: `${authority.url}/${tid}/oauth2/v2.0/logout`,
      response_types_supported: ['code'],
      id_token_signing_alg_values_supported: ['RS256'],
    });
    expect(authority.issuer(tid)).toBe(`${authority.url}/${tid}/v2.0`);
    expect(authority.host).toBe(new URL(authority.url).host);
  });

  it('publishes an RS256 JWKS with a kid', async () => {
    const response = await get(authority.jwksUri(randomUUID()));
    expect(response.status).toBe(200);
    const jwks = JSON.parse(response.body) as JSONWebKeySet;
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwks.keys[0]!.kid).toMatch(/^[\w-]{43}$/);
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('answers 404 for unknown paths', async () => {
    expect((await get(`${authority.url}/${randomUUID()}/oauth2/v2.0/nothing`)).status).toBe(404);
    expect((await get(`${authority.url}/_admin/nothing`)).status).toBe(404);
  });
});

describe('client credentials', () => {
  it('issues an app token through msal-node, then msal serves it from its cache', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const app = msalApp(clientId, tid);
    const first = await app.acquireTokenByClientCredential({ scopes: ['api://downstream/.default'] });
    const second = await app.acquireTokenByClientCredential({ scopes: ['api://downstream/.default'] });
    expect(second?.accessToken).toBe(first?.accessToken);

    const { payload, protectedHeader } = await jwtVerify(first!.accessToken, createLocalJWKSet(authority.jwks), {
      issuer: authority.issuer(tid),
      audience: 'api://downstream',
    });
    expect(protectedHeader).toMatchObject({ alg: 'RS256', kid: authority.jwks.keys[0]!.kid });
    expect(payload).toMatchObject({ tid, azp: clientId, appid: clientId, idtyp: 'app', roles: [], ver: '2.0' });
    expect(payload.oid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(payload.sub).toBe(payload.oid);
    expect(payload.exp! - payload.iat!).toBe(3600);

    expect(authority.requests(clientId)).toMatchObject({ token: 1, byGrant: { client_credentials: 1 } });
  });

  it('gives the same app oid for the same client id', async () => {
    const clientId = randomUUID();
    const one = await msalApp(clientId, randomUUID()).acquireTokenByClientCredential({ scopes: ['api://a/.default'] });
    const two = await msalApp(clientId, randomUUID()).acquireTokenByClientCredential({ scopes: ['api://b/.default'] });
    expect(decodeJwt(one!.accessToken).oid).toBe(decodeJwt(two!.accessToken).oid);
  });

  it('requires a /.default scope', async () => {
    const tid = randomUUID();
    const error = await rejection(
      msalApp(randomUUID(), tid).acquireTokenByClientCredential({ scopes: ['api://downstream/read'] }),
    );
    expect(error).toBeInstanceOf(ServerError);
    expect(error.errorCode).toBe('invalid_scope');
  });

  it('rejects a wrong client secret with 401 invalid_client', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const error = await rejection(
      msalApp(clientId, tid, { clientSecret: 'wrong-secret' }).acquireTokenByClientCredential({
        scopes: ['api://x/.default'],
      }),
    );
    expect(error).toBeInstanceOf(ServerError);
    expect(error.errorCode).toBe('invalid_client');
    expect(error.status).toBe(401);
    expect(error.errorMessage).toContain('AADSTS7000215');

    const raw = await postForm(tokenUrl(tid), {
      grant_type: 'client_credentials',
      client_id: clientId,
      scope: 'api://x/.default',
    });
    expect(raw.status).toBe(401);
    expect(JSON.parse(raw.body)).toMatchObject({ error: 'invalid_client', error_codes: [7000218] });
    expect(authority.requests(clientId)).toMatchObject({ token: 2, byGrant: { client_credentials: 2 } });
  });
});

describe('authorization code with PKCE', () => {
  it('signs in a dev user by login_hint; homeAccountId is oid.tid', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const app = msalApp(clientId, tid);
    const scopes = [API_SCOPE(clientId)];
    const result = await signInAndRedeem(app, ALICE.username, scopes);

    expect(result.account?.homeAccountId).toBe(`${ALICE.oid}.${tid}`);
    expect(result.account?.username).toBe(ALICE.username);
    expect(result.account?.tenantId).toBe(tid);
    expect(result.idTokenClaims).toMatchObject({ aud: clientId, oid: ALICE.oid, tid });
    expect((result.idTokenClaims as { nonce?: string }).nonce).toMatch(/^[0-9a-f-]{36}$/);
    const claims = decodeJwt(result.accessToken);
    expect(claims).toMatchObject({
      aud: `api://${clientId}`,
      scp: 'access_as_user',
      oid: ALICE.oid,
      tid,
      azp: clientId,
      name: ALICE.name,
      preferred_username: ALICE.username,
      iss: authority.issuer(tid),
      ver: '2.0',
    });
    expect(claims.sub).toEqual(expect.any(String));
    expect(cachedRefreshTokens(app)).toEqual([authority.refreshTokens(clientId, ALICE.oid)[0]!.token]);
    expect(authority.requests(clientId)).toMatchObject({ authorize: 1, token: 1, byGrant: { authorization_code: 1 } });
  });

  it('creates an unknown login_hint on the fly with a deterministic oid per tenant', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const hint = `someone-${randomUUID()}@example.test`;
    const first = await signInAndRedeem(msalApp(clientId, tid), hint, ['User.Read']);
    const again = await signInAndRedeem(msalApp(clientId, tid), hint, ['User.Read']);
    const elsewhere = await signInAndRedeem(msalApp(clientId, randomUUID()), hint, ['User.Read']);
    expect(first.account?.localAccountId).toBe(again.account?.localAccountId);
    expect(first.account?.localAccountId).not.toBe(elsewhere.account?.localAccountId);
    expect(first.account?.username).toBe(hint);
    expect(decodeJwt(first.accessToken)).toMatchObject({ aud: 'https://graph.microsoft.com', scp: 'User.Read' });
  });

  it('shows an account picker without login_hint, and its form answers with a code', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const app = msalApp(clientId, tid);
    const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
    const url = await app.getAuthCodeUrl({
      scopes: ['User.Read'],
      redirectUri: REDIRECT_URI,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
      state: 'st',
    });
    const page = await get(url);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('Sign in to the local authority');
    expect(page.body).toContain('Bob Dev');
    expect(page.body).toContain(`value="${ALICE.oid}"`);

    const form = Object.fromEntries(new URL(url).searchParams);
    const posted = await postForm(`${authority.authorityUrl(tid)}/oauth2/v2.0/authorize`, { ...form, user: ALICE.oid });
    expect(posted.status).toBe(302);
    const location = new URL(posted.headers.location!);
    expect(location.searchParams.get('state')).toBe('st');
    const result = await app.acquireTokenByCode({
      code: location.searchParams.get('code')!,
      codeVerifier: verifier,
      redirectUri: REDIRECT_URI,
      scopes: ['User.Read'],
    });
    expect(result.account?.homeAccountId).toBe(`${ALICE.oid}.${tid}`);
    expect(result.idTokenClaims).not.toHaveProperty('nonce');
  });

  it('rejects bad authorize parameters with 400 and the reason', async () => {
    const tid = randomUUID();
    const { challenge } = await new CryptoProvider().generatePkceCodes();
    const base = {
      client_id: randomUUID(),
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid User.Read',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      login_hint: ALICE.username,
    };
    const authorize = (params: Record<string, string | undefined>) => {
      const query = new URLSearchParams(
        Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined),
      );
      return get(`${authority.authorityUrl(tid)}/oauth2/v2.0/authorize?${query.toString()}`);
    };
    expect((await authorize(base)).status).toBe(302);
    const cases: [Record<string, string | undefined>, string][] = [
      [{ code_challenge: undefined }, 'code_challenge'],
      [{ code_challenge_method: 'plain' }, 'S256'],
      [{ code_challenge_method: undefined }, 'S256'],
      [{ response_type: 'token' }, 'response_type'],
      [{ client_id: undefined }, 'client_id'],
      [{ redirect_uri: 'http://example.test/cb' }, 'redirect URI'],
      [{ scope: undefined }, 'scope'],
    ];
    for (const [change, reason] of cases) {
      const response = await authorize({ ...base, ...change });
      expect(response.status, JSON.stringify(change)).toBe(400);
      expect(response.body).toContain(reason);
    }
  });

  it('refuses to redeem a code twice', async () => {
    const clientId = randomUUID();
    const app = msalApp(clientId, randomUUID());
    const { code, verifier, nonce } = await signIn(app, ALICE.username, ['User.Read']);
    const request = { code, codeVerifier: verifier, nonce, redirectUri: REDIRECT_URI, scopes: ['User.Read'] };
    await app.acquireTokenByCode(request);
    const error = await rejection(app.acquireTokenByCode(request));
    expect(error).toBeInstanceOf(ServerError);
    expect(error.errorCode).toBe('invalid_grant');
    expect(error.errorMessage).toContain('AADSTS54005');
  });

  it('checks the PKCE verifier and the redirect URI', async () => {
    const app = msalApp(randomUUID(), randomUUID());
    const other = await new CryptoProvider().generatePkceCodes();
    const first = await signIn(app, ALICE.username, ['User.Read']);
    const badVerifier = await rejection(
      app.acquireTokenByCode({
        code: first.code,
        codeVerifier: other.verifier,
        redirectUri: REDIRECT_URI,
        scopes: ['User.Read'],
      }),
    );
    expect(badVerifier.errorCode).toBe('invalid_grant');
    expect(badVerifier.errorMessage).toContain('AADSTS501481');

    const second = await signIn(app, ALICE.username, ['User.Read']);
    const badRedirect = await rejection(
      app.acquireTokenByCode({
        code: second.code,
        codeVerifier: second.verifier,
        redirectUri: 'http://localhost:9999/other',
        scopes: ['User.Read'],
      }),
    );
    expect(badRedirect.errorCode).toBe('invalid_grant');
    expect(badRedirect.errorMessage).toContain('AADSTS500112');
  });

  it('refuses a code issued to another client', async () => {
    const tid = randomUUID();
    const { code, verifier } = await signIn(msalApp(randomUUID(), tid), ALICE.username, ['User.Read']);
    const error = await rejection(
      msalApp(randomUUID(), tid).acquireTokenByCode({
        code,
        codeVerifier: verifier,
        redirectUri: REDIRECT_URI,
        scopes: ['User.Read'],
      }),
    );
    expect(error.errorCode).toBe('invalid_grant');
  });
});

describe('refresh tokens', () => {
  it('rotates the refresh token on forceRefresh; older ones stay valid, even concurrently', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const app = msalApp(clientId, tid);
    const scopes = [API_SCOPE(clientId)];
    const signedIn = await signInAndRedeem(app, ALICE.username, scopes);
    const [original] = cachedRefreshTokens(app);

    const refreshed = await app.acquireTokenSilent({ account: signedIn.account!, scopes, forceRefresh: true });
    expect(refreshed.accessToken).not.toBe(signedIn.accessToken);
    const issued = authority.refreshTokens(clientId, ALICE.oid);
    expect(issued.map((rt) => rt.issuedBy)).toEqual(['authorization_code', 'refresh_token']);
    expect(issued[0]!.token).toBe(original);
    expect(cachedRefreshTokens(app)).toEqual([issued[1]!.token]);
    expect(authority.requests(clientId).byGrant).toEqual({ authorization_code: 1, refresh_token: 1 });

    const refreshWith = (refreshToken: string) =>
      postForm(tokenUrl(tid), {
        grant_type: 'refresh_token',
        client_id: clientId,
        client_secret: SECRET,
        refresh_token: refreshToken,
        scope: `${API_SCOPE(clientId)} openid profile offline_access`,
        client_info: '1',
      });
    const concurrent = await Promise.all([refreshWith(original!), refreshWith(original!), refreshWith(original!)]);
    expect(concurrent.map((r) => r.status)).toEqual([200, 200, 200]);
    const bodies = concurrent.map((r) => JSON.parse(r.body) as Record<string, string>);
    expect(new Set(bodies.map((b) => b.refresh_token)).size).toBe(3);
    expect(bodies[0]).toMatchObject({
      token_type: 'Bearer',
      expires_in: 3600,
      ext_expires_in: 3600,
      scope: `${API_SCOPE(clientId)} openid profile offline_access`,
    });
    expect(decodeJwt(bodies[0]!.access_token!)).toMatchObject({ oid: ALICE.oid, tid });
    expect(decodeJwt(bodies[0]!.id_token!)).toMatchObject({ aud: clientId, oid: ALICE.oid });
    expect(JSON.parse(Buffer.from(bodies[0]!.client_info!, 'base64url').toString())).toEqual({
      uid: ALICE.oid,
      utid: tid,
    });
  });

  it('issues refresh tokens in the order its answers leave, under concurrency', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    await signInAndRedeem(msalApp(clientId, tid), ALICE.username, [API_SCOPE(clientId)]);
    const [original] = authority.refreshTokens(clientId, ALICE.oid);
    const sentIds: string[] = [];
    const stop = onAnswered((requestId) => sentIds.push(requestId));
    let answers: Map<string, HttpsResponse>;
    try {
      answers = await refreshConcurrently(clientId, tid, original!.token, 30);
    } finally {
      stop();
    }
    const sentRefreshTokens = sentIds.map((id) => {
      const answer = answers.get(id)!;
      expect(answer.status).toBe(200);
      return (JSON.parse(answer.body) as { refresh_token: string }).refresh_token;
    });
    const issued = authority.refreshTokens(clientId, ALICE.oid).slice(1);
    expect(issued.map((rt) => rt.token)).toEqual(sentRefreshTokens);
    const sequences = issued.map((rt) => rt.sequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(new Set(sequences).size).toBe(30);
    expect(sequences[0]).toBeGreaterThan(original!.sequence);
    const times = issued.map((rt) => Date.parse(rt.issuedAt));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('lets a revocation win over refreshes in flight: no valid refresh token is issued after it', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    await signInAndRedeem(msalApp(clientId, tid), ALICE.username, [API_SCOPE(clientId)]);
    const [original] = authority.refreshTokens(clientId, ALICE.oid);
    // Every refresh stops after its refresh token was redeemed and its tokens signed, before its answer: in flight.
    const hold = authority.holdTokenRequests(clientId);
    let answers: Promise<Map<string, HttpsResponse>>;
    try {
      answers = refreshConcurrently(clientId, tid, original!.token, 20);
      await hold.whenHeld(20);
      expect(authority.revoke(ALICE.oid, tid)).toBe(1);
    } finally {
      hold.release();
    }
    for (const answer of (await answers).values()) {
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_grant', error_codes: [50173] });
    }
    expect(authority.refreshTokens(clientId, ALICE.oid)).toMatchObject([{ token: original!.token, revoked: true }]);
  });

  it('strict rotation: a redemption supersedes every older refresh token; redeeming one answers invalid_grant', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const armed = await adminPost('strict-rotation', { enabled: true, client_id: clientId });
    expect(JSON.parse(armed.body)).toEqual({ enabled: true, client_id: clientId });
    await signInAndRedeem(msalApp(clientId, tid), ALICE.username, [API_SCOPE(clientId)]);
    const refresh = (id: string, refreshToken: string) =>
      postForm(tokenUrl(tid), {
        grant_type: 'refresh_token',
        client_id: id,
        client_secret: SECRET,
        refresh_token: refreshToken,
        scope: `${API_SCOPE(id)} offline_access`,
      });
    const issuedRefreshToken = (response: HttpsResponse) => {
      expect(response.status).toBe(200);
      return (JSON.parse(response.body) as { refresh_token: string }).refresh_token;
    };
    const first = authority.refreshTokens(clientId, ALICE.oid)[0]!.token;
    const second = issuedRefreshToken(await refresh(clientId, first));
    const replay = await refresh(clientId, first);
    expect(replay.status).toBe(400);
    expect(JSON.parse(replay.body)).toMatchObject({ error: 'invalid_grant', error_codes: [70000] });

    // Two redemptions of the newest, both in flight at once, both succeed; the one issued last supersedes the other.
    const hold = authority.holdTokenRequests(clientId);
    const inFlight = Promise.all([refresh(clientId, second), refresh(clientId, second)]);
    await hold.whenHeld(2);
    hold.release();
    const racing = (await inFlight).map(issuedRefreshToken);
    const issued = authority.refreshTokens(clientId, ALICE.oid);
    expect(issued.map((rt) => [rt.superseded, rt.revoked])).toEqual([
      [true, false],
      [true, false],
      [true, false],
      [false, false],
    ]);
    const newest = issued[3]!.token;
    expect(racing).toContain(newest);
    expect(
      (
        await refresh(
          clientId,
          racing.find((rt) => rt !== newest)!,
        )
      ).status,
    ).toBe(400);
    expect((await refresh(clientId, newest)).status).toBe(200);

    // Other clients keep Entra's rotation: an older refresh token stays valid.
    const entra = randomUUID();
    await signInAndRedeem(msalApp(entra, tid), ALICE.username, [API_SCOPE(entra)]);
    const original = authority.refreshTokens(entra, ALICE.oid)[0]!.token;
    issuedRefreshToken(await refresh(entra, original));
    issuedRefreshToken(await refresh(entra, original));
    authority.strictRefreshTokenRotation(false, clientId);
  });

  it('issues tokens for another resource from the same refresh token', async () => {
    const clientId = randomUUID();
    const app = msalApp(clientId, randomUUID());
    const signedIn = await signInAndRedeem(app, ALICE.username, [API_SCOPE(clientId)]);
    const graph = await app.acquireTokenSilent({
      account: signedIn.account!,
      scopes: ['https://graph.microsoft.com/User.Read', 'https://graph.microsoft.com/Mail.Read'],
    });
    expect(decodeJwt(graph.accessToken)).toMatchObject({
      aud: 'https://graph.microsoft.com',
      scp: 'User.Read Mail.Read',
    });
  });

  it('fails refreshes after revocation with an interaction-required invalid_grant', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const app = msalApp(clientId, tid);
    const scopes = [API_SCOPE(clientId)];
    const signedIn = await signInAndRedeem(app, 'bob@dev.localhost', scopes);
    const bob = signedIn.account!.localAccountId;
    const [refreshToken] = cachedRefreshTokens(app);

    const revoked = await adminPost('revoke', { oid: bob, tid });
    expect(JSON.parse(revoked.body)).toEqual({ revoked: 1 });
    const error = await rejection(app.acquireTokenSilent({ account: signedIn.account!, scopes, forceRefresh: true }));
    expect(error).toBeInstanceOf(InteractionRequiredAuthError);
    expect(error.errorCode).toBe('invalid_grant');
    expect(error.subError).toBe('bad_token');

    const raw = await postForm(tokenUrl(tid), {
      grant_type: 'refresh_token',
      client_id: clientId,
      client_secret: SECRET,
      refresh_token: refreshToken!,
      scope: 'openid offline_access',
    });
    expect(raw.status).toBe(400);
    const body = JSON.parse(raw.body) as Record<string, unknown>;
    expect(body).toMatchObject({ error: 'invalid_grant', error_codes: [50173], suberror: 'bad_token' });
    expect(body.error_description).toMatch(/^AADSTS50173: /);
    expect(body).toHaveProperty('timestamp');
    expect(body).toHaveProperty('trace_id');
    expect(body).toHaveProperty('correlation_id');
    expect(authority.refreshTokens(clientId, bob).every((rt) => rt.revoked)).toBe(true);

    // A new sign-in gives a working refresh token again.
    const again = await signInAndRedeem(app, 'bob@dev.localhost', scopes);
    await expect(app.acquireTokenSilent({ account: again.account!, scopes, forceRefresh: true })).resolves.toBeTruthy();
  });

  it('answers interaction_required with the claims challenge until cleared', async () => {
    const clientId = randomUUID();
    const app = msalApp(clientId, randomUUID());
    const scopes = [API_SCOPE(clientId)];
    const hint = `carol-${randomUUID()}@dev.localhost`;
    const signedIn = await signInAndRedeem(app, hint, scopes);
    const oid = signedIn.account!.localAccountId;
    const claims = { access_token: { acrs: { essential: true, value: 'c1' } } };

    expect((await adminPost('require-interaction', { oid, claims })).status).toBe(200);
    const error = await rejection(app.acquireTokenSilent({ account: signedIn.account!, scopes, forceRefresh: true }));
    expect(error).toBeInstanceOf(InteractionRequiredAuthError);
    expect(error.errorCode).toBe('interaction_required');
    expect(JSON.parse(error.claims as string)).toEqual(claims);

    await adminPost('require-interaction', { oid, claims: null });
    await expect(
      app.acquireTokenSilent({ account: signedIn.account!, scopes, forceRefresh: true }),
    ).resolves.toBeTruthy();
  });
  it('clears the requirement once an interactive sign-in asks for every claim it names, and not before', async () => {
    const clientId = randomUUID();
    const app = msalApp(clientId, randomUUID());
    const scopes = [API_SCOPE(clientId)];
    const hint = `dave-${randomUUID()}@dev.localhost`;
    const oid = (await signInAndRedeem(app, hint, scopes)).account!.localAccountId;
    const required = { access_token: { acrs: { essential: true, value: 'c1' } } };
    authority.requireInteraction(oid, JSON.stringify(required));
    try {
      const refresh = (account: AccountInfo) => app.acquireTokenSilent({ account, scopes, forceRefresh: true });
      for (const claims of [undefined, '{"access_token":{"acrs":{"essential":true,"value":"c2"}}}']) {
        const other = await redeem(app, await signIn(app, hint, scopes, get, claims), scopes);
        expect(await rejection(refresh(other.account!)), claims).toBeInstanceOf(InteractionRequiredAuthError);
      }
      const asked = { access_token: { ...required.access_token, xms_cc: { values: ['cp1'] } } };
      const satisfied = await redeem(app, await signIn(app, hint, scopes, get, JSON.stringify(asked)), scopes);
      await expect(refresh(satisfied.account!)).resolves.toBeTruthy();
    } finally {
      authority.requireInteraction(oid, null);
    }
  });
});

describe('on-behalf-of', () => {
  const incomingToken = (clientId: string, tid: string, extra: Record<string, unknown> = {}, expiresInSeconds = 3600) =>
    authority.mint(
      {
        aud: `api://${clientId}`,
        tid,
        oid: ALICE.oid,
        sub: 'incoming-sub',
        azp: randomUUID(),
        name: ALICE.name,
        preferred_username: ALICE.username,
        scp: 'access_as_user',
        ...extra,
      },
      { expiresInSeconds },
    );

  it('exchanges a minted user token for a downstream token of the same user', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const app = msalApp(clientId, tid);
    const result = await app.acquireTokenOnBehalfOf({
      oboAssertion: await incomingToken(clientId, tid),
      scopes: ['https://graph.microsoft.com/User.Read'],
    });
    expect(result?.account?.homeAccountId).toBe(`${ALICE.oid}.${tid}`);
    expect(decodeJwt(result!.accessToken)).toMatchObject({
      aud: 'https://graph.microsoft.com',
      scp: 'User.Read',
      oid: ALICE.oid,
      tid,
      azp: clientId,
      preferred_username: ALICE.username,
    });
    expect(authority.refreshTokens(clientId, ALICE.oid).map((rt) => rt.issuedBy)).toEqual(['on_behalf_of']);
    expect(authority.requests(clientId).byGrant).toEqual({ 'urn:ietf:params:oauth:grant-type:jwt-bearer': 1 });
  });

  it('accepts the bare client id as audience', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const result = await msalApp(clientId, tid).acquireTokenOnBehalfOf({
      oboAssertion: await incomingToken(clientId, tid, { aud: clientId }),
      scopes: ['User.Read'],
    });
    expect(result?.account?.localAccountId).toBe(ALICE.oid);
  });

  it('rejects expired, foreign, misaddressed and app-only assertions with invalid_grant', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const { privateKey } = await generateKeyPair('RS256');
    const foreign = await new SignJWT({ aud: `api://${clientId}`, oid: ALICE.oid, tid, iss: authority.issuer(tid) })
      .setProtectedHeader({ alg: 'RS256', kid: authority.jwks.keys[0]!.kid! })
      .setExpirationTime('1h')
      .sign(privateKey);
    const cases: [string, string][] = [
      [await incomingToken(clientId, tid, {}, -600), 'AADSTS500133'],
      [await incomingToken(clientId, tid, { aud: 'api://someone-else' }), 'AADSTS50013'],
      [await incomingToken(clientId, tid, { idtyp: 'app', scp: undefined }), 'AADSTS50013'],
      [foreign, 'AADSTS50013'],
    ];
    for (const [assertion, code] of cases) {
      const error = await rejection(
        msalApp(clientId, tid).acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes: ['User.Read'] }),
      );
      expect(error.errorCode).toBe('invalid_grant');
      expect(error.errorMessage).toContain(code);
    }
  });

  it('answers interaction_required for a user who must step up', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const oid = randomUUID();
    authority.requireInteraction(oid, '{"access_token":{"acrs":{"essential":true,"value":"c2"}}}');
    try {
      const error = await rejection(
        msalApp(clientId, tid).acquireTokenOnBehalfOf({
          oboAssertion: await incomingToken(clientId, tid, { oid }),
          scopes: ['User.Read'],
        }),
      );
      expect(error).toBeInstanceOf(InteractionRequiredAuthError);
      expect(error.claims).toContain('"c2"');
    } finally {
      authority.requireInteraction(oid, null);
    }
  });
});

describe('claims parameter (client capabilities)', () => {
  /** The CAE terms of an access token: xms_cc and lifetime. */
  const termsOf = (token: string) => {
    const claims = decodeJwt(token);
    return { xms_cc: claims.xms_cc, lifetime: claims.exp! - claims.iat! };
  };
  const CAE = { xms_cc: ['cp1'], lifetime: 86_400 };
  const PLAIN = { xms_cc: undefined, lifetime: 3600 };

  it('gives a cp1 client xms_cc and a 24-hour access token on every grant, and other clients neither', async () => {
    const tid = randomUUID();
    const [caeId, plainId] = [randomUUID(), randomUUID()];
    const flows = async (clientId: string, capabilities?: string[]) => {
      const app = msalApp(clientId, tid, { ...(capabilities ? { capabilities } : {}) });
      const appToken = await app.acquireTokenByClientCredential({ scopes: ['api://x/.default'] });
      const signedIn = await signInAndRedeem(app, ALICE.username, ['User.Read']);
      const refreshed = await app.acquireTokenSilent({
        account: signedIn.account!,
        scopes: ['User.Read'],
        forceRefresh: true,
      });
      const assertion = await authority.mint({ aud: `api://${clientId}`, tid, oid: ALICE.oid, scp: 'access_as_user' });
      const obo = await app.acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes: ['User.Read'] });
      return [appToken!, signedIn, refreshed, obo!];
    };
    const cae = await flows(caeId, ['cp1']);
    expect(cae.map((result) => termsOf(result.accessToken))).toEqual([CAE, CAE, CAE, CAE]);
    expect(cae[1]!.expiresOn!.getTime() - Date.now()).toBeGreaterThan(23 * 3600_000);
    const plain = await flows(plainId);
    expect(plain.map((result) => termsOf(result.accessToken))).toEqual([PLAIN, PLAIN, PLAIN, PLAIN]);
    for (const clientId of [caeId, plainId]) {
      expect(authority.requests(clientId).byGrant).toEqual({
        client_credentials: 1,
        authorization_code: 1,
        refresh_token: 1,
        'urn:ietf:params:oauth:grant-type:jwt-bearer': 1,
      });
    }
  });

  it('gives xms_cc only for resources whose registration requests the optional claim (all do unless told)', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const resource = `api://${randomUUID()}`;
    const app = msalApp(clientId, tid, { capabilities: ['cp1'] });
    authority.requestXmsCc(resource, false);
    try {
      const appToken = await app.acquireTokenByClientCredential({ scopes: [`${resource}/.default`] });
      const signedIn = await signInAndRedeem(app, ALICE.username, [`${resource}/access_as_user`]);
      const others = await app.acquireTokenByClientCredential({ scopes: ['api://x/.default'] });
      expect([appToken!, signedIn, others!].map((result) => decodeJwt(result.accessToken).xms_cc)).toEqual([
        undefined,
        undefined,
        ['cp1'],
      ]);
    } finally {
      authority.requestXmsCc(resource, true);
    }
    const asked = await app.acquireTokenByClientCredential({ scopes: [`${resource}/.default`], skipCache: true });
    expect(decodeJwt(asked!.accessToken).xms_cc).toEqual(['cp1']);
    expect((await adminPost('optional-claims', { resource, xms_cc: 'no' })).status).toBe(400);
    expect((await adminPost('optional-claims', { resource: '', xms_cc: false })).status).toBe(400);
  });

  it("honours claims sent to /authorize only, whatever the capability's case", async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
    const query = new URLSearchParams({
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'User.Read',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      login_hint: ALICE.username,
      claims: '{"access_token":{"xms_cc":{"values":["CP1"]}}}',
    });
    const authorized = await get(`${authority.authorityUrl(tid)}/oauth2/v2.0/authorize?${query.toString()}`);
    const redeemed = await postForm(tokenUrl(tid), {
      grant_type: 'authorization_code',
      client_id: clientId,
      client_secret: SECRET,
      code: new URL(authorized.headers.location!).searchParams.get('code')!,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      scope: 'User.Read',
    });
    expect(termsOf((JSON.parse(redeemed.body) as { access_token: string }).access_token)).toEqual(CAE);
  });

  it("issues no token predating a claims request's nbf when it is at most 5 s ahead, without any critical event", async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const nbf = Math.floor(Date.now() / 1000) + 2;
    const claims = `{"access_token":{"nbf":{"essential":true,"value":"${nbf}"}}}`;
    const issued = await requestAppToken(clientId, tid, { claims });
    expect(issued.status).toBe(200);
    expect(decodeJwt((JSON.parse(issued.body) as { access_token: string }).access_token).iat).toBeGreaterThanOrEqual(
      nbf,
    );
    // Further ahead than the authority waits: answered at once, as if not asked.
    const far = Math.floor(Date.now() / 1000) + 60;
    const farClaims = `{"access_token":{"nbf":{"essential":true,"value":"${far}"}}}`;
    const now = await requestAppToken(clientId, tid, { claims: farClaims });
    expect(decodeJwt((JSON.parse(now.body) as { access_token: string }).access_token).iat).toBeLessThan(far);
  });

  it('refuses malformed claims with invalid_request before redeeming anything, and /authorize with a page', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const malformed = [
      '{"access_token":',
      '[]',
      '{"access_token":[]}',
      '{"access_token":{"xms_cc":{"values":"cp1"}}}',
      '{"access_token":{"nbf":{"essential":true,"value":"soon"}}}',
    ];
    for (const claims of malformed) {
      const response = await requestAppToken(clientId, tid, { claims });
      expect(response.status, claims).toBe(400);
      const body = JSON.parse(response.body) as { error: string; error_codes: number[]; error_description: string };
      expect(body).toMatchObject({ error: 'invalid_request', error_codes: [50117] });
      expect(body.error_description).toMatch(/^AADSTS50117: Failed to deserialize the claims request parameter: /);
    }

    const app = msalApp(clientId, tid);
    const { code, verifier } = await signIn(app, ALICE.username, ['User.Read']);
    const redeem = (claims?: string) =>
      postForm(tokenUrl(tid), {
        grant_type: 'authorization_code',
        client_id: clientId,
        client_secret: SECRET,
        code,
        redirect_uri: REDIRECT_URI,
        code_verifier: verifier,
        scope: 'User.Read',
        ...(claims === undefined ? {} : { claims }),
      });
    expect(JSON.parse((await redeem('{oops')).body)).toMatchObject({ error: 'invalid_request' });
    expect((await redeem()).status).toBe(200);

    const url = new URL(await pickerUrl(app));
    url.searchParams.set('claims', 'not json');
    const page = await get(url.toString());
    expect(page.status).toBe(400);
    expect(page.body).toContain('AADSTS50117');
  });
});

describe('Continuous Access Evaluation (critical events)', () => {
  let api: DownstreamApi;

  beforeAll(async () => {
    api = await startDownstreamApi({
      jwks: authority.jwks,
      issuers: (iss) => iss.startsWith(`${authority.url}/`),
      audience: 'https://graph.microsoft.com',
      criticalEvents: authority.cae,
    });
  });

  afterAll(async () => {
    await api?.close();
  });

  /** The downstream API's answer: its status and, for a claims challenge, the claims it asks for. */
  async function callApi(token: string): Promise<{ status: number; claims: string | undefined }> {
    const response = await fetch(`${api.url}/v1.0/me`, { headers: { authorization: `Bearer ${token}` } });
    return { status: response.status, claims: parseClaimsChallenge(response.headers.get('www-authenticate'))?.claims };
  }

  /** A new user signed in to a new client app; the API accepts the token. */
  async function signedInUser(capabilities?: string[]) {
    const clientId = randomUUID();
    const tid = randomUUID();
    const app = msalApp(clientId, tid, { ...(capabilities ? { capabilities } : {}) });
    const hint = `cae-${randomUUID()}@dev.localhost`;
    const scopes = ['User.Read'];
    const signedIn = await signInAndRedeem(app, hint, scopes);
    expect(await callApi(signedIn.accessToken)).toEqual({ status: 200, claims: undefined });
    return { clientId, tid, app, hint, scopes, signedIn, oid: signedIn.account!.localAccountId };
  }

  it('reissue: the API challenges the cached token; a silent grant with the challenge claims gets one it accepts', async () => {
    const { clientId, tid, app, scopes, signedIn, oid } = await signedInUser(['cp1']);
    const challengesBefore = api.challenges();
    const { event, revoked } = authority.criticalEvent(oid, 'reissue', tid);
    expect(revoked).toBe(0);

    const challenged = await callApi(signedIn.accessToken);
    expect(challenged).toEqual({
      status: 401,
      claims: `{"access_token":{"nbf":{"essential":true,"value":"${event.at}"}}}`,
    });
    // msal-node keeps serving its cached 24-hour token: only the challenge's claims make it ask the authority.
    const cached = await app.acquireTokenSilent({ account: signedIn.account!, scopes });
    expect(cached.accessToken).toBe(signedIn.accessToken);
    expect((await callApi(cached.accessToken)).status).toBe(401);
    expect(api.challenges()).toBe(challengesBefore + 2);

    const renewed = await app.acquireTokenSilent({ account: signedIn.account!, scopes, claims: challenged.claims! });
    expect(decodeJwt(renewed.accessToken).xms_cc).toEqual(['cp1']);
    expect(decodeJwt(renewed.accessToken).iat).toBeGreaterThanOrEqual(event.at);
    expect(await callApi(renewed.accessToken)).toEqual({ status: 200, claims: undefined });
    expect(authority.requests(clientId).byGrant).toEqual({ authorization_code: 1, refresh_token: 1 });
    expect(authority.refreshTokens(clientId, oid).map((rt) => rt.revoked)).toEqual([false, false]);
  });

  it('revoke_session: no silent grant satisfies the challenge; a new interactive sign-in does', async () => {
    const { clientId, tid, app, hint, scopes, signedIn, oid } = await signedInUser(['cp1']);
    const assertion = await authority.mint({ aud: `api://${clientId}`, tid, oid, scp: 'access_as_user' });
    const { event, revoked } = authority.criticalEvent(oid, 'revoke_session', tid);
    expect(revoked).toBe(1);

    const challenged = await callApi(signedIn.accessToken);
    expect(challenged.status).toBe(401);
    const silent = await rejection(
      app.acquireTokenSilent({ account: signedIn.account!, scopes, claims: challenged.claims! }),
    );
    expect(silent).toBeInstanceOf(InteractionRequiredAuthError);
    expect(silent).toMatchObject({ errorCode: 'invalid_grant', subError: 'bad_token' });
    const onBehalf = await rejection(
      app.acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes, claims: challenged.claims! }),
    );
    expect(onBehalf).toBeInstanceOf(InteractionRequiredAuthError);
    expect(onBehalf.errorMessage).toContain('AADSTS50173');

    const again = await signInAndRedeem(app, hint, scopes);
    expect(decodeJwt(again.accessToken).iat).toBeGreaterThanOrEqual(event.at);
    expect(await callApi(again.accessToken)).toEqual({ status: 200, claims: undefined });
    await expect(app.acquireTokenSilent({ account: again.account!, scopes, forceRefresh: true })).resolves.toBeTruthy();
    const newAssertion = await authority.mint({ aud: `api://${clientId}`, tid, oid, scp: 'access_as_user' });
    expect(decodeJwt(newAssertion).iat).toBeGreaterThanOrEqual(event.at);
    await expect(app.acquireTokenOnBehalfOf({ oboAssertion: newAssertion, scopes })).resolves.toBeTruthy();
  });

  it('does not challenge a token without cp1, nor tokens of other users or tenants', async () => {
    const plain = await signedInUser();
    const other = await signedInUser(['cp1']);
    const challengesBefore = api.challenges();
    authority.criticalEvent(plain.oid, 'revoke_session', plain.tid);
    authority.criticalEvent(other.oid, 'reissue', randomUUID());
    expect((await callApi(plain.signedIn.accessToken)).status).toBe(200);
    expect((await callApi(other.signedIn.accessToken)).status).toBe(200);
    expect(api.challenges()).toBe(challengesBefore);
    authority.criticalEvent(other.oid, 'reissue');
    expect((await callApi(other.signedIn.accessToken)).status).toBe(401);
  });

  it('records critical events over HTTP and keeps them across a restart', async () => {
    const oid = randomUUID();
    const before = Date.now();
    const posted = await adminPost('critical-event', { oid, kind: 'reissue' });
    const after = Date.now();
    expect(posted.status).toBe(200);
    const event = JSON.parse(posted.body) as { at: number };
    expect(event).toEqual({ kind: 'reissue', oid, at: event.at, revoked: 0 });
    // The second after the one it was recorded in (tokens of that second predate it).
    expect(event.at).toBeGreaterThanOrEqual(Math.floor(before / 1000) + 1);
    expect(event.at).toBeLessThanOrEqual(Math.floor(after / 1000) + 1);
    expect((await adminPost('critical-event', { oid, kind: 'logout' })).status).toBe(400);
    const listed = JSON.parse((await get(`${authority.url}/_admin/critical-events`)).body) as { events: unknown[] };
    expect(listed.events).toContainEqual({ kind: 'reissue', oid, at: event.at });

    const dir = await mkdtemp(join(tmpdir(), 'local-authority-'));
    try {
      const stateFile = join(dir, 'state.json');
      const before = await startLocalAuthority({ stateFile });
      const recorded = before.criticalEvent(oid, 'revoke_session', randomUUID()).event;
      await before.close();
      const after = await startLocalAuthority({ stateFile });
      expect(after.criticalEvents()).toEqual([recorded]);
      expect(after.cae.latest(oid, recorded.tid!)).toEqual(recorded);
      await after.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('token endpoint errors and admin', () => {
  it('injects failures: the next N token requests answer the status, with Retry-After', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    expect((await adminPost('fail', { count: 2, status: 503, retryAfter: 7 })).status).toBe(200);

    const error = await rejection(
      msalApp(clientId, tid).acquireTokenByClientCredential({ scopes: ['api://x/.default'] }),
    );
    expect(error).toBeInstanceOf(ServerError);
    expect(error.status).toBe(503);
    expect(error.errorCode).toBe('temporarily_unavailable');

    const raw = await requestAppToken(clientId, tid);
    expect(raw.status).toBe(503);
    expect(raw.headers['retry-after']).toBe('7');
    expect(JSON.parse(raw.body)).toMatchObject({ error: 'temporarily_unavailable' });

    // msal-node throttles the failed request's thumbprint in its own cache: use a new instance.
    await expect(
      msalApp(clientId, tid).acquireTokenByClientCredential({ scopes: ['api://x/.default'] }),
    ).resolves.toBeTruthy();
    expect(authority.requests(clientId)).toMatchObject({ token: 3 });
  });

  it('injects failures for one client id only, leaving other clients alone', async () => {
    const failing = randomUUID();
    const other = randomUUID();
    const tid = randomUUID();
    const clientCredentials = (clientId: string) => requestAppToken(clientId, tid);
    const armed = await adminPost('fail', { count: 2, status: 429, retryAfter: 3, client_id: failing });
    expect(JSON.parse(armed.body)).toEqual({ count: 2, status: 429, retryAfter: 3, client_id: failing });

    expect((await clientCredentials(other)).status).toBe(200);
    const first = await clientCredentials(failing);
    expect(first.status).toBe(429);
    expect(first.headers['retry-after']).toBe('3');
    expect(JSON.parse(first.body)).toMatchObject({ error: 'too_many_requests' });
    expect((await clientCredentials(other)).status).toBe(200);
    expect((await clientCredentials(failing)).status).toBe(429);
    expect((await clientCredentials(failing)).status).toBe(200);

    // In process too; arming 0 disarms.
    authority.failNext(3, 500, undefined, failing);
    expect((await clientCredentials(failing)).status).toBe(500);
    expect((await clientCredentials(other)).status).toBe(200);
    authority.failNext(0, 500, undefined, failing);
    expect((await clientCredentials(failing)).status).toBe(200);
    expect(authority.requests(other)).toMatchObject({ token: 3 });
  });

  it('answers unknown grants with unsupported_grant_type', async () => {
    const tid = randomUUID();
    const response = await postForm(tokenUrl(tid), {
      grant_type: 'password',
      client_id: randomUUID(),
      client_secret: SECRET,
    });
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'unsupported_grant_type', error_codes: [70003] });
  });

  it('echoes client-request-id as the correlation id of errors', async () => {
    const correlationId = randomUUID();
    const response = await httpsRequest(agent, tokenUrl(randomUUID()), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'client-request-id': correlationId },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).toBe(400);
    expect(response.headers['client-request-id']).toBe(correlationId);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'invalid_request', correlation_id: correlationId });
  });

  it('counts requests per client id over HTTP', async () => {
    const clientId = randomUUID();
    const app = msalApp(clientId, randomUUID());
    await signInAndRedeem(app, ALICE.username, ['User.Read']);
    await app.acquireTokenByClientCredential({ scopes: ['api://x/.default'] });
    const response = await get(`${authority.url}/_admin/requests?client_id=${clientId}`);
    expect(JSON.parse(response.body)).toMatchObject({
      total: 3,
      token: 2,
      authorize: 1,
      byGrant: { authorization_code: 1, client_credentials: 1 },
    });
    const all = JSON.parse((await get(`${authority.url}/_admin/requests`)).body) as { total: number; metadata: number };
    expect(all.total).toBeGreaterThan(3);
    expect(all.metadata).toBeGreaterThanOrEqual(1);
  });

  it('lists refresh tokens over HTTP', async () => {
    const clientId = randomUUID();
    await signInAndRedeem(msalApp(clientId, randomUUID()), ALICE.username, ['User.Read']);
    const response = await get(`${authority.url}/_admin/refresh-tokens?client_id=${clientId}&oid=${ALICE.oid}`);
    const body = JSON.parse(response.body) as { refreshTokens: { token: string; revoked: boolean }[] };
    expect(body.refreshTokens).toHaveLength(1);
    expect(body.refreshTokens[0]).toMatchObject({ issuedBy: 'authorization_code', revoked: false });
    expect((await get(`${authority.url}/_admin/refresh-tokens?client_id=${clientId}`)).status).toBe(400);
  });

  it('mints tokens over HTTP that verify against the JWKS', async () => {
    const tid = randomUUID();
    const response = await adminPost('mint', { claims: { aud: 'api://x', tid, oid: ALICE.oid }, expiresInSeconds: 60 });
    const { token } = JSON.parse(response.body) as { token: string };
    const { payload } = await jwtVerify(token, createLocalJWKSet(authority.jwks), {
      issuer: authority.issuer(tid),
      audience: 'api://x',
    });
    expect(payload.exp! - payload.iat!).toBe(60);
    expect((await adminPost('mint', { claims: 'nope' })).status).toBe(400);
  });

  it('lists every secret it issued or received since a mark, over HTTP too', async () => {
    const mark = authority.secretsMark();
    const clientId = randomUUID();
    const tid = randomUUID();
    const app = msalApp(clientId, tid);
    const authorized = await signIn(app, ALICE.username, ['User.Read']);
    const { code, verifier } = authorized;
    const signedIn = await redeem(app, authorized, ['User.Read']);
    const [refreshToken] = cachedRefreshTokens(app);
    const appToken = (await app.acquireTokenByClientCredential({ scopes: ['api://x/.default'] }))!.accessToken;
    const minted = await authority.mint({ aud: 'api://x', tid, oid: ALICE.oid });
    const publicClientId = randomUUID();
    const device = JSON.parse(
      (
        await postForm(`${authority.authorityUrl(tid)}/oauth2/v2.0/devicecode`, {
          client_id: publicClientId,
          scope: 'User.Read offline_access',
        })
      ).body,
    ) as { device_code: string; user_code: string };
    authority.approveDevice(device.user_code, ALICE.username);
    const deviceTokens = JSON.parse(
      (
        await postForm(tokenUrl(tid), {
          grant_type: 'device_code',
          client_id: publicClientId,
          device_code: device.device_code,
        })
      ).body,
    ) as { access_token: string; refresh_token: string };

    const listing = authority.secrets(mark);
    expect(listing.truncated).toBe(false);
    const kinds = new Map(listing.secrets.map((secret) => [secret.value, secret.kind]));
    expect(
      Object.fromEntries(
        Object.entries({
          code,
          verifier,
          accessToken: signedIn.accessToken,
          idToken: signedIn.idToken,
          refreshToken,
          secret: SECRET,
          appToken,
          minted,
          deviceCode: device.device_code,
          userCode: device.user_code,
          deviceAccessToken: deviceTokens.access_token,
          deviceRefreshToken: deviceTokens.refresh_token,
        }).map(([name, value]) => [name, kinds.get(value!)]),
      ),
    ).toEqual({
      code: 'authorization_code',
      verifier: 'code_verifier',
      accessToken: 'access_token',
      idToken: 'id_token',
      refreshToken: 'refresh_token',
      secret: 'client_secret',
      appToken: 'access_token',
      minted: 'minted_token',
      deviceCode: 'device_code',
      userCode: 'user_code',
      deviceAccessToken: 'access_token',
      deviceRefreshToken: 'refresh_token',
    });
    expect(listing.secrets.map((secret) => secret.sequence).every((seq) => seq > mark)).toBe(true);

    const overHttp = await get(`${authority.url}/_admin/secrets?since=${mark}`);
    expect(JSON.parse(overHttp.body)).toEqual(listing);
    const newMark = JSON.parse((await adminPost('secrets-mark', {})).body) as { mark: number };
    expect(newMark.mark).toBe(listing.mark);
    expect(authority.secrets(newMark.mark).secrets).toEqual([]);
    expect((await get(`${authority.url}/_admin/secrets?since=-1`)).status).toBe(400);
  });

  it('keeps the most recent secrets only, and says when a listing lost some', async () => {
    const small = await startLocalAuthority({ secretLogLimit: 3 });
    try {
      const mint = () => small.mint({ aud: 'api://x', tid: randomUUID() });
      const first = [await mint(), await mint(), await mint(), await mint()];
      const all = small.secrets();
      expect(all.truncated).toBe(true);
      expect(all.secrets.map((secret) => secret.value)).toEqual(first.slice(1));
      const later = await mint();
      expect(small.secrets(all.mark)).toEqual({
        mark: all.mark + 1,
        truncated: false,
        secrets: [{ kind: 'minted_token', value: later, sequence: all.mark + 1 }],
      });
    } finally {
      await small.close();
    }
  });

  it('redirects after logout', async () => {
    const tid = randomUUID();
    const target = 'http://localhost:7071/signed-out';
    const redirected = await get(
      `${authority.authorityUrl(tid)}/oauth2/v2.0/logout?post_logout_redirect_uri=${encodeURIComponent(target)}`,
    );
    expect(redirected.status).toBe(302);
    expect(redirected.headers.location).toBe(target);
    const page = await get(`${authority.authorityUrl(tid)}/oauth2/v2.0/logout`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Signed out');
  });
});

describe('state file', () => {
  it('keeps access and refresh tokens valid across a restart on the same port', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'local-authority-'));
    const stateFile = join(dir, 'dev', 'authority-state.json');
    const clientId = randomUUID();
    const tid = randomUUID();
    const hint = `restart-${randomUUID()}@example.test`;
    const scopes = [API_SCOPE(clientId)];
    const running: Connected[] = [];
    const start = async (port?: number) => {
      const started = connect(await startLocalAuthority({ clientSecret: SECRET, stateFile, port }));
      running.push(started);
      return started;
    };
    const stop = async (target: Connected) => {
      target.agent.destroy();
      await target.authority.close();
    };
    try {
      const before = await start();
      const app = msalApp(clientId, tid, { on: before });
      const appToken = (await app.acquireTokenByClientCredential({ scopes: ['api://downstream/.default'] }))!;
      const signedIn = await signInAndRedeem(app, hint, scopes, (url) => httpsRequest(before.agent, url));
      const userOid = signedIn.account!.localAccountId;
      const cache = app.getTokenCache().serialize();
      const [oldRefreshToken] = before.authority.refreshTokens(clientId, userOid);
      await stop(before);
      expect((await stat(stateFile)).mode & 0o777).toBe(0o600);

      const after = await start(Number(new URL(before.authority.url).port));
      expect(after.authority.url).toBe(before.authority.url);
      expect(after.authority.ca).not.toBe(before.authority.ca);
      const served = JSON.parse((await httpsRequest(after.agent, after.authority.jwksUri(tid))).body) as JSONWebKeySet;
      const verifyWithServedKeys = (token: string, audience: string) =>
        jwtVerify(token, createLocalJWKSet(served), { issuer: after.authority.issuer(tid), audience });
      await expect(verifyWithServedKeys(appToken.accessToken, 'api://downstream')).resolves.toBeTruthy();
      await expect(verifyWithServedKeys(signedIn.accessToken, `api://${clientId}`)).resolves.toBeTruthy();

      // The app's cache from before the restart refreshes against the restarted authority.
      const restored = msalApp(clientId, tid, { on: after });
      restored.getTokenCache().deserialize(cache);
      const account = await restored.getTokenCache().getAccountByHomeId(signedIn.account!.homeAccountId);
      const refreshed = await restored.acquireTokenSilent({ account: account!, scopes, forceRefresh: true });
      expect(refreshed.account?.username).toBe(hint);
      const issued = after.authority.refreshTokens(clientId, userOid);
      expect(issued.map((rt) => [rt.token, rt.issuedBy])).toEqual([
        [oldRefreshToken!.token, 'authorization_code'],
        [cachedRefreshTokens(restored)[0], 'refresh_token'],
      ]);
      expect(issued[0]).toEqual(oldRefreshToken);
      expect(issued[1]!.sequence).toBeGreaterThan(oldRefreshToken!.sequence);

      // The user created on the fly is still offered by the account picker of its tenant.
      const picker = await httpsRequest(after.agent, new URL(await pickerUrl(restored)).toString());
      expect(picker.body).toContain(`value="${userOid}"`);

      // Revocations are saved too (by close at the latest).
      after.authority.revoke(userOid, tid);
      await stop(after);
      const saved = JSON.parse(await readFile(stateFile, 'utf8')) as { refreshTokens: { revoked: boolean }[] };
      expect(saved.refreshTokens.map((rt) => rt.revoked)).toEqual([true, true]);
    } finally {
      await Promise.allSettled(running.map(stop));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start from a file that is not its state', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'local-authority-'));
    try {
      const stateFile = join(dir, 'state.json');
      await writeFile(stateFile, '{"format":"something else"}');
      await expect(startLocalAuthority({ stateFile })).rejects.toThrow(/not a usable local authority state file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('browser listener', () => {
  it('serves authorize and logout over plain HTTP too, and advertises them there', () =>
    withBrowserListener(async (target) => {
      const { authority: local } = target;
      const tid = randomUUID();
      const clientId = randomUUID();
      const browserUrl = local.browserUrl!;
      expect(browserUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(browserUrl).not.toBe(local.url.replace('https:', 'http:'));

      const config = await httpsRequest(
        target.agent,
        `${local.authorityUrl(tid)}/v2.0/.well-known/openid-configuration`,
      );
      expect(JSON.parse(config.body)).toEqual(JSON.parse(local.metadata(tid)));
      expect(JSON.parse(config.body)).toMatchObject({
        authorization_endpoint: `${browserUrl}/${tid}/oauth2/v2.0/authorize`,
        end_session_endpoint: `${browserUrl}/${tid}/oauth2/v2.0/logout`,
        token_endpoint: `${local.url}/${tid}/oauth2/v2.0/token`,
        jwks_uri: local.jwksUri(tid),
        issuer: local.issuer(tid),
      });

      // msal-node sends the browser to the HTTP authorize URL, then redeems the code over HTTPS.
      const app = msalApp(clientId, tid, { on: target });
      const opened: string[] = [];
      const browser: Browser = (url) => {
        opened.push(url);
        return plainHttpRequest(url);
      };
      const result = await signInAndRedeem(app, ALICE.username, [API_SCOPE(clientId)], browser);
      expect(opened[0]!.startsWith(`${browserUrl}/${tid}/oauth2/v2.0/authorize?`)).toBe(true);
      expect(result.account?.homeAccountId).toBe(`${ALICE.oid}.${tid}`);
      expect(decodeJwt(result.accessToken)).toMatchObject({ iss: local.issuer(tid), aud: `api://${clientId}` });

      // The account picker's form posts back to the page's own origin.
      const url = await pickerUrl(app);
      const page = await plainHttpRequest(url);
      expect(page.status).toBe(200);
      expect(page.body).toContain(`action="/${tid}/oauth2/v2.0/authorize"`);
      const posted = await plainHttpRequest(`${browserUrl}/${tid}/oauth2/v2.0/authorize`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...Object.fromEntries(new URL(url).searchParams), user: ALICE.oid }).toString(),
      });
      expect(posted.status).toBe(302);
      expect(new URL(posted.headers.location!).searchParams.get('code')).toBeTruthy();

      expect((await plainHttpRequest(`${browserUrl}/${tid}/oauth2/v2.0/logout`)).body).toContain('Signed out');
      expect(local.requests(clientId)).toMatchObject({ authorize: 3, token: 1 });

      // Nothing else is served over HTTP; HTTPS keeps serving everything, authorize included.
      expect((await plainHttpRequest(local.jwksUri(tid).replace(local.url, browserUrl))).status).toBe(404);
      expect((await plainHttpRequest(`${browserUrl}/${tid}/v2.0/.well-known/openid-configuration`)).status).toBe(404);
      expect((await plainHttpRequest(`${browserUrl}/_admin/requests`)).status).toBe(404);
      const tokenOverHttp = await plainHttpRequest(`${browserUrl}/${tid}/oauth2/v2.0/token`, { method: 'POST' });
      expect(tokenOverHttp.status).toBe(404);
      const overHttps = await httpsRequest(target.agent, url.replace(browserUrl, local.url));
      expect(overHttps.status).toBe(200);
    }));

  it('serves a sessions page whose buttons revoke a session; cross-origin posts are refused', () =>
    withBrowserListener(async (target) => {
      const { authority: local } = target;
      const browserUrl = local.browserUrl!;
      expect(local.sessionsUrl).toBe(`${browserUrl}/_dev/sessions`);
      const clientId = randomUUID();
      const app = msalApp(clientId, randomUUID(), { on: target });
      await signInAndRedeem(app, ALICE.username, ['User.Read'], (url) => plainHttpRequest(url));

      const page = await plainHttpRequest(local.sessionsUrl);
      expect(page.status).toBe(200);
      expect(page.body).toContain('action="/_dev/sessions"');
      expect(page.body).toContain(`name="user" value="${ALICE.oid}">Revoke session: Alice Dev<small>`);
      const post = (url: string, headers: Record<string, string>, user = ALICE.oid) => {
        const request = url.startsWith('https:')
          ? (u: string, o: HttpsRequestOptions) => httpsRequest(target.agent, u, o)
          : plainHttpRequest;
        return request(url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body: new URLSearchParams({ user }).toString(),
        });
      };
      expect((await post(local.sessionsUrl, { origin: 'http://attacker.test' })).status).toBe(403);
      expect((await post(local.sessionsUrl, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
      expect((await post(local.sessionsUrl, { origin: local.url })).status).toBe(403);
      expect(local.refreshTokens(clientId, ALICE.oid).map((rt) => rt.revoked)).toEqual([false]);
      expect(local.criticalEvents()).toEqual([]);
      expect((await post(local.sessionsUrl, { origin: browserUrl }, randomUUID())).status).toBe(400);

      const revoked = await post(local.sessionsUrl, { origin: browserUrl, 'sec-fetch-site': 'same-origin' });
      expect(revoked.status).toBe(200);
      expect(revoked.body).toContain('The session of Alice Dev was revoked at ');
      expect(revoked.body).toContain(': 1 refresh token revoked.');
      expect(local.refreshTokens(clientId, ALICE.oid).map((rt) => rt.revoked)).toEqual([true]);
      const events = local.criticalEvents().map(({ kind, oid, tid }) => ({ kind, oid, tid }));
      expect(events).toEqual([{ kind: 'revoke_session', oid: ALICE.oid, tid: undefined }]);
      // The HTTPS listener serves it too, same-origin there.
      expect((await post(`${local.url}/_dev/sessions`, { origin: local.url })).status).toBe(200);
    }));
});

describe('device code flow (public clients)', () => {
  const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

  function publicApp(clientId: string, tid: string, capabilities?: string[]): PublicClientApplication {
    return new PublicClientApplication({
      auth: {
        clientId,
        authority: authority.authorityUrl(tid),
        knownAuthorities: [authority.host],
        authorityMetadata: authority.metadata(tid),
        ...(capabilities ? { clientCapabilities: capabilities } : {}),
      },
      system: { networkClient },
    });
  }

  interface DeviceCodeBody {
    user_code: string;
    device_code: string;
    verification_uri: string;
    expires_in: number;
    interval: number;
    message: string;
  }

  async function requestDeviceCode(
    clientId: string,
    tid: string,
    scope: string,
    on?: Connected,
    extra: Record<string, string> = {},
  ) {
    const target = on?.authority ?? authority;
    const response = await httpsRequest(on?.agent ?? agent, `${target.authorityUrl(tid)}/oauth2/v2.0/devicecode`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: clientId, scope, ...extra }).toString(),
    });
    return { response, body: JSON.parse(response.body) as DeviceCodeBody & Record<string, unknown> };
  }

  function poll(clientId: string, tid: string, deviceCode: string, extra: Record<string, string> = {}, on?: Connected) {
    const target = on?.authority ?? authority;
    return httpsRequest(on?.agent ?? agent, `${target.authorityUrl(tid)}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: DEVICE_GRANT,
        client_id: clientId,
        device_code: deviceCode,
        ...extra,
      }).toString(),
    });
  }

  const errorOf = (response: HttpsResponse) => JSON.parse(response.body) as { error: string; error_codes: number[] };

  it('signs in through msal-node acquireTokenByDeviceCode; the public client refreshes without a secret', async () => {
    const clientId = randomUUID();
    const apiClientId = randomUUID();
    const tid = randomUUID();
    const app = publicApp(clientId, tid);
    const scopes = [API_SCOPE(apiClientId)];
    let message = '';
    const result = (await app.acquireTokenByDeviceCode({
      scopes,
      deviceCodeCallback: (response) => {
        message = response.message;
        expect(response).toMatchObject({ interval: 1, expiresIn: 900 });
        expect(authority.approveDevice(response.userCode, ALICE.username)).toMatchObject({ status: 'approved' });
      },
    }))!;
    expect(message).toMatch(
      new RegExp(
        `^To sign in, use a web browser to open the page ${authority.url}/${tid}/oauth2/v2.0/deviceauth ` +
          'and enter the code [A-Z2-9]{9} to authenticate\\.$',
      ),
    );
    expect(result.account?.homeAccountId).toBe(`${ALICE.oid}.${tid}`);
    expect(decodeJwt(result.accessToken)).toMatchObject({
      aud: `api://${apiClientId}`,
      scp: 'access_as_user',
      azp: clientId,
      oid: ALICE.oid,
      tid,
    });

    const refreshed = await app.acquireTokenSilent({ account: result.account!, scopes, forceRefresh: true });
    expect(refreshed.accessToken).not.toBe(result.accessToken);
    expect(authority.refreshTokens(clientId, ALICE.oid).map((rt) => [rt.issuedBy, rt.publicClient])).toEqual([
      ['device_code', true],
      ['refresh_token', true],
    ]);
    // msal-node sends the short grant type, which Entra accepts as well as RFC 8628's URN.
    expect(authority.requests(clientId)).toMatchObject({
      total: 3,
      deviceCode: 1,
      byGrant: { device_code: 1, refresh_token: 1 },
    });
  });

  it('gives a cp1 public client xms_cc, whether the claims came with the device code request or the poll', async () => {
    const tid = randomUUID();
    const scopes = [API_SCOPE(randomUUID())];
    const viaMsal = (await publicApp(randomUUID(), tid, ['cp1']).acquireTokenByDeviceCode({
      scopes,
      deviceCodeCallback: (response) => authority.approveDevice(response.userCode, ALICE.username),
    }))!;
    expect(decodeJwt(viaMsal.accessToken)).toMatchObject({ xms_cc: ['cp1'] });

    const clientId = randomUUID();
    const cp1 = '{"access_token":{"xms_cc":{"values":["cp1"]}}}';
    const withClaims = await requestDeviceCode(clientId, tid, scopes[0]!, undefined, { claims: cp1 });
    const without = await requestDeviceCode(clientId, tid, scopes[0]!);
    const redeemed = async (deviceCode: string, extra: Record<string, string> = {}) => {
      const response = await poll(clientId, tid, deviceCode, extra);
      return decodeJwt((JSON.parse(response.body) as { access_token: string }).access_token).xms_cc;
    };
    for (const issued of [withClaims, without]) authority.approveDevice(issued.body.user_code, ALICE.username);
    expect(await redeemed(withClaims.body.device_code)).toEqual(['cp1']);
    expect(await redeemed(without.body.device_code, { claims: cp1 })).toEqual(['cp1']);

    const malformed = await requestDeviceCode(clientId, tid, scopes[0]!, undefined, { claims: '{' });
    expect(malformed.response.status).toBe(400);
    expect(malformed.body).toMatchObject({ error: 'invalid_request', error_codes: [50117] });
  });

  it("answers in Entra's shape: authorization_pending until approved, then the tokens, once", async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const { response, body } = await requestDeviceCode(clientId, tid, `${API_SCOPE(clientId)} offline_access openid`);
    expect(response.status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(
      ['device_code', 'expires_in', 'interval', 'message', 'user_code', 'verification_uri'].sort(),
    );
    expect(body).toMatchObject({
      verification_uri: `${authority.url}/${tid}/oauth2/v2.0/deviceauth`,
      expires_in: 900,
      interval: 1,
    });
    expect(body.user_code).toMatch(/^[A-Z2-9]{9}$/);
    expect(body.message).toContain(body.user_code);

    const pending = await poll(clientId, tid, body.device_code);
    expect(pending.status).toBe(400);
    expect(errorOf(pending)).toMatchObject({ error: 'authorization_pending', error_codes: [70016] });
    const foreign = await poll(randomUUID(), tid, body.device_code);
    expect(errorOf(foreign)).toMatchObject({ error: 'invalid_grant' });
    expect(errorOf(await poll(clientId, tid, 'no-such-code'))).toMatchObject({
      error: 'bad_verification_code',
      error_codes: [70018],
    });

    // Approved over HTTP (a user code is matched without case or dashes).
    const spaced = `${body.user_code.slice(0, 4).toLowerCase()}-${body.user_code.slice(4)}`;
    const approved = await adminPost('approve-device', { user_code: spaced, login_hint: 'dave@dev.localhost' });
    expect(approved.status).toBe(200);
    expect(JSON.parse(approved.body)).toMatchObject({
      approved: true,
      client_id: clientId,
      tid,
      username: 'dave@dev.localhost',
    });
    expect((await adminPost('approve-device', { user_code: body.user_code, login_hint: 'x@y.test' })).status).toBe(409);
    expect((await adminPost('approve-device', { user_code: 'NOPE12345', login_hint: 'x@y.test' })).status).toBe(404);

    const redeemed = await poll(clientId, tid, body.device_code);
    expect(redeemed.status).toBe(200);
    const tokens = JSON.parse(redeemed.body) as Record<string, string>;
    expect(tokens).toMatchObject({ token_type: 'Bearer', scope: `${API_SCOPE(clientId)} offline_access openid` });
    expect(tokens.refresh_token).toBeTruthy();
    expect(decodeJwt(tokens.id_token!)).toMatchObject({ aud: clientId, preferred_username: 'dave@dev.localhost' });
    const again = await poll(clientId, tid, body.device_code);
    expect(errorOf(again)).toMatchObject({ error: 'invalid_grant', error_codes: [54005] });
    expect(authority.requests(clientId)).toMatchObject({ deviceCode: 1, byGrant: { [DEVICE_GRANT]: 4 } });

    const noScope = await httpsRequest(agent, `${authority.authorityUrl(tid)}/oauth2/v2.0/devicecode`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: clientId }).toString(),
    });
    expect(noScope.status).toBe(400);
    expect(errorOf(noScope)).toMatchObject({ error: 'invalid_request', error_codes: [900144] });
    const twoResources = await requestDeviceCode(clientId, tid, 'api://a/x api://b/y');
    expect(twoResources.response.status).toBe(400);
    expect(errorOf(twoResources.response).error_codes).toEqual([28000]);
  });

  it('answers authorization_declined after a decline and expired_token after the lifetime', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const declined = await requestDeviceCode(clientId, tid, API_SCOPE(clientId));
    expect((await adminPost('decline-device', { user_code: declined.body.user_code })).status).toBe(200);
    expect(errorOf(await poll(clientId, tid, declined.body.device_code))).toMatchObject({
      error: 'authorization_declined',
    });
    const viaMsal = await rejection(
      publicApp(clientId, tid).acquireTokenByDeviceCode({
        scopes: [API_SCOPE(clientId)],
        deviceCodeCallback: (response) => authority.declineDevice(response.userCode),
      }),
    );
    expect(viaMsal.message).toContain('authorization_declined');

    const shortLived = connect(await startLocalAuthority({ clientSecret: SECRET, deviceCodeLifetimeSeconds: 1 }));
    try {
      const issued = await requestDeviceCode(clientId, tid, API_SCOPE(clientId), shortLived);
      // Issued before this instant (the authority runs in this process, on this clock): wait until a second later
      // by that clock itself — a timer of 1.1 s can fire early by the time the event loop spent before arming it.
      const answered = Date.now();
      expect(issued.body.expires_in).toBe(1);
      while (Date.now() <= answered + 1000) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(errorOf(await poll(clientId, tid, issued.body.device_code, {}, shortLived))).toMatchObject({
        error: 'expired_token',
        error_codes: [70019],
      });
      expect(shortLived.authority.approveDevice(issued.body.user_code, ALICE.username)).toEqual({ status: 'expired' });
    } finally {
      shortLived.agent.destroy();
      await shortLived.authority.close();
    }
  });

  it("refuses a secret with a public client's refresh token, and a confidential client's refresh token without one", async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const { body } = await requestDeviceCode(clientId, tid, `${API_SCOPE(clientId)} offline_access`);
    authority.approveDevice(body.user_code, ALICE.username);
    const publicToken = (JSON.parse((await poll(clientId, tid, body.device_code)).body) as Record<string, string>)
      .refresh_token!;
    const refresh = (refreshToken: string, secret?: string) =>
      postForm(tokenUrl(tid), {
        grant_type: 'refresh_token',
        client_id: clientId,
        refresh_token: refreshToken,
        scope: `${API_SCOPE(clientId)} offline_access`,
        ...(secret ? { client_secret: secret } : {}),
      });
    const withSecret = await refresh(publicToken, SECRET);
    expect(withSecret.status).toBe(401);
    expect(errorOf(withSecret)).toMatchObject({ error: 'invalid_client', error_codes: [700025] });
    expect((await refresh(publicToken)).status).toBe(200);

    const confidential = await signInAndRedeem(msalApp(clientId, tid), ALICE.username, [API_SCOPE(clientId)]);
    expect(confidential.account).toBeTruthy();
    const confidentialToken = authority.refreshTokens(clientId, ALICE.oid).find((rt) => !rt.publicClient)!.token;
    const withoutSecret = await refresh(confidentialToken);
    expect(withoutSecret.status).toBe(401);
    expect(errorOf(withoutSecret)).toMatchObject({ error: 'invalid_client', error_codes: [7000218] });
    expect((await refresh(confidentialToken, SECRET)).status).toBe(200);
    // Other grants still need the credential.
    const clientCredentials = await postForm(tokenUrl(tid), {
      grant_type: 'client_credentials',
      client_id: clientId,
      scope: 'api://x/.default',
    });
    expect(errorOf(clientCredentials)).toMatchObject({ error: 'invalid_client', error_codes: [7000218] });
  });

  it('serves the verification page on the browser listener: enter the code, pick an account or decline', () =>
    withBrowserListener(async (target) => {
      const { authority: local } = target;
      const browserUrl = local.browserUrl!;
      const tid = randomUUID();
      const clientId = randomUUID();
      const page = `${browserUrl}/${tid}/oauth2/v2.0/deviceauth`;
      const metadata = JSON.parse(local.metadata(tid)) as Record<string, unknown>;
      expect(metadata).toMatchObject({ device_authorization_endpoint: `${local.url}/${tid}/oauth2/v2.0/devicecode` });
      expect(metadata.grant_types_supported).toContain(DEVICE_GRANT);

      const first = await requestDeviceCode(clientId, tid, API_SCOPE(clientId), target);
      expect(first.body.verification_uri).toBe(page);
      const entry = await plainHttpRequest(page);
      expect(entry.status).toBe(200);
      expect(entry.body).toContain('name="user_code"');
      const form = (fields: Record<string, string>) =>
        plainHttpRequest(page, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(fields).toString(),
        });
      const wrong = await form({ user_code: 'WRONGCODE' });
      expect(wrong.status).toBe(400);
      expect(wrong.body).toContain('That code is not valid');
      const otherTenant = await plainHttpRequest(
        `${browserUrl}/${randomUUID()}/oauth2/v2.0/deviceauth?user_code=${first.body.user_code}`,
      );
      expect(otherTenant.status).toBe(400);

      const picker = await form({ user_code: first.body.user_code.toLowerCase() });
      expect(picker.status).toBe(200);
      expect(picker.body).toContain(`value="${ALICE.oid}"`);
      expect(picker.body).toContain('name="decision" value="decline"');
      expect(picker.body).toContain(clientId);
      const chosen = await form({ user_code: first.body.user_code, user: ALICE.oid });
      expect(chosen.status).toBe(200);
      expect(chosen.body).toContain(`You signed in as <code>${ALICE.username}</code>`);
      expect((await poll(clientId, tid, first.body.device_code, {}, target)).status).toBe(200);
      expect((await form({ user_code: first.body.user_code })).body).toContain('already been used');

      const second = await requestDeviceCode(clientId, tid, API_SCOPE(clientId), target);
      const hinted = await plainHttpRequest(`${page}?user_code=${second.body.user_code}&login_hint=bob@dev.localhost`);
      expect(hinted.body).toContain('You signed in as <code>bob@dev.localhost</code>');
      const bobTokens = JSON.parse((await poll(clientId, tid, second.body.device_code, {}, target)).body) as {
        access_token: string;
      };
      expect(decodeJwt(bobTokens.access_token)).toMatchObject({ preferred_username: 'bob@dev.localhost' });

      const third = await requestDeviceCode(clientId, tid, API_SCOPE(clientId), target);
      const cancelled = await form({ user_code: third.body.user_code, decision: 'decline' });
      expect(cancelled.body).toContain('Sign-in cancelled');
      expect(errorOf(await poll(clientId, tid, third.body.device_code, {}, target)).error).toBe(
        'authorization_declined',
      );

      // The device code endpoint itself is not served over plain HTTP.
      expect((await plainHttpRequest(`${browserUrl}/${tid}/oauth2/v2.0/devicecode`, { method: 'POST' })).status).toBe(
        404,
      );
    }));

  it("keeps a public client's refresh token usable without a secret across a restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'local-authority-'));
    const stateFile = join(dir, 'state.json');
    const clientId = randomUUID();
    const tid = randomUUID();
    let before: Connected | undefined;
    let after: Connected | undefined;
    try {
      before = connect(await startLocalAuthority({ clientSecret: SECRET, stateFile }));
      const { body } = await requestDeviceCode(clientId, tid, `${API_SCOPE(clientId)} offline_access`, before);
      before.authority.approveDevice(body.user_code, ALICE.username);
      const issued = JSON.parse((await poll(clientId, tid, body.device_code, {}, before)).body) as Record<
        string,
        string
      >;
      const port = Number(new URL(before.authority.url).port);
      before.agent.destroy();
      await before.authority.close();
      before = undefined;
      after = connect(await startLocalAuthority({ clientSecret: SECRET, stateFile, port }));
      expect(after.authority.refreshTokens(clientId, ALICE.oid)).toMatchObject([{ publicClient: true }]);
      const refreshed = await httpsRequest(after.agent, `${after.authority.authorityUrl(tid)}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: clientId,
          refresh_token: issued.refresh_token!,
          scope: API_SCOPE(clientId),
        }).toString(),
      });
      expect(refreshed.status).toBe(200);
    } finally {
      for (const running of [before, after]) {
        running?.agent.destroy();
        await running?.authority.close();
      }
      await rm(dir, { recursive: true, force: true });
    }
  });
});
