import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { BearerError, type ValidatedCaller } from '../../lib/index.js';
import { problem } from '../http/responses.js';
import type { AppRuntime } from '../runtime.js';

export type Authenticated = ValidatedCaller & { readonly response?: undefined };
export type Rejected = { readonly response: HttpResponseInit };

/** Validates the caller's bearer token; on failure, the 401/403 answer with its `WWW-Authenticate` challenge. */
export async function authenticate(request: HttpRequest, runtime: AppRuntime): Promise<Authenticated | Rejected> {
  try {
    return await runtime.bearer.validate(request.headers.get('authorization'));
  } catch (error) {
    if (!(error instanceof BearerError)) throw error;
    return { response: problem(error.status, error.error, error.message, { 'www-authenticate': error.challenge }) };
  }
}
