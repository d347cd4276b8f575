import { newTraceId } from './ids.js';

export interface OAuthErrorExtras {
  /** Entra's sub-error, e.g. `bad_token` (MSAL treats it as interaction required). */
  suberror?: string;
  /** A claims challenge (JSON string) for `interaction_required`. */
  claims?: string;
  retryAfterSeconds?: number;
}

/** A token-endpoint error, answered in Entra's JSON shape. */
export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly aadsts: number,
    readonly description: string,
    readonly extras: OAuthErrorExtras = {},
  ) {
    super(`${error}: AADSTS${aadsts}: ${description}`);
  }
}

export const invalidRequest = (aadsts: number, description: string) =>
  new OAuthError(400, 'invalid_request', aadsts, description);

export const invalidGrant = (aadsts: number, description: string, extras?: OAuthErrorExtras) =>
  new OAuthError(400, 'invalid_grant', aadsts, description, extras);

export const missingParameter = (name: string) =>
  invalidRequest(900144, `The request body must contain the following parameter: '${name}'.`);

export interface EntraErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  suberror?: string;
  claims?: string;
}

export function entraErrorBody(err: OAuthError, correlationId: string | undefined): EntraErrorBody {
  const traceId = newTraceId();
  const correlation = correlationId || newTraceId();
  const timestamp = new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  return {
    error: err.error,
    error_description:
      `AADSTS${err.aadsts}: ${err.description} ` +
      `Trace ID: ${traceId} Correlation ID: ${correlation} Timestamp: ${timestamp}`,
    error_codes: [err.aadsts],
    timestamp,
    trace_id: traceId,
    correlation_id: correlation,
    ...(err.extras.suberror ? { suberror: err.extras.suberror } : {}),
    ...(err.extras.claims ? { claims: err.extras.claims } : {}),
  };
}

/** The body of an injected failure (`/_admin/fail`): 429 and 5xx the way Entra words them. */
export function injectedFailure(
  status: number,
  retryAfterSeconds?: number,
  oauth?: { readonly error: string; readonly aadsts: number },
): OAuthError {
  const extras: OAuthErrorExtras = retryAfterSeconds === undefined ? {} : { retryAfterSeconds };
  if (oauth)
    return new OAuthError(status, oauth.error, oauth.aadsts, `Injected failure (AADSTS${oauth.aadsts}).`, extras);
  if (status === 429) return new OAuthError(429, 'too_many_requests', 50196, 'Too many requests.', extras);
  if (status >= 500) {
    const description = 'The service is temporarily unavailable (injected failure).';
    return new OAuthError(status, 'temporarily_unavailable', 90033, description, extras);
  }
  return new OAuthError(status, 'invalid_request', 90000, `Injected failure with status ${status}.`, extras);
}
