import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { TokenCacheError, hasErrorCode } from '../errors.js';
import type { KeyRing } from './keyring.js';

/**
 * The stored form of a cache document (binary, compact):
 *
 *   magic "MTC" | version (1) | flags | kid length | kid (ASCII) | nonce (12) | ciphertext | GCM tag (16)
 *
 * AES-256-GCM; the additional authenticated data is the header plus the partition key, so a document copied into
 * another partition, or with a changed header, does not decrypt.
 */
const MAGIC = Buffer.from('MTC', 'ascii');
const VERSION = 1;
const FLAG_DEFLATE = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Documents are deflated before they are encrypted unless told otherwise: a user's document shrinks to about half
 * (the cache's keys and ids repeat in every entry), which a store that sends the document back on every conditional
 * read, every cold load and every write transfers, and Cosmos DB charges by. Each partition is compressed alone and
 * holds only what the identity provider issued for it, so no one's chosen text shares a compression window with
 * another's secrets.
 */
export const DEFAULT_COMPRESS = true;

export interface SealOptions {
  /** Compress before encrypting (deflate). */
  readonly compress?: boolean;
}

export interface Opened {
  readonly plaintext: Buffer;
  /** The key that sealed it; differs from the ring's current key after a rotation. */
  readonly keyId: string;
}

export function seal(ring: KeyRing, partitionKey: string, plaintext: Buffer, options: SealOptions = {}): Buffer {
  const { id, key } = ring.current;
  const kid = Buffer.from(id, 'ascii');
  const flags = options.compress ? FLAG_DEFLATE : 0;
  const nonce = randomBytes(NONCE_BYTES);
  const header = Buffer.concat([MAGIC, Buffer.from([VERSION, flags, kid.length]), kid, nonce]);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(additionalData(header, partitionKey));
  const body = options.compress ? deflateRawSync(plaintext) : plaintext;
  return Buffer.concat([header, cipher.update(body), cipher.final(), cipher.getAuthTag()]);
}

/**
 * True when a document or record did not open because another instance sealed it with a key id this ring lacks or
 * in a newer format (`key_not_in_ring`, `unknown_format_version`): not yours to judge, replace or delete — try again
 * once this instance has the key. Any other failure to open (`bad_envelope`) means tampered or foreign content.
 *
 * @example
 * ```ts
 * try {
 *   consent = JSON.parse(Buffer.from(openRecord(keyRing, key, stored.data)).toString());
 * } catch (error) {
 *   if (isForeignSeal(error)) throw error; // a newer instance's: answer 503, change nothing
 *   consent = undefined; // tampered: never act on it
 * }
 * ```
 */
export function isForeignSeal(error: unknown): boolean {
  return hasErrorCode(error, 'key_not_in_ring') || hasErrorCode(error, 'unknown_format_version');
}

/**
 * Opens a sealed document. Throws `TokenCacheError`: `key_not_in_ring` or `unknown_format_version` when a newer
 * instance wrote it (not ours to replace), `bad_envelope` when it fails to open under a key we hold (tampered,
 * truncated, copied from another partition). Messages never contain document contents.
 */
export function open(ring: KeyRing, partitionKey: string, sealed: Uint8Array): Opened {
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (buf.length < MAGIC.length + 3 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new TokenCacheError('bad_envelope', 'stored document is not a cache envelope');
  }
  const version = buf[MAGIC.length];
  if (version !== VERSION) {
    throw new TokenCacheError('unknown_format_version', `cache envelope format version ${version} is not supported`);
  }
  const flags = buf[MAGIC.length + 1] ?? 0;
  const kidLength = buf[MAGIC.length + 2] ?? 0;
  const kidStart = MAGIC.length + 3;
  const nonceStart = kidStart + kidLength;
  const bodyStart = nonceStart + NONCE_BYTES;
  if (buf.length < bodyStart + TAG_BYTES) throw new TokenCacheError('bad_envelope', 'cache envelope is truncated');
  const keyId = buf.subarray(kidStart, nonceStart).toString('ascii');
  const key = ring.find(keyId);
  if (!key)
    throw new TokenCacheError('key_not_in_ring', `cache envelope is sealed with key "${keyId}", not in the key ring`);
  const header = buf.subarray(0, bodyStart);
  const decipher = createDecipheriv('aes-256-gcm', key.key, buf.subarray(nonceStart, bodyStart));
  decipher.setAAD(additionalData(header, partitionKey));
  decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
  let body: Buffer;
  try {
    body = Buffer.concat([decipher.update(buf.subarray(bodyStart, buf.length - TAG_BYTES)), decipher.final()]);
  } catch (cause) {
    throw new TokenCacheError(
      'bad_envelope',
      'cache envelope failed authentication (tampered, truncated, or from another partition)',
      { cause },
    );
  }
  if ((flags & FLAG_DEFLATE) === 0) return { plaintext: body, keyId };
  try {
    return { plaintext: inflateRawSync(body), keyId };
  } catch (cause) {
    throw new TokenCacheError('bad_envelope', 'cache envelope did not decompress', { cause });
  }
}

function additionalData(header: Buffer, partitionKey: string): Buffer {
  return Buffer.concat([header, Buffer.from(partitionKey, 'utf8')]);
}
