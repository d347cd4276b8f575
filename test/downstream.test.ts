import { randomUUID } from 'node:crypto';
import { ConfidentialClientApplication, InteractionRequiredAuthError, type INetworkModule } from '@azure/msal-node';
import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAuthority, type LocalAuthority } from '../dev/authority/server.js';
import { startDownstreamApi, type DownstreamApi } from '../dev/downstream.js';
import { createNetworkClient, parseClaimsChallenge } from '../lib/index.js';

const GRAPH = 'https://graph.microsoft.com';
const SECRET = 'downstream-test-secret';

let authority: LocalAuthority;
let api: DownstreamApi;
let networkClient: INetworkModule;

beforeAll(async () => {
  authority = await startLocalAuthority({ clientSecret: SECRET });
  networkClient = createNetworkClient({ ca: authority.ca });
  api = await startDownstreamApi({
    jwks: { url: authority.jwksUri('common'), ca: authority.ca },
    issuers: (iss) => iss.startsWith(`${authority.url}/`) && iss.endsWith('/v2.0'),
    audience: [GRAPH, 'api://downstream'],
    criticalEvents: authority.cae,
  });
});

afterAll(async () => {
  await api?.close();
  await authority?.close();
});

function msalApp(clientId: string, tid: string, capabilities?: string[]): ConfidentialClientApplication {
  return new ConfidentialClientApplication({
    auth: {
      clientId,
      clientSecret: SECRET,
      authority: authority.authorityUrl(tid),
      knownAuthorities: [authority.host],
      authorityMetadata: authority.metadata(tid),
      ...(capabilities ? { clientCapabilities: capabilities } : {}),
    },
    system: { networkClient },
  });
}

async function me(
  token?: string,
): Promise<{ status: number; body: Record<string, unknown>; challenge: string | null }> {
  const response = await fetch(`${api.url}/v1.0/me`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    challenge: response.headers.get('www-authenticate'),
  };
}

/** A downstream API of its own: the JWKS object, one tenant's issuer, no critical events feed. */
function oneTenantApi(tid: string): Promise<DownstreamApi> {
  return startDownstreamApi({ jwks: authority.jwks, issuers: [authority.issuer(tid)], audience: GRAPH });
}

function userClaims(tid: string, extra: Record<string, unknown> = {}) {
  return {
    aud: GRAPH,
    tid,
    oid: '0b8e2d74-1f6c-4a39-8e57-2c4d6f8a0b02',
    name: 'Bob Dev',
    preferred_username: 'bob@dev.localhost',
    scp: 'User.Read',
    ...extra,
  };
}

