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

/** Opens a sealed cookie; `undefined` for anything missing, foreign, tampered, expired or of another purpose. */
export async function openCookie(
  ring: KeyRing,
  purpose: string,
  value: string | undefined,
): Promise<JWTPayload | undefined> {
  if (!value || value.length > 4096) return undefined;
  try {
    const kid = decodeProtectedHeader(value).kid;
    const key = typeof kid === 'string' ? ring.find(kid) : undefined;
    if (!key) return undefined;
    const { payload } = await jwtDecrypt(value, key.key, {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    return payload.pur === purpose ? payload : undefined;
  } catch {
    return undefined;
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
