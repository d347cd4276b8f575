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

/** The plaintext of a document: `{"msal":…,"updated":…}`, MSAL's part first (see {@link OpenedDocument}). */
export function encodeDocumentText(doc: CacheDocument): string {
  return JSON.stringify({ msal: doc.msal, updated: doc.updated });
}

export function encodeDocument(doc: CacheDocument): Buffer {
  return Buffer.from(encodeDocumentText(doc), 'utf8');
}

export function decodeDocument(plaintext: Buffer): CacheDocument {
  return decodeDocumentText(plaintext.toString('utf8'));
}

export function decodeDocumentText(text: string): CacheDocument {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
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

const MSAL_HEAD = '{"msal":{';
/** MSAL's part of an empty document, as {@link OpenedDocument.msalText} gives it. */
export const EMPTY_MSAL = '{}';

/** An opened document with nothing in it. */
export function emptyDocument(): OpenedDocument {
  return OpenedDocument.of(EMPTY_DOCUMENT);
}
const UPDATED_SEPARATOR = ',"updated":';

/**
 * An opened document, parsed only as far as it is used: MSAL gets its part as text (it parses that itself), and the
 * whole document — the base of a merge — is parsed only when a write needs it. A document this library wrote is
 * `{"msal":M,"updated":U}` (see {@link encodeDocumentText}); M is cut out of the text at the last `,"updated":`,
 * checked by parsing the small U, and anything else falls back to parsing the whole text.
 */
export class OpenedDocument {
  private parsed: CacheDocument | undefined;
  private msal: string | undefined;

  constructor(
    /** The plaintext. */
    readonly text: string,
    parsed?: CacheDocument,
  ) {
    this.parsed = parsed;
  }

  static of(doc: CacheDocument): OpenedDocument {
    return new OpenedDocument(encodeDocumentText(doc), doc);
  }

  /** The whole document (parsed on first use). Throws `bad_envelope` when the text is not a cache document. */
  get doc(): CacheDocument {
    return (this.parsed ??= decodeDocumentText(this.text));
  }

  /** MSAL's cache as JSON text, for `tokenCache.deserialize`. */
  get msalText(): string {
    return (this.msal ??= this.cutMsalText() ?? JSON.stringify(this.doc.msal));
  }

  /** Keeps only the text (in the warm tier, where a write parses it again when it needs the base). */
  compact(): void {
    this.parsed = undefined;
    this.msal = undefined;
  }

  private cutMsalText(): string | undefined {
    const { text } = this;
    const at = text.lastIndexOf(UPDATED_SEPARATOR);
    if (!text.startsWith(MSAL_HEAD) || at < 0 || !text.endsWith('}') || text[at - 1] !== '}') return undefined;
    try {
      if (!isObject(JSON.parse(text.slice(at + UPDATED_SEPARATOR.length, -1)))) return undefined;
    } catch {
      return undefined;
    }
    return text.slice(MSAL_HEAD.length - 1, at);
  }
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
