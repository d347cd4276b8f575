import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { BearerError, type CallerClaims, validateBearer } from '../auth/bearer.js';
import { problem } from '../http/responses.js';
import type { Runtime } from '../runtime.js';

export type Authenticated = { readonly token: string; readonly claims: CallerClaims; readonly response?: undefined };
export type Rejected = { readonly response: HttpResponseInit };

/** Validates the caller's bearer token; on failure, the 401/403 answer with its `WWW-Authenticate` challenge. */
export async function authenticate(request: HttpRequest, runtime: Runtime): Promise<Authenticated | Rejected> {
  try {
    return await validateBearer(request.headers.get('authorization'), runtime.bearerPolicy, runtime.bearerKeys);
  } catch (error) {
    if (!(error instanceof BearerError)) throw error;
    return { response: problem(error.status, error.error, error.message, { 'www-authenticate': error.challenge }) };
  }
}
