/** Bearer validation, error classification and error formatting through the entry point only. */
import { ConfidentialClientApplication } from '@azure/msal-node';
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  BearerError,
  createNetworkClient,
  DEFAULT_CLOCK_TOLERANCE_SECONDS,
  DEFAULT_JWKS_TIMEOUT_MS,
  TokenCacheError,
  classifyTokenError,
  createBearerValidator,
  describeError,
  entraV1Issuer,
  hasErrorCode,
} from '../../lib/index.js';
import { CLIENT_SECRET, authority, newId, stack } from '../support/stack.js';

function validator(tenantId: string, clientId: string) {
  const { url, ca } = stack().authority;
  return createBearerValidator({
    audiences: [clientId],
    allowedTenants: [tenantId],
    issuerFor: (tid) => `${url}/${tid}/v2.0`,
    requiredScopes: ['access_as_user'],
    jwksUri: `${url}/${tenantId}/discovery/v2.0/keys`,
    networkClient: createNetworkClient({ ca }),
  });
}

describe('createBearerValidator', () => {
  it('returns the claims of a valid token and rejects others with BearerError codes', async () => {
    const tenantId = newId();
    const clientId = newId();
    const bearer = validator(tenantId, clientId);
    const oid = newId();
    const token = await authority.callerToken({ clientId, tenantId }, oid);
    const caller = await bearer.validate(`Bearer ${token}`);
    expect(caller).toMatchObject({ token, claims: { oid, tid: tenantId } });

    const noScope = await authority.mint({ oid, sub: oid, tid: tenantId, aud: clientId, scp: 'other' });
    const rejected = await bearer.validate(`Bearer ${noScope}`).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(BearerError);
    expect(rejected).toBeInstanceOf(TokenCacheError);
    expect(rejected).toMatchObject({ code: 'bearer_insufficient_scope', status: 403 });
    await expect(bearer.validate('Basic abc')).rejects.toMatchObject({ code: 'bearer_invalid', status: 401 });
    await expect(bearer.validate(undefined)).rejects.toMatchObject({ code: 'bearer_invalid' });
  });

  it('tolerates DEFAULT_CLOCK_TOLERANCE_SECONDS of clock skew on exp, and no more', async () => {
    const tenantId = newId();
    const clientId = newId();
    const bearer = validator(tenantId, clientId);
    const claims = { oid: newId(), sub: 's', tid: tenantId, aud: clientId, scp: 'access_as_user' };
    const skew = DEFAULT_CLOCK_TOLERANCE_SECONDS;
    const justExpired = await authority.mint(claims, { expiresInSeconds: -(skew / 2) });
    expect((await bearer.validate(`Bearer ${justExpired}`)).claims.tid).toBe(tenantId);
    const longExpired = await authority.mint(claims, { expiresInSeconds: -(skew * 2) });
    await expect(bearer.validate(`Bearer ${longExpired}`)).rejects.toMatchObject({ message: /expired/ });
  });
});

describe('v1.0 tokens and the signing keys', () => {
  it("entraV1Issuer names Entra's v1.0 issuer; a v1.0 token is checked against v1IssuerFor", async () => {
    expect(entraV1Issuer('t-1')).toBe('https://sts.windows.net/t-1/');
    const tenantId = newId();
    const clientId = newId();
    const { url, ca } = stack().authority;
    const bearer = createBearerValidator({
      audiences: [`api://${clientId}`],
      allowedTenants: [tenantId],
      issuerFor: (tid) => `${url}/${tid}/v2.0`,
      v1IssuerFor: (tid) => `${url}/${tid}/`,
      requiredScopes: ['access_as_user'],
      jwksUri: `${url}/${tenantId}/discovery/v2.0/keys`,
      networkClient: createNetworkClient({ ca }),
    });
    const claims = { oid: newId(), sub: 's', tid: tenantId, aud: `api://${clientId}`, scp: 'access_as_user' };
    const v1 = await authority.mint({ ...claims, ver: '1.0', iss: `${url}/${tenantId}/` });
    expect((await bearer.validate(`Bearer ${v1}`)).claims.oid).toBe(claims.oid);
    const wrongIssuer = await authority.mint({ ...claims, ver: '1.0', iss: entraV1Issuer(tenantId) });
    await expect(bearer.validate(`Bearer ${wrongIssuer}`)).rejects.toMatchObject({ code: 'bearer_invalid' });
  });

  it('keys that cannot be fetched are bearer_keys_unavailable (503), after DEFAULT_JWKS_TIMEOUT_MS by default', async () => {
    // A JWKS endpoint that accepts connections and never answers.
    const silent = createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const bearer = createBearerValidator({
        audiences: ['a'],
        allowedTenants: ['t'],
        issuerFor: (tid) => `https://issuer.invalid/${tid}/v2.0`,
        requiredScopes: [],
        jwksUri: `https://127.0.0.1:${port}/keys`,
      });
      const token = await authority.mint({ oid: newId(), sub: 's', tid: newId(), aud: 'a', scp: 'x' });
      const started = Date.now();
      await expect(bearer.validate(`Bearer ${token}`)).rejects.toMatchObject({
        code: 'bearer_keys_unavailable',
        status: 503,
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(DEFAULT_JWKS_TIMEOUT_MS - 100);
    } finally {
      silent.close();
    }
  }, 20_000);

  it('validate takes an abort signal: already aborted, or aborted while the keys are fetched, it rejects with code aborted', async () => {
    const tenantId = newId();
    const clientId = newId();
    const token = await authority.callerToken({ clientId, tenantId }, newId());
    const aborted = AbortSignal.abort();
    await expect(
      validator(tenantId, clientId).validate(`Bearer ${token}`, { abortSignal: aborted }),
    ).rejects.toMatchObject({
      name: 'TokenCacheError',
      code: 'aborted',
    });
    // A JWKS endpoint that accepts connections and never answers: the validation is waiting on it when aborted.
    const silent = createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const bearer = createBearerValidator({
        audiences: [clientId],
        allowedTenants: [tenantId],
        issuerFor: (tid) => `https://issuer.invalid/${tid}/v2.0`,
        requiredScopes: [],
        jwksUri: `https://127.0.0.1:${port}/keys`,
      });
      const controller = new AbortController();
      const validation = bearer.validate(`Bearer ${token}`, { abortSignal: controller.signal });
      controller.abort();
      await expect(validation).rejects.toMatchObject({ name: 'TokenCacheError', code: 'aborted' });
    } finally {
      silent.close();
    }
  });
});

