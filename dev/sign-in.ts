import { CryptoProvider } from '@azure/msal-node';
import type { InvocationOptions, PartitionedTokenCache, TokenOutcome } from '../lib/index.js';
import { httpsRequest, trustingAgent } from './https-trust.js';

export const SIGN_IN_REDIRECT_URI = 'http://localhost/callback';

/** A sign-in request's PKCE pair, state and nonce. */
interface SignInParameters {
  readonly verifier: string;
  readonly challenge: string;
  readonly state: string;
  readonly nonce: string;
}

async function signInParameters(): Promise<SignInParameters> {
  const crypto = new CryptoProvider();
  const { verifier, challenge } = await crypto.generatePkceCodes();
  return { verifier, challenge, state: crypto.createNewGuid(), nonce: crypto.createNewGuid() };
}

/**
 * Follows a sign-in URL built with a `login_hint` (which skips the local authority's account picker) and returns
 * the authorization code of the redirect, as a browser would deliver it to the callback.
 */
export async function authorizationCode(authorityCa: string, signInUrl: string): Promise<string> {
  const agent = trustingAgent(authorityCa);
  try {
    const response = await httpsRequest(agent, signInUrl);
    const code = response.headers.location ? new URL(response.headers.location).searchParams.get('code') : null;
    if (response.status !== 302 || !code) throw new Error(`authorize answered HTTP ${response.status} without a code`);
    return code;
  } finally {
    agent.destroy();
  }
}

/**
 * The two requests of one sign-in with fresh {@link signInParameters}: the authorize URL's (PKCE S256, a
 * `login_hint` that skips the local authority's account picker, `claims` when given), and the code redemption that
 * goes with it.
 */
export async function signInRequests(scopes: string[], loginHint: string, claims?: string) {
  const { verifier, challenge, state, nonce } = await signInParameters();
  const redirectUri = SIGN_IN_REDIRECT_URI;
  return {
    state,
    authorize: {
      scopes,
      redirectUri,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
      state,
      nonce,
      loginHint,
      ...(claims ? { claims } : {}),
    },
    redemption: (code: string) => ({ code, scopes, redirectUri, codeVerifier: verifier, nonce, state }),
  };
}

/**
 * A user signs in on the local authority without a browser — the authorize request with a `login_hint` (and
 * `claims`, when given), then the code redeemed with PKCE into the user's partition — as the web app's callback
 * does. For tests and benchmarks.
 */
export async function signInWithLoginHint(
  tokens: PartitionedTokenCache,
  authorityCa: string,
  loginHint: string,
  scopes: string[],
  options: InvocationOptions = {},
  claims?: string,
): Promise<TokenOutcome> {
  const { state, authorize, redemption } = await signInRequests(scopes, loginHint, claims);
  const code = await authorizationCode(authorityCa, await tokens.getAuthCodeUrl(authorize, options));
  return tokens.acquireTokenByCode(redemption(code), { ...options, authCodePayload: { code, state } });
}
