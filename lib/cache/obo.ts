import { hash } from 'node:crypto';
import { type Json, type JsonObject, isObject } from './document.js';

/*
 * What msal-node 7 (msal-common 16) does with on-behalf-of access tokens, and why the plugin shows MSAL only some:
 *
 * - OnBehalfOfClient hashes the incoming token (SHA-256, base64url: CryptoProvider.hashString) into
 *   `userAssertionHash` and looks the cache up with it in the filter; a second match fails the lookup
 *   (multiple_matching_tokens) and goes to the network. It calls no cache plugin hook on a hit.
 * - On a network answer, CacheManager.saveAccessToken first REMOVES every access token of the same client,
 *   credential type, environment, home account, realm and token type whose scopes intersect the new token's —
 *   whatever its userAssertionHash, so another device's token of that user goes, and so does the web app's own
 *   (silent) token for those scopes — then stores the new one under generateCredentialKey:
 *   `homeAccountId-environment-accesstoken-clientId-realm-target[-scheme]`, a key without the assertion hash. The
 *   refresh token (also stamped with the hash) goes to the account's one refresh-token key.
 * - The silent flow's lookup (CacheManager.getAccessToken) does not filter on userAssertionHash: with two tokens for
 *   its scopes it finds "multiple access tokens", clears them and refreshes.
 *
 * So the stored document keeps each incoming token's access token under a key of its own (msal-node's key plus
 * `-{userAssertionHash}`), and each invocation's MSAL sees only the access tokens of its own incoming token (none
 * for the other flows): nothing it saves can drop another device's token, and the silent lookup never sees them.
 * The rest comes back from the stored document after the flow; `pruneDocument` bounds them per scope set.
 */

/** msal-node's `userAssertionHash` of an incoming token (the same computation as its CryptoProvider.hashString). */
export function assertionHashOf(assertion: string): string {
  // The one-shot hash: about a third of createHash's cost, on every on-behalf-of call.
  return hash('sha256', assertion, 'base64url');
}

/** Most incoming tokens a warm client remembers (see {@link KnownAssertions}); a person's devices and apps, usually. */
export const MAX_KNOWN_ASSERTIONS = 4;

/**
 * The incoming tokens a partition's warm client served lately, with their hashes — each one checked, when first
 * seen, to be a token of that partition's caller. The next call with the same token (compared whole, never by a
 * prefix or a hash) skips hashing it and decoding it again: on a warm call those were the largest part of the
 * library's own time. Held in memory only, with the client; counted in the warm tier's bytes.
 */
export class KnownAssertions {
  private readonly entries: { readonly assertion: string; readonly hash: string }[] = [];
  private heldBytes = 0;

  /** The hash of exactly this incoming token if it is known, else undefined. */
  hashOf(assertion: string): string | undefined {
    for (const entry of this.entries) if (entry.assertion === assertion) return entry.hash;
    return undefined;
  }

  /** Remembers a checked incoming token of the partition, forgetting the oldest beyond {@link MAX_KNOWN_ASSERTIONS}. */
  add(assertion: string, hash: string): void {
    if (this.hashOf(assertion) !== undefined) return;
    // A copy: the caller's string may be a slice of a larger one (a header, a body) that it would keep alive.
    const copy = Buffer.from(assertion, 'utf8').toString('utf8');
    this.entries.unshift({ assertion: copy, hash });
    this.heldBytes += entryBytes(copy);
    while (this.entries.length > MAX_KNOWN_ASSERTIONS) this.heldBytes -= entryBytes(this.entries.pop()!.assertion);
  }

  /** Estimated bytes held: the tokens' characters plus each entry's hash and bookkeeping. */
  get bytes(): number {
    return this.heldBytes;
  }
}

function entryBytes(assertion: string): number {
  return assertion.length + 128;
}

function assertionHash(entry: Json | undefined): string | undefined {
  return isObject(entry) && typeof entry.userAssertionHash === 'string' && entry.userAssertionHash
    ? entry.userAssertionHash
    : undefined;
}

function storedKey(key: string, entry: Json | undefined): string {
  const hash = assertionHash(entry);
  return hash && !key.endsWith(`-${hash}`) ? `${key}-${hash}` : key;
}

/**
 * What an invocation's MSAL is given of a stored cache: all of it, except the access tokens of incoming tokens other
 * than `ownAssertionHash` (on-behalf-of), or of any incoming token when `ownAssertionHash` is undefined (other flows).
 */
export function visibleEntries(msal: JsonObject, ownAssertionHash: string | undefined): JsonObject {
  const tokens = msal.AccessToken;
  if (!isObject(tokens)) return msal;
  const visible = Object.entries(tokens).filter(([, entry]) => assertionHash(entry) === ownAssertionHash);
  if (visible.length === Object.keys(tokens).length) return msal;
  return { ...msal, AccessToken: Object.fromEntries(visible) };
}

/**
 * The cache to store after a flow: what MSAL holds (`msal`, serialized), its on-behalf-of access tokens re-keyed
 * per incoming token, plus the access tokens of `stored` MSAL was not shown (see {@link visibleEntries}).
 */
export function withHiddenEntries(
  msal: JsonObject,
  stored: JsonObject,
  ownAssertionHash: string | undefined,
): JsonObject {
  const storedTokens = isObject(stored.AccessToken) ? stored.AccessToken : {};
  const tokens = isObject(msal.AccessToken) ? msal.AccessToken : undefined;
  const combined: JsonObject = {};
  for (const [key, entry] of Object.entries(tokens ?? {})) combined[storedKey(key, entry)] = entry;
  let hidden = 0;
  for (const [key, entry] of Object.entries(storedTokens)) {
    // A token MSAL was shown is MSAL's to keep, replace or remove.
    if (assertionHash(entry) === ownAssertionHash) continue;
    const k = storedKey(key, entry);
    if (!(k in combined)) combined[k] = entry;
    hidden++;
  }
  if (tokens === undefined && hidden === 0) return msal;
  return { ...msal, AccessToken: combined };
}
