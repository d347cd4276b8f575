/** Users for the benchmark: minted incoming tokens (web API callers) and real sign-ins (auth code + PKCE). */
import { CryptoProvider } from '@azure/msal-node';
import { randomUUID } from 'node:crypto';
import { httpsRequest, trustingAgent } from '../../dev/https-trust.js';
import { isObject, type JsonObject } from '../../lib/cache/document.js';
import type { Logger } from '../../lib/log.js';
import type { BenchApp, BenchStack } from './stack.js';

export interface Caller {
  readonly oid: string;
  readonly claims: { readonly oid: string; readonly tid: string };
  /** A bearer token for the app's web API (`aud` api://{clientId}, `scp` access_as_user), valid for an hour. */
  readonly assertion: string;
}

/** A new user of `app`'s tenant calling its web API with a token the local authority signed. */
export async function newCaller(stack: BenchStack, app: BenchApp): Promise<Caller> {
  const oid = randomUUID();
  const assertion = await stack.authority.mint({
    oid,
    sub: oid,
    tid: app.tenantId,
    aud: `api://${app.clientId}`,
    scp: 'access_as_user',
    azp: randomUUID(),
    name: 'Bench User',
    preferred_username: `${oid}@bench.test`,
  });
  return { oid, claims: { oid, tid: app.tenantId }, assertion };
}

const REDIRECT_URI = 'http://localhost/callback';

/**
 * Signs a user in for real (authorize with a login hint, then the code redeemed with PKCE) on a client without
 * persistence, and returns what MSAL cached: account, id token, access token and refresh token.
 */
export async function signIn(
  stack: BenchStack,
  app: BenchApp,
  loginHint: string,
  logger: Logger,
): Promise<{ homeAccountId: string; msal: JsonObject }> {
  const client = await app.runtime.factory.withoutPersistence(logger);
  const crypto = new CryptoProvider();
  const { verifier, challenge } = await crypto.generatePkceCodes();
  const scopes = [...app.runtime.config.web.downstreamScopes];
  const state = crypto.createNewGuid();
  const nonce = crypto.createNewGuid();
  const url = await client.getAuthCodeUrl({
    scopes,
    redirectUri: REDIRECT_URI,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
    state,
    nonce,
    loginHint,
  });
  const agent = trustingAgent(stack.authority.ca);
  try {
    const response = await httpsRequest(agent, url);
    const code = response.headers.location ? new URL(response.headers.location).searchParams.get('code') : null;
    if (response.status !== 302 || !code) throw new Error(`authorize answered HTTP ${response.status} without a code`);
    const result = await client.acquireTokenByCode(
      { code, scopes, redirectUri: REDIRECT_URI, codeVerifier: verifier, nonce, state },
      { code, state },
    );
    const msal: unknown = JSON.parse(client.getTokenCache().serialize());
    if (!result.account || !isObject(msal)) throw new Error('sign-in cached no account');
    return { homeAccountId: result.account.homeAccountId, msal };
  } finally {
    agent.destroy();
  }
}
