import { EncryptJWT, jwtDecrypt, decodeProtectedHeader, type JWTPayload } from 'jose';
import type { KeyRing } from '../../lib/index.js';

/**
 * Sealed cookie values: JWE (`dir`, A256GCM) under the ring's current key, with an expiry and a purpose, so a
 * cookie of one kind cannot stand in for another, a tampered one does not open, and rotation keeps old ones valid.
 */
export async function sealCookie(
  ring: KeyRing,
  purpose: string,
  payload: JWTPayload,
  maxAgeSeconds: number,
): Promise<string> {
  return new EncryptJWT({ ...payload, pur: purpose })
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: ring.current.id })
    .setIssuedAt()
    .setExpirationTime(`${maxAgeSeconds}s`)
    .encrypt(ring.current.key);
}

/**
 * An opened cookie. `unknown_key`: sealed under a key id this instance's ring lacks — a newer instance wrote it
 * during a rolling key rotation, so it says nothing about the person; `absent` covers everything else that does
 * not open (missing, tampered, expired, of another purpose, or failing under a key we hold).
 */
export type OpenedCookie =
  | { readonly status: 'valid'; readonly payload: JWTPayload }
  | { readonly status: 'absent' }
  | { readonly status: 'unknown_key'; readonly keyId: string };

const ABSENT: OpenedCookie = { status: 'absent' };

/** Opens a sealed cookie of `purpose`. */
export async function openCookie(ring: KeyRing, purpose: string, value: string | undefined): Promise<OpenedCookie> {
  if (!value || value.length > 4096) return ABSENT;
  let kid: unknown;
  try {
    kid = decodeProtectedHeader(value).kid;
  } catch {
    return ABSENT;
  }
  if (typeof kid !== 'string') return ABSENT;
  const key = ring.find(kid);
  if (!key) return /^[A-Za-z0-9_-]{1,32}$/.test(kid) ? { status: 'unknown_key', keyId: kid } : ABSENT;
  try {
    const { payload } = await jwtDecrypt(value, key.key, {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    return payload.pur === purpose ? { status: 'valid', payload } : ABSENT;
  } catch {
    return ABSENT;
  }
}

/** Reads one cookie from a Cookie header. */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
