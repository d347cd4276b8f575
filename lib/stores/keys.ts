/**
 * Encodes partition keys into keys every store accepts.
 *
 * Cosmos DB ids and Table PartitionKey/RowKey values forbid `/ \ # ?` and control characters, and both have a
 * length limit. The encoding keeps `[A-Za-z0-9._-]` as they are (so `{oid}.{tid}` stays readable), writes every
 * other UTF-8 byte as `~XX` (uppercase hex; `~` itself included), and when the result is over the store's limit
 * replaces it by `{head}~h~{sha256 base64url}`, where `head` is the longest start of the escaped key that fits.
 *
 * - Reversible and injective: escaped keys only ever have `~` followed by two uppercase hex digits, so no escaped
 *   key contains `~h~`, and two hash forms differ by their hash.
 * - Prefix preserving: the escape of a prefix is a prefix of the escape of every key that starts with it (`bg.`
 *   stays `bg.`), and the hash form keeps the head, so a store can list by prefix with a key range.
 */
import { createHash } from 'node:crypto';
import { StoreError } from './store.js';

/** Cosmos DB: an item id is at most 255 characters. */
export const COSMOS_ID_MAX_LENGTH = 255;
/** Azure Table: PartitionKey and RowKey are at most 1 KiB, counted as UTF-16 (2 bytes a character). */
export const TABLE_KEY_MAX_LENGTH = 512;
/** The longest partition key (in UTF-16 code units) any store accepts; longer keys are a caller bug. */
export const PARTITION_KEY_MAX_LENGTH = 1024;

const HASH_MARKER = '~h~';
/** Length of a SHA-256 digest in base64url without padding. */
const HASH_LENGTH = 43;
const SAFE_BYTE = new Uint8Array(256);
for (const char of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-')
  SAFE_BYTE[char.charCodeAt(0)] = 1;
/** With the `u` flag a surrogate range matches only unpaired surrogates. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const UTF8_DECODER = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Throws `StoreError('invalid_partition_key')` unless the key is non-empty, well-formed UTF-16 and not too long. */
export function assertValidPartitionKey(partitionKey: string): void {
  if (typeof partitionKey !== 'string' || partitionKey.length === 0) {
    throw new StoreError('invalid_partition_key', 'partition key must be a non-empty string');
  }
  if (partitionKey.length > PARTITION_KEY_MAX_LENGTH) {
    throw new StoreError(
      'invalid_partition_key',
      `partition key is ${partitionKey.length} characters, over the limit of ${PARTITION_KEY_MAX_LENGTH}`,
    );
  }
  // A lone surrogate has no UTF-8 form: two keys differing only there would encode alike.
  if (LONE_SURROGATE.test(partitionKey)) {
    throw new StoreError('invalid_partition_key', 'partition key contains a lone UTF-16 surrogate');
  }
}

/** Escapes every byte outside `[A-Za-z0-9._-]` as `~XX`; no length limit, no validation. */
export function escapeKey(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    out += SAFE_BYTE[byte] ? String.fromCharCode(byte) : '~' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** The longest head of an escaped key kept in front of the hash, for a store limit of `maxLength`. */
export function hashHeadLength(maxLength: number): number {
  return maxLength - HASH_MARKER.length - HASH_LENGTH;
}

/**
 * Cuts an escaped key to at most `length` characters without splitting a `~XX` escape, so the result is a
 * prefix of the escaped key that is itself made of whole escapes.
 */
export function cutEscaped(escaped: string, length: number): string {
  if (escaped.length <= length) return escaped;
  let end = length;
  // An escape starting at end-1 or end-2 would be split.
  if (escaped[end - 1] === '~') end -= 1;
  else if (escaped[end - 2] === '~') end -= 2;
  return escaped.slice(0, end);
}

/**
 * Encodes a partition key for a store whose keys are at most `maxLength` characters.
 * Validates the key first ({@link assertValidPartitionKey}).
 */
export function encodeKey(partitionKey: string, maxLength: number): string {
  assertValidPartitionKey(partitionKey);
  if (hashHeadLength(maxLength) < 0) throw new RangeError(`maxLength ${maxLength} is too small for the hash form`);
  const escaped = escapeKey(partitionKey);
  if (escaped.length <= maxLength) return escaped;
  const hash = createHash('sha256').update(partitionKey, 'utf8').digest('base64url');
  return cutEscaped(escaped, hashHeadLength(maxLength)) + HASH_MARKER + hash;
}

/** Reverses {@link encodeKey}; `undefined` for a hash form (the original is stored beside it) or a malformed key. */
export function decodeKey(encoded: string): string | undefined {
  if (encoded.includes(HASH_MARKER)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const code = encoded.charCodeAt(i);
    if (code === 0x7e) {
      const hex = encoded.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (code < 256 && SAFE_BYTE[code]) {
      bytes.push(code);
    } else {
      return undefined;
    }
  }
  try {
    return UTF8_DECODER.decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
}

/**
 * The range `[start, end)` of encoded keys that can belong to partition keys starting with `prefix`, for a store
 * whose keys are at most `maxLength` characters. Exact for keys short enough not to be hashed; for hashed keys
 * the range can be wider than the prefix, so filter the results on the original key as well.
 */
export function encodedPrefixRange(prefix: string, maxLength: number): { start: string; end: string } | undefined {
  const start = cutEscaped(escapeKey(prefix), hashHeadLength(maxLength));
  if (start.length === 0) return undefined;
  // The last character is never `~` (escapes are whole) and is printable ASCII, so +1 stays printable ASCII.
  const end = start.slice(0, -1) + String.fromCharCode(start.charCodeAt(start.length - 1) + 1);
  return { start, end };
}

/**
 * Encodes a partition key as a Cosmos DB item id: {@link encodeKey}, except that the ids `.` and `..` have their dots
 * escaped (`~2E`). The SDK puts the id in a URL path, where those segments would be resolved: `docs/..` names the
 * container itself. Still injective: {@link encodeKey} never escapes a dot, so no other key encodes as `~2E`.
 */
export function encodeCosmosId(partitionKey: string): string {
  const encoded = encodeKey(partitionKey, COSMOS_ID_MAX_LENGTH);
  return encoded === '.' || encoded === '..' ? encoded.replaceAll('.', '~2E') : encoded;
}
