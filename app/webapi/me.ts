import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { InteractionRequiredAuthError } from '@azure/msal-node';
import { classifyTokenError, describeError, hasClientCapability } from '../../lib/index.js';
import { ClaimsRetryFailed, callWithClaimsRetry, claimsForSignIn } from '../claims-retry.js';
import { DownstreamError } from '../downstream.js';
import { problem } from '../http/responses.js';
import { tokenFailureResponse, type ChallengeTarget } from '../http/token-failure.js';
import type { AppRuntime } from '../runtime.js';
import { authenticate } from './authenticate.js';

/**
 * `GET /api/me`: validates the caller's bearer token, gets a downstream token on the caller's behalf from the
 * caller's own partition (`oid.tid` of the validated token), calls the downstream API and returns its JSON.
 * Nothing touches any partition before the token is validated.
 *
 * A claims challenge of the downstream API (Continuous Access Evaluation) is answered once, on-behalf-of with its
 * claims; when the identity provider needs the user for them (a revoked session), the challenge goes to the caller
 * — as a claims challenge when its token declares `cp1`, as a plain `interaction_required` 401 otherwise. A cp1
 * caller whose token the identity provider refuses on-behalf-of (its session revoked) gets a claims challenge for a
 * newer token, also when no downstream challenge came first.
 */
export async function getMe(
  request: HttpRequest,
  context: InvocationContext,
  runtime: AppRuntime,
): Promise<HttpResponseInit> {
  const caller = await authenticate(request, runtime);
  if (caller.response) return caller.response;
  const target: ChallengeTarget = {
    handlesClaimsChallenges: hasClientCapability(caller.claims, 'cp1'),
    authorizationUri: `${runtime.tokens.authority}/oauth2/v2.0/authorize`,
  };
  try {
    const { body } = await callWithClaimsRetry(runtime.settings.web.downstreamUrl, (claims) =>
      runtime.tokens.acquireTokenOnBehalfOf(
        {
          caller: caller.claims,
          assertion: caller.token,
          scopes: runtime.settings.web.downstreamScopes,
          ...(claims ? { claims } : {}),
        },
        { logger: context, operation: claims ? 'obo-claims' : 'obo' },
      ),
    );
    return { status: 200, headers: { 'cache-control': 'no-store' }, jsonBody: body };
  } catch (error) {
    if (error instanceof DownstreamError) {
      context.warn(`downstream call failed: ${describeError(error)}`);
      return problem(502, 'downstream_failed', error.message);
    }
    const retry = error instanceof ClaimsRetryFailed ? error : undefined;
    const failure = classifyTokenError(retry ? retry.cause : error);
    context.warn(
      `on-behalf-of${retry ? ' with the claims of a downstream challenge' : ''} failed: ${failure.kind} (${failure.code}): ${describeError(retry?.cause ?? error)}`,
    );
    if (retry && failure.kind === 'interaction_required') {
      return tokenFailureResponse({ ...failure, claims: claimsForSignIn(retry.challenge, failure.claims) }, target);
    }
    if (failure.kind === 'interaction_required' && !failure.claims && refusedAssertion(error)) {
      return tokenFailureResponse({ ...failure, claims: newerTokenClaims(caller.claims.iat) }, target);
    }
    return tokenFailureResponse(failure, target);
  }
}

/**
 * The identity provider refused the caller's token itself on-behalf-of (`bad_token`: its session was revoked). That
 * is what a caller's second or concurrent call meets after a revocation: the first call relayed the downstream API's
 * challenge and its claims retry removed the downstream token, so this call has no downstream challenge to relay.
 */
function refusedAssertion(error: unknown): boolean {
  return error instanceof InteractionRequiredAuthError && error.subError === 'bad_token';
}

/**
 * A claims request for an access token issued after the caller's (`nbf` one second past its `iat`): a cp1 client
 * then gets a new token (signing the user in again) instead of serving the refused one from its cache until it
 * expires.
 */
function newerTokenClaims(iat: number | undefined): string {
  const after = typeof iat === 'number' ? iat + 1 : Math.floor(Date.now() / 1000);
  return JSON.stringify({ access_token: { nbf: { essential: true, value: String(after) } } });
}
