import { AuthError, ClientAuthErrorCodes, InteractionRequiredAuthError, ServerError } from '@azure/msal-node';
import { TokenCacheError } from '../errors.js';

/** What went wrong getting a token, in terms a caller can act on. `code` is an error code, never a message. */
export type TokenFailure =
  /** The user must come back (sign in, consent, MFA); `claims` is the challenge to pass on, if any. */
  | { readonly kind: 'interaction_required'; readonly claims: string | undefined; readonly code: string }
  /** The identity provider could not answer now: retry later. */
  | { readonly kind: 'authority_unavailable'; readonly code: string }
  /**
   * The token cache's store could not read or keep the user's partition now: retry later. Never a reason to sign
   * anyone out or pause them — it says nothing about the user.
   */
  | { readonly kind: 'store_unavailable'; readonly code: string }
  /** The request itself was refused or failed otherwise. */
  | { readonly kind: 'rejected'; readonly code: string };

/** The library's codes for a store that could not read or keep a partition now. */
const STORE_UNAVAILABLE_CODES = new Set(['partition_unavailable', 'partition_not_saved', 'store_unavailable']);

/** OAuth error codes meaning "not now". */
const UNAVAILABLE_CODES = new Set(['temporarily_unavailable', 'server_error', 'service_unavailable']);

/**
 * Entra error codes (`error_codes[0]`, msal-node's `errorNo`) meaning "not now" whatever the OAuth error says.
 * AADSTS50196, loop detected: Entra throttles a client that asks for the same token too often, answering user
 * flows `invalid_grant` — the grant is fine, the request came too soon.
 */
const THROTTLED_ERROR_NUMBERS = new Set(['50196']);

function throttled(error: ServerError): boolean {
  return error.errorNo !== undefined && THROTTLED_ERROR_NUMBERS.has(String(error.errorNo));
}

/**
 * Classifies an error of a token acquisition — MSAL's (by `errorCode` and HTTP status) or the library's (by
 * `code`). Only codes are kept: MSAL's messages may quote request data.
 *
 * @example
 * ```ts
 * const failure = classifyTokenError(error);
 * if (failure.kind === 'authority_unavailable') return { status: 503, headers: { 'retry-after': '5' } };
 * ```
 */
export function classifyTokenError(error: unknown): TokenFailure {
  if (error instanceof TokenCacheError) {
    if (error.code === 'account_not_cached')
      return { kind: 'interaction_required', claims: undefined, code: error.code };
    // The identity provider's signing keys could not be fetched: it is unavailable, the caller is not refused.
    if (error.code === 'authority_unavailable' || error.code === 'bearer_keys_unavailable') {
      return { kind: 'authority_unavailable', code: error.code };
    }
    if (STORE_UNAVAILABLE_CODES.has(error.code)) return { kind: 'store_unavailable', code: error.code };
    return { kind: 'rejected', code: error.code };
  }
  if ((error instanceof InteractionRequiredAuthError || error instanceof ServerError) && throttled(error)) {
    return { kind: 'authority_unavailable', code: `${error.errorCode} (AADSTS${String(error.errorNo)})` };
  }
  if (error instanceof InteractionRequiredAuthError) {
    return { kind: 'interaction_required', claims: error.claims || undefined, code: error.errorCode };
  }
  if (error instanceof ServerError) {
    // msal-node carries the HTTP status only for client credentials (the network client of this library puts it back
    // for 429 and 5xx; another may not): the OAuth error code tells too.
    if (
      UNAVAILABLE_CODES.has(error.errorCode) ||
      (error.status !== undefined && (error.status >= 500 || error.status === 429))
    ) {
      return {
        kind: 'authority_unavailable',
        code: error.status ? `${error.errorCode} (HTTP ${error.status})` : error.errorCode,
      };
    }
    if (error.errorCode === 'invalid_grant')
      return { kind: 'interaction_required', claims: undefined, code: error.errorCode };
    return { kind: 'rejected', code: error.errorCode };
  }
  if (error instanceof AuthError) {
    // A failed or timed-out request of the network client: msal-node wraps it as `network_error`.
    if (error.errorCode === ClientAuthErrorCodes.networkError) {
      return { kind: 'authority_unavailable', code: error.errorCode };
    }
    return { kind: 'rejected', code: error.errorCode };
  }
  return { kind: 'rejected', code: error instanceof Error ? error.name : 'unknown' };
}
