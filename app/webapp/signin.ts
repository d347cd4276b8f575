import type { Cookie, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { CryptoProvider } from '@azure/msal-node';
import { timingSafeEqual } from 'node:crypto';
import { classifyTokenError, describeError, type KeyRing } from '../../lib/index.js';
import { renewBackgroundOnSignIn } from '../daemons/optin.js';
import { problem, redirect } from '../http/responses.js';
import { linkPartitions, partitionOfIdToken } from '../people.js';
import type { AppRuntime } from '../runtime.js';
import { openCookie, readCookie, sealCookie, type OpenedCookie } from './cookies.js';

/**
 * `__Host-` cookies: the browser keeps them only when Secure, with Path=/ and no Domain, so no other host (a
 * sibling subdomain) can set or overwrite them. Their purpose is sealed inside, so one kind cannot stand in for
 * the other.
 */
export const TRANSACTION_COOKIE = '__Host-msal_signin';
export const SESSION_COOKIE = '__Host-msal_session';
const TRANSACTION_MAX_AGE = 600;
const SESSION_MAX_AGE = 8 * 3600;
const crypto = new CryptoProvider();

function cookie(name: string, value: string, maxAge: number): Cookie {
  return { name, value, maxAge, path: '/', httpOnly: true, secure: true, sameSite: 'Lax' };
}

function sessionRing(runtime: AppRuntime): KeyRing {
  if (!runtime.sessionKeys) throw new Error('setting SESSION_KEYS is missing: the web app cannot seal its cookies');
  return runtime.sessionKeys;
}

/** The session: the signed-in account id, or none; or, when this instance cannot tell, the answer to give. */
export type Session =
  | { readonly homeAccountId: string | undefined; readonly response?: undefined }
  | { readonly response: HttpResponseInit };

/**
 * Reads the session cookie. No, expired, tampered or foreign cookie → no account. A cookie sealed under a
 * SESSION_KEYS key this instance does not have yet (a rolling rotation: a newer instance signed the person in) →
 * a 503 that keeps the cookie, never a sign-out.
 */
export async function readSession(
  request: HttpRequest,
  context: InvocationContext,
  runtime: AppRuntime,
): Promise<Session> {
  const opened = await openCookie(
    sessionRing(runtime),
    'session',
    readCookie(request.headers.get('cookie'), SESSION_COOKIE),
  );
  if (opened.status === 'unknown_key') return { response: keyNotYetHere(opened, context) };
  const hid = opened.status === 'valid' ? opened.payload.hid : undefined;
  return { homeAccountId: typeof hid === 'string' ? hid : undefined };
}

/**
 * The signed-in person's account id, or the answer to give instead: the sign-in redirect, or 503 when the session
 * was sealed under a key this instance lacks yet.
 */
export async function requireSignedIn(
  request: HttpRequest,
  context: InvocationContext,
  runtime: AppRuntime,
): Promise<
  { readonly homeAccountId: string; readonly response?: undefined } | { readonly response: HttpResponseInit }
> {
  const session = await readSession(request, context, runtime);
  if (session.response) return { response: session.response };
  if (!session.homeAccountId) return { response: signInRedirect() };
  return { homeAccountId: session.homeAccountId };
}

function keyNotYetHere(opened: Extract<OpenedCookie, { status: 'unknown_key' }>, context: InvocationContext) {
  context.error(`cookie sealed with SESSION_KEYS key "${opened.keyId}", not in this instance's ring: answering 503`);
  return problem(503, 'session_key_unavailable', 'this server cannot read your session yet; try again shortly', {
    'retry-after': '5',
  });
}

/** `GET /api/auth/login`: starts auth code + PKCE; state, nonce and verifier travel in a sealed, short-lived cookie. */
export async function startSignIn(
  _request: HttpRequest,
  context: InvocationContext,
  runtime: AppRuntime,
): Promise<HttpResponseInit> {
  return authorizeRedirect(context, runtime);
}

/**
 * The redirect to the authority's sign-in, with the sign-in transaction cookie; `claims` (a claims challenge the
 * identity provider could not satisfy silently) go into the authorize request.
 */
export async function authorizeRedirect(
  context: InvocationContext,
  runtime: AppRuntime,
  options: { readonly claims?: string } = {},
): Promise<HttpResponseInit> {
  const { verifier, challenge } = await crypto.generatePkceCodes();
  const state = crypto.createNewGuid();
  const nonce = crypto.createNewGuid();
  const url = await runtime.tokens.getAuthCodeUrl(
    {
      scopes: [...runtime.settings.web.downstreamScopes],
      redirectUri: runtime.settings.web.redirectUri,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
      state,
      nonce,
      prompt: 'select_account',
      ...(options.claims ? { claims: options.claims } : {}),
    },
    { logger: context },
  );
  const sealed = await sealCookie(sessionRing(runtime), 'signin', { state, nonce, verifier }, TRANSACTION_MAX_AGE);
  return redirect(url, { cookies: [cookie(TRANSACTION_COOKIE, sealed, TRANSACTION_MAX_AGE)] });
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * `GET /api/auth/callback`: checks state against the sealed cookie, redeems the code, writes the tokens to the
 * user's partition (known only from the authority's answer), and sets the session cookie (account id only).
 */
export async function completeSignIn(
  request: HttpRequest,
  context: InvocationContext,
  runtime: AppRuntime,
): Promise<HttpResponseInit> {
  const ring = sessionRing(runtime);
  const clearTransaction = cookie(TRANSACTION_COOKIE, '', 0);
  const query = request.query;
  const authorityError = query.get('error');
  if (authorityError) {
    return problem(400, 'sign_in_failed', `the identity provider reported ${authorityError.slice(0, 100)}`);
  }
  const code = query.get('code');
  const state = query.get('state');
  if (!code || !state || code.length > 4096) return problem(400, 'invalid_request', 'code and state are required');
  const opened = await openCookie(ring, 'signin', readCookie(request.headers.get('cookie'), TRANSACTION_COOKIE));
  // A sign-in another instance started under a newer key: the code is still good there or here, later.
  if (opened.status === 'unknown_key') return keyNotYetHere(opened, context);
  const transaction = opened.status === 'valid' ? opened.payload : undefined;
  if (!transaction || typeof transaction.state !== 'string' || typeof transaction.verifier !== 'string') {
    return {
      ...problem(400, 'invalid_state', 'no sign-in in progress (expired, replayed or foreign)'),
      cookies: [clearTransaction],
    };
  }
  if (!sameText(transaction.state, state)) {
    return {
      ...problem(400, 'invalid_state', 'state does not match the sign-in in progress'),
      cookies: [clearTransaction],
    };
  }
  let outcome;
  try {
    outcome = await runtime.tokens.acquireTokenByCode(
      {
        code,
        scopes: [...runtime.settings.web.downstreamScopes],
        redirectUri: runtime.settings.web.redirectUri,
        codeVerifier: transaction.verifier,
        nonce: typeof transaction.nonce === 'string' ? transaction.nonce : '',
        state,
      },
      { logger: context, operation: 'sign-in', authCodePayload: { code, state } },
    );
  } catch (error) {
    const failure = classifyTokenError(error);
    context.warn(`sign-in code redemption failed: ${describeError(error)}`);
    if (failure.kind === 'store_unavailable') {
      // The code was redeemed but the tokens are not kept: a session now would lead to "sign in again" later.
      return {
        ...problem(
          503,
          'sign_in_not_saved',
          'you signed in, but your sign-in could not be saved just now; please sign in again in a moment',
          { 'retry-after': '5' },
        ),
        cookies: [clearTransaction],
      };
    }
    if (failure.kind === 'authority_unavailable') {
      return {
        ...problem(503, 'identity_provider_unavailable', 'the identity provider is unavailable', {
          'retry-after': '5',
        }),
        cookies: [clearTransaction],
      };
    }
    return {
      ...problem(400, 'invalid_grant', `the sign-in could not be completed (${failure.code})`),
      cookies: [clearTransaction],
    };
  }
  const { partitionKey } = outcome;
  const homeAccountId = outcome.result.account?.homeAccountId ?? partitionKey;
  try {
    // A guest's web API partition is their id token's oid.tid, not this homeAccountId: link the two for erasure.
    await linkPartitions(runtime, partitionKey, partitionOfIdToken(outcome.result.idTokenClaims, context), context);
  } catch (error) {
    context.warn(`sign-in could not record the partitions of ${partitionKey}: ${describeError(error)}`);
    return {
      ...problem(503, 'store_unavailable', 'your sign-in could not be saved; sign in again', { 'retry-after': '5' }),
      cookies: [clearTransaction],
    };
  }
  // A user who had to sign in again for background work gets it back; a pause decided on older tokens fails.
  await renewBackgroundOnSignIn(runtime, partitionKey, context).catch((error: unknown) =>
    context.warn(`could not re-activate background work: ${describeError(error)}`),
  );
  const session = await sealCookie(ring, 'session', { hid: homeAccountId }, SESSION_MAX_AGE);
  return redirect('/api/profile', {
    cookies: [clearTransaction, cookie(SESSION_COOKIE, session, SESSION_MAX_AGE)],
  });
}

export function clearSessionCookie(): Cookie {
  return cookie(SESSION_COOKIE, '', 0);
}

/** A page that can only be seen signed in: no or bad session → redirect to sign-in. */
export function signInRedirect(): HttpResponseInit {
  return redirect('/api/auth/login', { cookies: [clearSessionCookie()] });
}
