import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
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
 * — as a claims challenge when its token declares `cp1`, as a plain `interaction_required` 401 otherwise.
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
    return tokenFailureResponse(failure, target);
  }
}
