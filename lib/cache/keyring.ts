import { randomBytes } from 'node:crypto';
import { TokenCacheError } from '../errors.js';

/** One AES-256 key of the ring. */
export interface CacheKey {
  /** Short identifier stored in every envelope, so a reader knows which key to use. */
  readonly id: string;
  readonly key: Buffer;
}

/** Current key first (used for every write), older keys after (still read, rewritten on the next write). */
export interface KeyRing {
  readonly current: CacheKey;
  find(id: string): CacheKey | undefined;
  readonly ids: readonly string[];
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * A key ring from keys you hold as bytes (e.g. from a key vault): the first key writes, all of them read. Throws
 * code `invalid_key_ring` for an empty ring, a malformed id, a key that is not 32 bytes or an id given twice.
 *
 * @example
 * ```ts
 * const keyRing = createKeyRing([
 *   { id: 'k2', key: Buffer.from(currentKey, 'base64') },
 *   { id: 'k1', key: Buffer.from(previousKey, 'base64') },
 * ]);
 * ```
 */
export function createKeyRing(keys: readonly CacheKey[]): KeyRing {
  const [current] = keys;
  if (!current)
    throw new TokenCacheError('invalid_key_ring', 'the cache key ring is empty: configure at least one key');
  const byId = new Map<string, CacheKey>();
  for (const k of keys) {
    if (!KEY_ID.test(k.id))
      throw new TokenCacheError('invalid_key_ring', `cache key id "${k.id}" must match ${KEY_ID.source}`);
    if (k.key.length !== 32)
      throw new TokenCacheError(
        'invalid_key_ring',
        `cache key "${k.id}" must be 32 bytes (AES-256), got ${k.key.length}`,
      );
    if (byId.has(k.id))
      throw new TokenCacheError('invalid_key_ring', `cache key id "${k.id}" appears twice in the ring`);
    byId.set(k.id, k);
  }
  return { current, find: (id) => byId.get(id), ids: [...byId.keys()] };
}

/**
 * Parses the key ring setting: `id1:base64key,id2:base64key` — current key first.
 * Error messages name the key id, never the key material.
 *
 * @example
 * ```ts
 * const keyRing = parseKeyRing(process.env.CACHE_KEYS ?? ''); // "k2:…,k1:…" while rotating from k1 to k2
 * ```
 */
export function parseKeyRing(setting: string): KeyRing {
  const keys = setting
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part, index) => {
      const colon = part.indexOf(':');
      if (colon <= 0)
        throw new TokenCacheError(
          'invalid_key_ring',
          `cache key #${index + 1} must look like "<id>:<base64 of 32 bytes>"`,
        );
      const id = part.slice(0, colon);
      const key = Buffer.from(part.slice(colon + 1), 'base64');
      return { id, key };
    });
  return createKeyRing(keys);
}

/**
 * A new random key in the setting's format, e.g. for `npm start`'s local dev key.
 *
 * @example
 * ```ts
 * console.log(generateKeySetting('k2')); // k2:<base64 of 32 random bytes>: put it first in the setting
 * ```
 */
export function generateKeySetting(id = `k${Date.now().toString(36)}`): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}
