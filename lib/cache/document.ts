import { TokenCacheError } from '../errors.js';

/**
 * The plaintext of a stored cache document: MSAL's serialized cache (the schema shared by all MSAL libraries,
 * kept as-is, including entity types and fields this MSAL does not know) plus, per entry, when this library last
 * changed it — the tie-breaker of the three-way merge for entities that carry no timestamp (refresh tokens).
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface CacheDocument {
  /** MSAL's cache JSON: sections (Account, AccessToken, RefreshToken, IdToken, AppMetadata, ...) of entries. */
  readonly msal: JsonObject;
  /** section → entry key → epoch milliseconds of this library's last change to that entry. */
  readonly updated: { readonly [section: string]: { readonly [key: string]: number } };
}

export const EMPTY_DOCUMENT: CacheDocument = Object.freeze({ msal: {}, updated: {} });

export function encodeDocument(doc: CacheDocument): Buffer {
  return Buffer.from(JSON.stringify({ msal: doc.msal, updated: doc.updated }), 'utf8');
}

export function decodeDocument(plaintext: Buffer): CacheDocument {
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext.toString('utf8'));
  } catch {
    throw new TokenCacheError('bad_envelope', 'cache document is not JSON');
  }
  if (!isObject(parsed) || !isObject(parsed.msal))
    throw new TokenCacheError('bad_envelope', 'cache document has no MSAL cache');
  const updated = isObject(parsed.updated) ? parsed.updated : {};
  const cleanUpdated: Record<string, Record<string, number>> = {};
  for (const [section, entries] of Object.entries(updated)) {
    if (!isObject(entries)) continue;
    const times: Record<string, number> = {};
    for (const [key, time] of Object.entries(entries)) if (typeof time === 'number') times[key] = time;
    cleanUpdated[section] = times;
  }
  return { msal: parsed.msal, updated: cleanUpdated };
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Structural equality of JSON values, independent of key order. */
export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (typeof a !== 'object' || typeof b !== 'object' || Array.isArray(b)) return false;
  const keysA = Object.keys(a).filter((k) => a[k] !== undefined);
  const keysB = Object.keys(b).filter((k) => b[k] !== undefined);
  return keysA.length === keysB.length && keysA.every((k) => jsonEqual(a[k], b[k]));
}
