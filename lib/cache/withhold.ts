import { type Json, type JsonObject, isObject } from './document.js';

/** Which stored access tokens an invocation keeps from MSAL (and so removes from the partition). */
export type AccessTokenFilter = (entry: Json) => boolean;

/** Scopes MSAL leaves out when it compares what tokens are for. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

/**
 * The access tokens of `clientId` that share a scope with `scopes` — the ones MSAL would serve for a request of those
 * scopes, and would replace when it saves a new token for them (msal-common's CacheManager.saveAccessToken removes
 * every access token of the client whose scopes intersect the new one's).
 */
export function accessTokensFor(clientId: string, scopes: readonly string[]): AccessTokenFilter {
  const wanted = new Set(scopes.map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0 && !OIDC_SCOPES.has(s)));
  const client = clientId.toLowerCase();
  return (entry) =>
    isObject(entry) &&
    typeof entry.client_id === 'string' &&
    entry.client_id.toLowerCase() === client &&
    typeof entry.target === 'string' &&
    entry.target.split(/\s+/).some((scope) => wanted.has(scope.toLowerCase()));
}

/** `msal` without the access tokens `withheld` selects; the same object when it selects none. */
export function withoutAccessTokens(msal: JsonObject, withheld: AccessTokenFilter): JsonObject {
  const tokens = msal.AccessToken;
  if (!isObject(tokens)) return msal;
  const kept = Object.entries(tokens).filter(([, entry]) => !withheld(entry));
  if (kept.length === Object.keys(tokens).length) return msal;
  return { ...msal, AccessToken: Object.fromEntries(kept) };
}
