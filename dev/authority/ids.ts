import { createHash, randomBytes, randomUUID } from 'node:crypto';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: string): boolean {
  return GUID.test(value);
}

/** A stable UUID (RFC 9562 version 8 layout) derived from the given parts: same input, same id. */
export function deterministicUuid(...parts: string[]): string {
  const bytes = createHash('sha256').update(parts.join('\u0000')).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** An opaque, unguessable value (authorization codes, refresh tokens). */
export function opaqueToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * A refresh token the size of Entra's: those are opaque encrypted blobs of about 1 KB, and a cache document's size
 * and compressibility (what `npm run bench` measures) depend on them.
 */
export function refreshTokenValue(): string {
  return `0.A${opaqueToken(720)}`;
}

export function newTraceId(): string {
  return randomUUID();
}

export function base64UrlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** The object id of a client's service principal. */
export function appObjectId(clientId: string): string {
  return deterministicUuid('app', clientId.toLowerCase());
}

/** The tenant id tokens carry for a tenant path segment ('common', a domain or a GUID). */
export function tenantIdFor(tenantSegment: string): string {
  return isGuid(tenantSegment) ? tenantSegment.toLowerCase() : deterministicUuid('tenant', tenantSegment.toLowerCase());
}
