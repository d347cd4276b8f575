import { CryptoProvider, type AuthenticationResult } from '@azure/msal-node';
import type { ClientFactory } from '../lib/auth/clients.js';
import { isObject, type JsonObject } from '../lib/cache/document.js';
import type { Logger } from '../lib/log.js';
import { httpsRequest, trustingAgent } from './https-trust.js';

const REDIRECT_URI = 'http://localhost/callback';

/**
 * A user signs in on the local authority without a browser — the authorize request with a `login_hint` (which skips
 * the account picker), then the code redeemed with PKCE — on a client without persistence, as the web app's callback
 * does. Returns MSAL's result and what it cached (account, id, access and refresh token). For tests and benchmarks.
 */
export async function signInWithLoginHint(
  factory: ClientFactory,
  authorityCa: string,
  loginHint: string,
  scopes: string[],
  logger: Logger,
): Promise<{ result: AuthenticationResult; msal: JsonObject }> {
  const client = await factory.withoutPersistence(logger);
  const crypto = new CryptoProvider();
  const { verifier, challenge } = await crypto.generatePkceCodes();
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
  const agent = trustingAgent(authorityCa);
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
    return { result, msal };
  } finally {
    agent.destroy();
  }
}
