/**
 * White-box access to stored documents — what a second instance, or an attacker with store access, would see. The
 * one place tests reach below the public API: the document format and the envelope are internals by design.
 */
import { type CacheDocument, decodeDocument, encodeDocument, type JsonObject } from '../../lib/cache/document.js';
import { open, seal } from '../../lib/cache/envelope.js';
import type { CacheStore, KeyRing } from '../../lib/index.js';

/** Reads and opens a partition's stored document directly (what a second instance would see). */
export async function readStored(
  store: CacheStore,
  ring: KeyRing,
  partitionKey: string,
): Promise<CacheDocument | undefined> {
  const stored = await store.read(partitionKey);
  return stored ? decodeDocument(open(ring, partitionKey, stored.data).plaintext) : undefined;
}

/** A partition's stored plaintext, as the warm tier holds it. */
export async function readStoredText(store: CacheStore, ring: KeyRing, partitionKey: string): Promise<string> {
  const stored = await store.read(partitionKey);
  if (!stored) throw new Error(`nothing stored in ${partitionKey}`);
  return open(ring, partitionKey, stored.data).plaintext.toString('utf8');
}

export { estimateHeldBytes } from '../../lib/cache/warm-tier.js';

/** Rewrites a stored document in place (conditionally), e.g. to make its access tokens expired. */
export async function editStored(
  store: CacheStore,
  ring: KeyRing,
  partitionKey: string,
  edit: (msal: JsonObject) => JsonObject,
): Promise<void> {
  const stored = await store.read(partitionKey);
  if (!stored) throw new Error(`nothing stored in ${partitionKey}`);
  const doc = decodeDocument(open(ring, partitionKey, stored.data).plaintext);
  const next = encodeDocument({ ...doc, msal: edit(doc.msal) });
  await store.write(partitionKey, seal(ring, partitionKey, next), { ifMatch: stored.etag });
}

/** Writes `msal` as a sealed document (create-only), as an instance of this library would have. */
export async function writeStored(
  store: CacheStore,
  ring: KeyRing,
  partitionKey: string,
  msal: JsonObject,
): Promise<void> {
  await store.write(partitionKey, seal(ring, partitionKey, encodeDocument({ msal, updated: {} })));
}

/** The id of the key that sealed a stored document. */
export function sealedWith(ring: KeyRing, partitionKey: string, data: Uint8Array): string {
  return open(ring, partitionKey, data).keyId;
}

export { seal, type JsonObject };

export function section(doc: CacheDocument | undefined, name: string): Record<string, JsonObject> {
  return (doc?.msal[name] ?? {}) as Record<string, JsonObject>;
}

export { countingStore } from '../../dev/counting-store.js';

/** Makes every access token of a stored partition expired, so the next silent call must refresh. */
export function expireAccessTokens(store: CacheStore, ring: KeyRing, partitionKey: string): Promise<void> {
  return editStored(store, ring, partitionKey, (msal) => ({
    ...msal,
    AccessToken: Object.fromEntries(
      Object.entries(msal.AccessToken as Record<string, JsonObject>).map(([k, at]) => [
        k,
        { ...at, expires_on: '1', extended_expires_on: '1' },
      ]),
    ),
  }));
}