describe('downstream API /v1.0/me', () => {
  it('describes the calling app for an app token from msal-node', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const result = await msalApp(clientId, tid).acquireTokenByClientCredential({
      scopes: ['api://downstream/.default'],
    });
    const response = await me(result!.accessToken);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ appId: clientId, roles: [], tenantId: tid });
  });

  it('describes the user for a user token obtained on behalf of an incoming token', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const incoming = await authority.mint(userClaims(tid, { aud: `api://${clientId}`, scp: 'access_as_user' }));
    const result = await msalApp(clientId, tid).acquireTokenOnBehalfOf({
      oboAssertion: incoming,
      scopes: ['User.Read'],
    });
    const response = await me(result!.accessToken);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      id: '0b8e2d74-1f6c-4a39-8e57-2c4d6f8a0b02',
      displayName: 'Bob Dev',
      userPrincipalName: 'bob@dev.localhost',
      tenantId: tid,
    });
  });

  it('answers 401 with the reason for missing, expired, early, misaddressed or foreign tokens', async () => {
    const tid = randomUUID();
    const { privateKey } = await generateKeyPair('RS256');
    const foreign = await new SignJWT({ ...userClaims(tid), iss: authority.issuer(tid) })
      .setProtectedHeader({ alg: 'RS256', kid: authority.jwks.keys[0]!.kid! })
      .setExpirationTime('1h')
      .sign(privateKey);
    const cases: [string | undefined, RegExp][] = [
      [undefined, /Bearer token is required/],
      ['not-a-jwt', /not valid/],
      [await authority.mint(userClaims(tid), { expiresInSeconds: -60 }), /expired/],
      [await authority.mint(userClaims(tid), { notBeforeSeconds: 600 }), /nbf/],
      [await authority.mint(userClaims(tid, { aud: 'api://elsewhere' })), /aud/],
      [await authority.mint(userClaims(tid, { iss: 'https://issuer.invalid/x/v2.0' })), /issuer/],
      [foreign, /signature/],
    ];
    for (const [token, reason] of cases) {
      const response = await me(token);
      expect(response.status, String(reason)).toBe(401);
      const error = response.body.error as { code: string; message: string };
      expect(error.code).toBe('InvalidAuthenticationToken');
      expect(error.message).toMatch(reason);
      expect(response.challenge).toMatch(/^Bearer error="invalid_token"/);
      expect(parseClaimsChallenge(response.challenge)?.claims).toBeUndefined();
    }
  });

  it('counts requests, also over /_admin/requests', async () => {
    const before = api.requests();
    await me(await authority.mint(userClaims(randomUUID())));
    await me();
    expect(api.requests()).toBe(before + 2);
    const response = await fetch(`${api.url}/_admin/requests`);
    expect(await response.json()).toEqual({ total: before + 2, challenges: 0 });
  });

  it('accepts a JWKS object and a list of issuers', async () => {
    const tid = randomUUID();
    const strict = await oneTenantApi(tid);
    try {
      const ok = await fetch(`${strict.url}/v1.0/me`, {
        headers: { authorization: `Bearer ${await authority.mint(userClaims(tid))}` },
      });
      expect(ok.status).toBe(200);
      const otherTenant = await fetch(`${strict.url}/v1.0/me`, {
        headers: { authorization: `Bearer ${await authority.mint(userClaims(randomUUID()))}` },
      });
      expect(otherTenant.status).toBe(401);
      expect((await fetch(`${strict.url}/v1.0/other`)).status).toBe(404);
    } finally {
      await strict.close();
    }
  });

  it("answers a CAE token issued before its user's critical event with Graph's claims challenge", async () => {
    const tid = randomUUID();
    const oid = randomUUID();
    const before = api.challenges();
    const { event } = authority.criticalEvent(oid, 'reissue', tid);
    const token = (extra: Record<string, unknown>) => authority.mint(userClaims(tid, { oid, ...extra }));
    const encoded = Buffer.from(`{"access_token":{"nbf":{"essential":true,"value":"${event.at}"}}}`).toString('base64');

    const challenged = await me(await token({ xms_cc: ['cp1'], iat: event.at - 1 }));
    expect(challenged.status).toBe(401);
    expect(challenged.challenge).toBe(
      `Bearer realm="", authorization_uri="${authority.url}/common/oauth2/v2.0/authorize", ` +
        `error="insufficient_claims", claims="${encoded}"`,
    );
    expect(authority.cae.authorizationUri).toBe(`${authority.url}/common/oauth2/v2.0/authorize`);
    expect(challenged.body.error).toMatchObject({
      code: 'InvalidAuthenticationToken',
      message:
        'Continuous access evaluation resulted in challenge with result: InteractionRequired and code: ' +
        'TokenCreatedWithOutdatedPolicies',
    });
    expect(parseClaimsChallenge(challenged.challenge)?.claims).toBe(Buffer.from(encoded, 'base64').toString());

    // Issued at the event or later, without cp1 (Graph challenges CAE-capable clients only), or another user's.
    expect((await me(await token({ xms_cc: ['cp1'], iat: event.at }))).status).toBe(200);
    expect((await me(await token({ iat: event.at - 1 }))).status).toBe(200);
    expect((await me(await token({ xms_cc: ['cp2'], iat: event.at - 1 }))).status).toBe(200);
    expect((await me(await authority.mint(userClaims(tid, { xms_cc: ['cp1'], iat: event.at - 1 })))).status).toBe(200);

    const revocation = authority.criticalEvent(oid, 'revoke_session').event;
    const revoked = await me(await token({ xms_cc: ['CP1'], iat: revocation.at - 1 }));
    expect((revoked.body.error as { message: string }).message).toMatch(/code: TokenIssuedBeforeRevocationTimestamp$/);
    expect(api.challenges()).toBe(before + 2);
    const counted = (await (await fetch(`${api.url}/_admin/requests`)).json()) as { challenges: number };
    expect(counted.challenges).toBe(before + 2);
  });

  it('on-behalf-of with msal-node: a reissue is satisfied silently, a revoked session only by a new sign-in', async () => {
    const clientId = randomUUID();
    const tid = randomUUID();
    const oid = randomUUID();
    const app = msalApp(clientId, tid, ['cp1']);
    const assertion = (iat?: number) =>
      authority.mint(
        userClaims(tid, { oid, aud: `api://${clientId}`, scp: 'access_as_user', ...(iat ? { iat } : {}) }),
      );
    const signedIn = await assertion();
    const scopes = ['User.Read'];
    const first = (await app.acquireTokenOnBehalfOf({ oboAssertion: signedIn, scopes }))!;
    expect((await me(first.accessToken)).status).toBe(200);
    const challengesBefore = api.challenges();

    authority.criticalEvent(oid, 'reissue', tid);
    const reissue = parseClaimsChallenge((await me(first.accessToken)).challenge)!.claims;
    const cached = (await app.acquireTokenOnBehalfOf({ oboAssertion: signedIn, scopes }))!;
    expect(cached.accessToken).toBe(first.accessToken);
    expect((await me(cached.accessToken)).status).toBe(401);
    const renewed = (await app.acquireTokenOnBehalfOf({ oboAssertion: signedIn, scopes, claims: reissue }))!;
    expect((await me(renewed.accessToken)).status).toBe(200);

    const { event } = authority.criticalEvent(oid, 'revoke_session', tid);
    const revoked = parseClaimsChallenge((await me(renewed.accessToken)).challenge)!.claims;
    const refused = await app.acquireTokenOnBehalfOf({ oboAssertion: signedIn, scopes, claims: revoked }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(InteractionRequiredAuthError);
    // The caller signed in again: its new token (the assertion) is issued after the event.
    const again = (await app.acquireTokenOnBehalfOf({
      oboAssertion: await assertion(event.at),
      scopes,
      claims: revoked,
    }))!;
    expect(decodeJwt(again.accessToken).iat).toBeGreaterThanOrEqual(event.at);
    expect((await me(again.accessToken)).status).toBe(200);
    expect(api.challenges()).toBe(challengesBefore + 3);
    expect(authority.requests(clientId).byGrant).toEqual({ 'urn:ietf:params:oauth:grant-type:jwt-bearer': 4 });
  });

  it("client credentials with msal-node: a cp1 app token is challenged after its service principal's event", async () => {
    const app = msalApp(randomUUID(), randomUUID(), ['cp1']);
    const scopes = ['api://downstream/.default'];
    const first = (await app.acquireTokenByClientCredential({ scopes }))!;
    const { oid, tid } = decodeJwt(first.accessToken) as { oid: string; tid: string };
    authority.criticalEvent(oid, 'reissue', tid);
    const claims = parseClaimsChallenge((await me(first.accessToken)).challenge)!.claims;
    expect((await app.acquireTokenByClientCredential({ scopes }))!.accessToken).toBe(first.accessToken);
    const renewed = (await app.acquireTokenByClientCredential({ scopes, claims }))!;
    expect(renewed.accessToken).not.toBe(first.accessToken);
    expect((await me(renewed.accessToken)).status).toBe(200);
  });

  it('challenges nothing without a critical events feed', async () => {
    const tid = randomUUID();
    const oid = randomUUID();
    const { event } = authority.criticalEvent(oid, 'revoke_session', tid);
    const unaware = await oneTenantApi(tid);
    try {
      const token = await authority.mint(userClaims(tid, { oid, xms_cc: ['cp1'], iat: event.at - 60 }));
      const response = await fetch(`${unaware.url}/v1.0/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      expect(unaware.challenges()).toBe(0);
      expect((await me(token)).status).toBe(401);
    } finally {
      await unaware.close();
    }
  });
});
