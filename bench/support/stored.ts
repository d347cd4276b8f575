/**
 * Reads a partition's document as stored, opened with the app's key ring: what the benchmark measures (sizes, entry
 * counts). White-box, like the tests' own helper: the library's format is not part of its public API.
 */
import { decodeDocument, isObject, type CacheDocument, type JsonObject } from '../../lib/cache/document.js';
import { open } from '../../lib/cache/envelope.js';
import type { CacheStore, KeyRing } from '../../lib/index.js';

export async function readStoredCache(
  store: CacheStore,
  keyRing: KeyRing,
  partitionKey: string,
): Promise<CacheDocument | undefined> {
  const stored = await store.read(partitionKey);
  return stored ? decodeDocument(open(keyRing, partitionKey, stored.data).plaintext) : undefined;
}

export { isObject, type JsonObject };
