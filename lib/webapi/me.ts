import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { classifyTokenError } from '../auth/errors.js';
import { tokenFailureResponse } from '../auth/failure-response.js';
import { acquireTokenOnBehalfOf } from '../auth/tokens.js';
import { DownstreamError, callDownstream } from '../downstream.js';
import { problem } from '../http/responses.js';
import { describeError } from '../log.js';
import { type Runtime, getRuntime } from '../runtime.js';
import { logTokenTelemetry } from '../telemetry.js';
import { authenticate } from './authenticate.js';

/**
 * `GET /api/me`: validates the caller's bearer token, gets a downstream token on the caller's behalf from the
 * caller's own partition (`oid.tid` of the validated token), calls the downstream API and returns its JSON.
 * Nothing touches any partition before the token is validated.
 */
export async function getMe(
  request: HttpRequest,
  context: InvocationContext,
  runtime: Runtime = getRuntime(),
): Promise<HttpResponseInit> {
  const caller = await authenticate(request, runtime);
  if (caller.response) return caller.response;
  const scopes = [...runtime.config.web.downstreamScopes];
  let outcome;
  try {
    outcome = await acquireTokenOnBehalfOf(runtime.factory, caller.claims, caller.token, scopes, context);
  } catch (error) {
    const failure = classifyTokenError(error);
    context.warn(`on-behalf-of failed: ${failure.kind} (${failure.code}): ${describeError(error)}`);
    return tokenFailureResponse(failure);
  }
  logTokenTelemetry(context, {
    operation: 'obo',
    partitionKey: outcome.partitionKey,
    fromCache: outcome.result.fromCache,
    stats: outcome.stats,
    outcome: 'ok',
  });
  try {
    const body = await callDownstream(runtime.config.web.downstreamUrl, outcome.result.accessToken);
    return { status: 200, headers: { 'cache-control': 'no-store' }, jsonBody: body };
  } catch (error) {
    if (!(error instanceof DownstreamError)) throw error;
    context.warn(`downstream call failed: ${describeError(error)}`);
    return problem(502, 'downstream_failed', error.message);
  }
}
