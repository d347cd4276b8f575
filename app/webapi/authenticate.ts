import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { BearerError, type ValidatedCaller } from '../../lib/index.js';
import { problem } from '../http/responses.js';
import type { AppRuntime } from '../runtime.js';

export type Authenticated = ValidatedCaller & { readonly response?: undefined };
export type Rejected = { readonly response: HttpResponseInit };

/**
 * Validates the caller's bearer token; on failure, the 401/403 answer with its `WWW-Authenticate` challenge, or a
 * 503 with `Retry-After` when the signing keys cannot be fetched now (a 401 would make the client drop a good token).
 */
export async function authenticate(request: HttpRequest, runtime: AppRuntime): Promise<Authenticated | Rejected> {
  try {
    return await runtime.bearer.validate(request.headers.get('authorization'));
  } catch (error) {
    if (!(error instanceof BearerError)) throw error;
    const headers: Record<string, string> =
      error.retryAfterSeconds === undefined
        ? { 'www-authenticate': error.challenge }
        : { 'retry-after': String(error.retryAfterSeconds) };
    return { response: problem(error.status, error.error, error.message, headers) };
  }
}
