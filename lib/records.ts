import { open, seal } from './cache/envelope.js';
import type { KeyRing } from './cache/keyring.js';

/**
 * Seals a small record of your app — a consent flag, a link between two accounts — the way the token caches are
 * sealed: AES-256-GCM under the ring's current key, with `key` (the record's key in your store) bound as additional
 * data. Whoever can write the store but lacks the keys cannot make a record that opens, and a record copied to
 * another key does not open there.
 *
 * @example
 * ```ts
 * const key = `consent.${userPartitionKey(caller.claims)}`;
 * await store.write(key, sealRecord(keyRing, key, Buffer.from(JSON.stringify({ on: true }))));
 * ```
 */
export function sealRecord(keyRing: KeyRing, key: string, data: Uint8Array): Uint8Array {
  return seal(keyRing, key, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

/**
 * Opens a record sealed by {@link sealRecord} under the same `key`. Throws a `TokenCacheError`:
 * `key_not_in_ring` or `unknown_format_version` when a newer instance sealed it ({@link isForeignSeal}: not yours
 * to judge or replace; try again once this instance has the key), `bad_envelope` when it fails to open under a key
 * you hold — tampered, copied from another key, or never sealed at all: never act on it.
 *
 * @example
 * ```ts
 * const stored = await store.read(key);
 * const consent = stored ? JSON.parse(Buffer.from(openRecord(keyRing, key, stored.data)).toString()) : undefined;
 * ```
 */
export function openRecord(keyRing: KeyRing, key: string, sealed: Uint8Array): Uint8Array {
  return open(keyRing, key, sealed).plaintext;
}
