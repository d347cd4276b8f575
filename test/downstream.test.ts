import { randomUUID } from 'node:crypto';
import { ConfidentialClientApplication, type INetworkModule } from '@azure/msal-node';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAuthority, type LocalAuthority } from '../dev/authority/server.js';
import { startDownstreamApi, type DownstreamApi } from '../dev/downstream.js';
import { trustingNetworkClient } from '../dev/https-trust.js';

const GRAPH = 'https://graph.microsoft.com';
const SECRET = 'downstream-test-secret';

let authority: LocalAuthority;
let api: DownstreamApi;
let networkClient: INetworkModule;

beforeAll(async () => {
  authority = await startLocalAuthority({ clientSecret: SECRET });
  networkClient = trustingNetworkClient(authority.ca);
  api = await startDownstreamApi({
    jwks: { url: authority.jwksUri('common'), ca: authority.ca },
    issuers: (iss) => iss.startsWith(`${authority.url}/`) && iss.endsWith('/v2.0'),
    audience: [GRAPH, 'api://downstream'],
  });
});

afterAll(async () => {
  await api?.close();
  await authority?.close();
});

function msalApp(clientId: string, tid: string): ConfidentialClientApplication {
  return new ConfidentialClientApplication({
    auth: {
      clientId,
      clientSecret: SECRET,
      authority: authority.authorityUrl(tid),
      knownAuthorities: [authority.host],
      authorityMetadata: authority.metadata(tid),
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
    const strict = await startDownstreamApi({
      jwks: authority.jwks,
      issuers: [authority.issuer(tid)],
      audience: GRAPH,
    });
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
});