describe('classifyTokenError', () => {
  it("classifies the identity provider's real answers by code: unavailable, interaction required, rejected", async () => {
    const { url, ca } = stack().authority;
    const tenantId = newId();
    const clientId = newId();
    const client = new ConfidentialClientApplication({
      auth: {
        clientId,
        authority: `${url}/${tenantId}`,
        clientSecret: CLIENT_SECRET,
        knownAuthorities: [new URL(url).host],
      },
      system: { networkClient: createNetworkClient({ ca }) },
    });
    await authority.failNext(clientId, 1, 503);
    const unavailable = await client
      .acquireTokenByClientCredential({ scopes: ['api://x/.default'] })
      .catch((e: unknown) => e);
    expect(classifyTokenError(unavailable)).toMatchObject({ kind: 'authority_unavailable' });

    // Entra's throttling of a user flow: invalid_grant with AADSTS50196 (loop detected) is "not now", not sign-in.
    const throttledCaller = await authority.callerToken({ clientId, tenantId }, newId());
    await authority.failNext(clientId, 1, 400, { error: 'invalid_grant', aadsts: 50196 });
    const throttled = await client
      .acquireTokenOnBehalfOf({ oboAssertion: throttledCaller, scopes: ['https://graph.microsoft.com/User.Read'] })
      .catch((e: unknown) => e);
    expect(classifyTokenError(throttled)).toMatchObject({ kind: 'authority_unavailable', code: /50196/ });

    const oid = newId();
    const assertion = await authority.callerToken({ clientId, tenantId }, oid);
    await authority.requireInteraction(oid, { access_token: { acrs: { essential: true, value: 'c1' } } });
    const interaction = await client
      .acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes: ['https://graph.microsoft.com/User.Read'] })
      .catch((e: unknown) => e);
    await authority.requireInteraction(oid, null);
    expect(classifyTokenError(interaction)).toMatchObject({ kind: 'interaction_required', claims: /acrs/ });

    expect(classifyTokenError(new TokenCacheError('authority_unavailable', 'x'))).toMatchObject({
      kind: 'authority_unavailable',
    });
    // The identity provider's signing keys could not be fetched: it is unavailable now, not a refusal.
    expect(classifyTokenError(new TokenCacheError('bearer_keys_unavailable', 'x'))).toEqual({
      kind: 'authority_unavailable',
      code: 'bearer_keys_unavailable',
    });
    expect(classifyTokenError(new TokenCacheError('account_not_cached', 'x'))).toMatchObject({
      kind: 'interaction_required',
    });
    expect(classifyTokenError(new Error('anything'))).toEqual({ kind: 'rejected', code: 'Error' });
  });
});

describe('errors', () => {
  it('hasErrorCode tells library errors by code; describeError names the chain without a stack', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1\n    at stack frame'), {
      code: 'ECONNREFUSED',
    });
    const error = new TokenCacheError('store_unavailable', 'Table "t" could not be reached', { cause });
    expect(hasErrorCode(error, 'store_unavailable')).toBe(true);
    expect(hasErrorCode(error, 'store_conflict')).toBe(false);
    expect(hasErrorCode(cause, 'store_unavailable')).toBe(false);
    expect(describeError(error)).toBe(
      'TokenCacheError [store_unavailable]: Table "t" could not be reached <- Error [ECONNREFUSED]: connect ECONNREFUSED 127.0.0.1:1',
    );
  });
});
