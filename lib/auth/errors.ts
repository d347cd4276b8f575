import { AuthError, InteractionRequiredAuthError, ServerError } from '@azure/msal-node';
import { AccountNotCachedError } from './tokens.js';

/** What went wrong getting a token, in terms a caller can act on. */
export type TokenFailure =
  | { readonly kind: 'interaction_required'; readonly claims: string | undefined; readonly code: string }
  | { readonly kind: 'authority_unavailable'; readonly code: string }
  | { readonly kind: 'rejected'; readonly code: string };

/** Classifies an MSAL (or token helper) error. Only codes are kept: messages may quote request data. */
export function classifyTokenError(error: unknown): TokenFailure {
  if (error instanceof AccountNotCachedError)
    return { kind: 'interaction_required', claims: undefined, code: 'no_account' };
  if (error instanceof InteractionRequiredAuthError) {
    return { kind: 'interaction_required', claims: error.claims || undefined, code: error.errorCode };
  }
  if (error instanceof ServerError) {
    // msal-node does not always carry the HTTP status (its OBO path drops it): the OAuth error code tells too.
    const unavailableCode = ['temporarily_unavailable', 'server_error', 'service_unavailable'].includes(
      error.errorCode,
    );
    if (unavailableCode || (error.status !== undefined && (error.status >= 500 || error.status === 429))) {
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
    if (error.errorCode === 'network_error' || /timed out|ECONNREFUSED|ECONNRESET|failed:/.test(error.message)) {
      return { kind: 'authority_unavailable', code: error.errorCode };
    }
    return { kind: 'rejected', code: error.errorCode };
  }
  if (error instanceof Error && /identity provider request/.test(error.message)) {
    return { kind: 'authority_unavailable', code: 'network_error' };
  }
  return { kind: 'rejected', code: error instanceof Error ? error.name : 'unknown' };
}
