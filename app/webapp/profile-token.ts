import type { Cookie, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { classifyTokenError, describeError } from '../../lib/index.js';
import { ClaimsRetryFailed, callWithClaimsRetry, claimsForSignIn } from '../claims-retry.js';
import { DownstreamError } from '../downstream.js';
import { escapeHtml, html, problem } from '../http/responses.js';
import { tokenFailureResponse } from '../http/token-failure.js';
import type { AppRuntime } from '../runtime.js';
import { readCookie } from './cookies.js';
import { authorizeRedirect, signInRedirect } from './signin.js';

/**
 * Set when the profile sends the person to a sign-in carrying a claims challenge; cleared by the next profile,
 * whatever it answers (but another such sign-in). Should the claims still be needed after that sign-in, the profile
 * shows an error instead of sending the person round once more. Not sealed: it holds no data, and
 * forging or dropping it only changes whether this one browser is redirected or shown the error.
 */
export const CLAIMS_SIGN_IN_COOKIE = '__Host-msal_claims_signin';
const CLAIMS_SIGN_IN_MAX_AGE = 600;

function claimsSignInCookie(on: boolean): Cookie {
  return {
    name: CLAIMS_SIGN_IN_COOKIE,
    value: on ? '1' : '',
    maxAge: on ? CLAIMS_SIGN_IN_MAX_AGE : 0,
    // `__Host-` cookies must have Path=/ (and Secure, no Domain).
    path: '/',
    httpOnly: true,
    secure: true,
    sameSite: 'Lax',
  };
}

export type ProfileData =
  | { readonly response: HttpResponseInit }
  | {
      readonly me: unknown;
      readonly fromCache: boolean;
      /** The downstream API rejected the cached token with a claims challenge; a new one was had silently. */
      readonly challenged: boolean;
      /** This is the first profile after a sign-in a claims challenge asked for. */
      readonly signedInAgain: boolean;
      readonly cookies: Cookie[];
    };

/**
 * The profile's data: a silent token from the user's partition, then the downstream API. A claims challenge is
 * answered once silently with its claims; when the identity provider needs the person for them (or names claims of
 * its own when it refuses a refresh), a sign-in carrying the claims, back to the profile afterwards.
 */
export async function profileData(
  request: HttpRequest,
  context: InvocationContext,
  runtime: AppRuntime,
  homeAccountId: string,
): Promise<ProfileData> {
  const afterClaimsSignIn = readCookie(request.headers.get('cookie'), CLAIMS_SIGN_IN_COOKIE) === '1';
  // Any other answer ends the claims sign-in round too: a challenge met later starts a round of its own.
  const ended = (response: HttpResponseInit): ProfileData => ({
    response: afterClaimsSignIn
      ? { ...response, cookies: [...(response.cookies ?? []), claimsSignInCookie(false)] }
      : response,
  });
  try {
    const { body, outcome, challenge } = await callWithClaimsRetry(runtime.settings.web.downstreamUrl, (claims) =>
      runtime.tokens.acquireTokenSilent(
        { homeAccountId, scopes: runtime.settings.web.downstreamScopes, ...(claims ? { claims } : {}) },
        { logger: context, operation: claims ? 'profile-claims' : 'profile' },
      ),
    );
    return {
      me: body,
      fromCache: outcome.result.fromCache,
      challenged: challenge !== undefined,
      signedInAgain: afterClaimsSignIn,
      cookies: afterClaimsSignIn ? [claimsSignInCookie(false)] : [],
    };
  } catch (error) {
    if (error instanceof DownstreamError) {
      context.warn(`profile: downstream call failed: ${describeError(error)}`);
      return ended(problem(502, 'downstream_failed', error.message));
    }
    const retry = error instanceof ClaimsRetryFailed ? error : undefined;
    const failure = classifyTokenError(retry ? retry.cause : error);
    context.warn(
      `profile: silent token${retry ? ' with the claims of a downstream challenge' : ''} failed: ${failure.kind} (${failure.code})`,
    );
    // Anything but "the person is needed" is "not now" or a refused request: the session stays.
    if (failure.kind !== 'interaction_required') return ended(tokenFailureResponse(failure));
    // The downstream API's claims merged with the identity provider's, or the identity provider's own (a step-up
    // it requires): a sign-in that does not ask for them may not meet them, and would come back to the same answer.
    const claims = retry ? claimsForSignIn(retry.challenge, failure.claims) : failure.claims;
    if (!claims) return ended(signInRedirect());
    if (afterClaimsSignIn) return { response: unsatisfiedPage() };
    context.info('profile: the identity provider needs the person for a claims challenge: sign-in with the claims');
    const redirect = await authorizeRedirect(context, runtime, { claims });
    return { response: { ...redirect, cookies: [...(redirect.cookies ?? []), claimsSignInCookie(true)] } };
  }
}

function unsatisfiedPage(): HttpResponseInit {
  const reason =
    'The downstream API still rejects your tokens after the sign-in it asked for (a claims challenge the new sign-in did not satisfy).';
  return {
    ...html(
      502,
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Access needs attention</title></head><body><h1>Access needs attention</h1><p>${escapeHtml(reason)}</p><p><a href="/api/auth/login">Sign in again</a></p></body></html>`,
    ),
    cookies: [claimsSignInCookie(false)],
  };
}
