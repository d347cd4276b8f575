import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { classifyTokenError, describeError } from '../../lib/index.js';
import { DownstreamError, callDownstream } from '../downstream.js';
import { problem } from '../http/responses.js';
import { tokenFailureResponse } from '../http/token-failure.js';
import type { AppRuntime } from '../runtime.js';
import { authenticate } from './authenticate.js';

/**
 * `GET /api/me`: validates the caller's bearer token, gets a downstream token on the caller's behalf from the
 * caller's own partition (`oid.tid` of the validated token), calls the downstream API and returns its JSON.
 * Nothing touches any partition before the token is validated.
 */
export async function getMe(
  request: HttpRequest,
  context: InvocationContext,
  runtime: AppRuntime,
): Promise<HttpResponseInit> {
  const caller = await authenticate(request, runtime);
  if (caller.response) return caller.response;
  let outcome;
  try {
    outcome = await runtime.tokens.acquireTokenOnBehalfOf(
      { caller: caller.claims, assertion: caller.token, scopes: runtime.settings.web.downstreamScopes },
      { logger: context, operation: 'obo' },
    );
  } catch (error) {
    const failure = classifyTokenError(error);
    context.warn(`on-behalf-of failed: ${failure.kind} (${failure.code}): ${describeError(error)}`);
    return tokenFailureResponse(failure);
  }
  try {
    const body = await callDownstream(runtime.settings.web.downstreamUrl, outcome.result.accessToken);
    return { status: 200, headers: { 'cache-control': 'no-store' }, jsonBody: body };
  } catch (error) {
    if (!(error instanceof DownstreamError)) throw error;
    context.warn(`downstream call failed: ${describeError(error)}`);
    return problem(502, 'downstream_failed', error.message);
  }
}
