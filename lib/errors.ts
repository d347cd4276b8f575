import type { TokenOutcome } from './options.js';

/**
 * Every error the library throws is a {@link TokenCacheError} with a stable `code`: callers branch on the code,
 * never on the message, which is for people (it names partitions, sizes and limits, never a token or a key).
 */
export type TokenCacheErrorCode =
  /** A conditional write or delete lost to another writer (re-read, merge, retry). */
  | 'store_conflict'
  /** The store could not be reached, answered 5xx, throttled past the retries, or missed the deadline. */
  | 'store_unavailable'
  /** The document is over the store's size limit, even after pruning. */
  | 'store_too_large'
  /** The store's settings or credentials are wrong (missing table, refused key, bad option). */
  | 'store_misconfigured'
  /** The store holds a malformed record (e.g. a Table entity missing a chunk). */
  | 'store_corrupt'
  /** A partition key that no store accepts (empty, too long, not well-formed). */
  | 'invalid_partition_key'
  /** A stored document is sealed with a key id this instance's key ring lacks (a newer instance wrote it). */
  | 'key_not_in_ring'
  /** A stored document has a format version this library does not know (a newer version wrote it). */
  | 'unknown_format_version'
  /** A stored document fails to open under a key we hold: tampered, truncated, copied from another partition. */
  | 'bad_envelope'
  /** The key ring is empty or malformed. */
  | 'invalid_key_ring'
  /** The user's partition holds no account for the requested home account id: the user must sign in. */
  | 'account_not_cached'
  /**
   * The user's partition could not be read now (the store failed or timed out), or holds a document this instance
   * cannot open and must not replace (sealed under a key id its ring lacks, or a newer format): retry later; it says
   * nothing about the user.
   */
  | 'partition_unavailable'
  /** A sign-in was redeemed but its tokens could not be written to the user's partition: sign in again later. */
  | 'partition_not_saved'
  /** A bearer token is missing, malformed, expired, for another audience, tenant or issuer. */
  | 'bearer_invalid'
  /** A valid bearer token lacks a required scope. */
  | 'bearer_insufficient_scope'
  /** The signing keys needed to validate a bearer token could not be fetched now. */
  | 'bearer_keys_unavailable'
  /** The identity provider could not be reached for its metadata. */
  | 'authority_unavailable'
  /** MSAL returned no token where one was expected. */
  | 'no_token'
  /** The caller gave up (its abort signal fired). */
  | 'aborted'
  /** An option passed to the library is missing or malformed. */
  | 'invalid_options'
  /**
   * A claims challenge that cannot be used (a malformed `WWW-Authenticate` header, claims that are not base64 of a
   * JSON object), or a `claims` request that is not a JSON object.
   */
  | 'invalid_claims';

/** The base of every error the library throws. */
export class TokenCacheError extends Error {
  readonly code: TokenCacheErrorCode;

  constructor(code: TokenCacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenCacheError';
    this.code = code;
  }
}

/**
 * `acquireTokenByCode` redeemed the code but could not write the tokens to the user's partition (store failure, or a
 * partition this instance must not replace): the sign-in is not kept, so the person has to sign in again. Code
 * `partition_not_saved`; `outcome` is the redemption's result (`saved: false`) for callers that can use the token
 * once anyway.
 */
export class PartitionNotSavedError extends TokenCacheError {
  readonly outcome: TokenOutcome;

  constructor(outcome: TokenOutcome) {
    super(
      'partition_not_saved',
      `the sign-in was redeemed but partition ${outcome.partitionKey} could not be written: sign in again later`,
    );
    this.name = 'PartitionNotSavedError';
    this.outcome = outcome;
  }
}

/**
 * True when `error` is a library error with that code (also across two copies of the library in one process).
 *
 * @example
 * ```ts
 * if (hasErrorCode(error, 'account_not_cached')) return { status: 302, headers: { location: '/signin' } };
 * ```
 */
export function hasErrorCode(error: unknown, code: TokenCacheErrorCode): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === code;
}
