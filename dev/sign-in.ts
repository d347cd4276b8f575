import { CryptoProvider } from '@azure/msal-node';
import type { InvocationOptions, PartitionedTokenCache, TokenOutcome } from '../lib/index.js';
import { httpsRequest, trustingAgent } from './https-trust.js';

const REDIRECT_URI = 'http://localhost/callback';

/**
 * A user signs in on the local authority without a browser — the authorize request with a `login_hint` (which skips
 * the account picker), then the code redeemed with PKCE into the user's partition — as the web app's callback does.
 * For tests and benchmarks.
 */
export async function signInWithLoginHint(
  tokens: PartitionedTokenCache,
  authorityCa: string,
  loginHint: string,
  scopes: string[],
  options: InvocationOptions = {},
): Promise<TokenOutcome> {
  const crypto = new CryptoProvider();
  const { verifier, challenge } = await crypto.generatePkceCodes();
  const state = crypto.createNewGuid();
  const nonce = crypto.createNewGuid();
  const url = await tokens.getAuthCodeUrl(
    {
      scopes,
      redirectUri: REDIRECT_URI,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
      state,
      nonce,
      loginHint,
    },
    options,
  );
  const agent = trustingAgent(authorityCa);
  try {
    const response = await httpsRequest(agent, url);
    const code = response.headers.location ? new URL(response.headers.location).searchParams.get('code') : null;
    if (response.status !== 302 || !code) throw new Error(`authorize answered HTTP ${response.status} without a code`);
    return await tokens.acquireTokenByCode(
      { code, scopes, redirectUri: REDIRECT_URI, codeVerifier: verifier, nonce, state },
      { ...options, authCodePayload: { code, state } },
    );
  } finally {
    agent.destroy();
  }
}
