/**
 * The log audit of one test file (vitest isolates files, so this module's state is per file): every log line the
 * file's run wrote, and every secret it produced. After the file's last hook, test/support/log-audit-setup.ts adds
 * what the run's local authority issued or received meanwhile and fails the file if any secret is in any line.
 *
 * Lines come from every logger the tests hand out — the local host's log (startTestApp), the invocation contexts
 * of direct handler calls (testContext), the library loggers (captureLogger) — and from the console. They are
 * formatted with `util.format`, as the Azure Functions worker formats a context's log arguments (an error's stack
 * and cause included), not with `String()`, which would hide what Azure writes.
 */
import { randomBytes } from 'node:crypto';
import { format } from 'node:util';
import { generateKeySetting, type CacheKey } from '../../lib/index.js';

const lines: string[] = [];
const noted = new Map<string, string>();

/** One log line, formatted as the Functions worker formats `context.log(...args)`. */
export function logLine(level: string, ...args: unknown[]): string {
  const line = `${level} ${format(...args)}`;
  lines.push(line);
  return line;
}

export function capturedLines(): readonly string[] {
  return lines;
}

/**
 * Shorter values carry no secret — a flag cookie such as the claims sign-in guard (`1`) — and would match almost any
 * line. Every secret of this project is longer (tokens, sealed cookies, keys, the client secret), and so are the
 * malformed bearer tokens the tests send (`abc.def`).
 */
const MIN_SECRET_LENGTH = 4;

/** A secret the test run handled outside the local authority (a cookie, a header, a key): it must never be logged. */
export function noteSecret(kind: string, value: string | null | undefined): void {
  if (value && value.length >= MIN_SECRET_LENGTH) noted.set(value, noted.get(value) ?? kind);
}

/** The key material of a key ring setting (`id:base64,...`): as configured, as base64url and as hex. */
export function noteKeySetting(kind: string, setting: string | undefined): void {
  for (const part of setting?.split(',') ?? []) {
    const material = part.slice(part.indexOf(':') + 1).trim();
    noteSecret(kind, material);
    for (const encoding of ['base64url', 'hex'] as const) {
      noteSecret(kind, Buffer.from(material, 'base64').toString(encoding));
    }
  }
}

/** A fresh cache key (AES-256) for a test, noted as a secret of the run: tests make keys only through this. */
export function newCacheKey(id: string, kind = 'cache key'): CacheKey {
  const key = randomBytes(32);
  noteKeySetting(kind, `${id}:${key.toString('base64')}`);
  return { id, key };
}

/** A fresh key ring setting (`id:base64`, as `generateKeySetting` makes it), noted as a secret of the run. */
export function newKeySetting(id: string, kind = 'key setting'): string {
  const setting = generateKeySetting(id);
  noteKeySetting(kind, setting);
  return setting;
}

/** Every secret of the file's run noted so far (value → kind). */
export function notedSecrets(): ReadonlyMap<string, string> {
  return noted;
}

let mark = 0;

/** Where the local authority's listing of this file's secrets starts (taken before the file's first test). */
export function auditMark(): number {
  return mark;
}

export function setAuditMark(value: number): void {
  mark = value;
}

interface Listing {
  readonly truncated: boolean;
  readonly secrets: readonly { readonly kind: string; readonly value: string }[];
}

/** User codes are shown to the person signing in on purpose (no credential without the device code). */
const isSecret = ({ kind }: { kind: string }) => kind !== 'user_code';

let truncated = false;

/**
 * What a local authority a test starts of its own — the fault-injection stack's (faults.ts) — listed: noted, but
 * user codes. The run's authority is listed after the file's last hook (secretsOfRun).
 */
export function noteIssued(listing: Listing): void {
  if (listing.truncated) truncated = true;
  for (const { kind, value } of listing.secrets.filter(isSecret)) noteSecret(kind, value);
}

/** Whether an authority dropped secrets of this run from a listing (it keeps only its most recent ones). */
export function listingTruncated(): boolean {
  return truncated;
}

/** The secrets in an app's settings (`process.env` as the app reads it): key rings, client secret, store keys. */
export function noteAppSettings(env: Readonly<Record<string, string | undefined>>): void {
  noteKeySetting('CACHE_KEYS', env.CACHE_KEYS);
  noteKeySetting('SESSION_KEYS', env.SESSION_KEYS);
  noteSecret('client secret', env.AUTH_CLIENT_SECRET);
  noteSecret('store key', env.COSMOS_KEY);
  const accountKey = /AccountKey=([^;]+)/.exec(env.TABLE_CONNECTION_STRING ?? '')?.[1];
  if (accountKey) noteKeySetting('store key', `table:${accountKey}`);
}

/**
 * Every secret of the file's run (value → kind): those noted, and what the run's local authority listed since the
 * mark, but user codes.
 */
export function secretsOfRun(issued: Listing): Map<string, string> {
  const secrets = new Map(noted);
  for (const { kind, value } of issued.secrets.filter(isSecret)) secrets.set(value, kind);
  return secrets;
}

/** Where a secret was found: its kind and length, never its value. */
export interface Leak {
  readonly kind: string;
  readonly length: number;
  /** 1-based, in the captured lines. */
  readonly line: number;
}

/**
 * The part of a secret that must not appear: a JWT's signature (header and claims are not secret, and the
 * signature is in every copy of the token), or the whole value.
 */
export function needleOf(secret: string): string {
  const parts = secret.split('.');
  const isJwt = parts.length === 3 && parts.every((p) => /^[A-Za-z0-9_-]*$/.test(p)) && parts[0] && parts[1];
  return isJwt && parts[2]!.length >= 16 ? parts[2]! : secret;
}

/** A needle as it is, and percent-encoded when that differs (a secret in a logged URL, query or form body). */
export function formsOf(needle: string): string[] {
  const encoded = encodeURIComponent(needle);
  return encoded === needle ? [needle] : [needle, encoded];
}

/** Any 24 characters from the start of a needle count as a leak (a secret logged cut short is still logged). */
const PROBE = 24;

/**
 * Every secret (value → kind) whose needle, or the first 24 characters of it, occurs in `logged`, as it is or
 * percent-encoded.
 */
export function findLeaks(logged: readonly string[], secrets: Iterable<readonly [string, string]>): Leak[] {
  const text = logged.join('\n');
  const leaks: Leak[] = [];
  const lineAt = (position: number) => text.slice(0, position).split('\n').length;
  const probes = new Map<string, { kind: string; length: number }>();
  for (const [value, kind] of secrets) {
    for (const needle of formsOf(needleOf(value))) {
      if (needle.length >= PROBE) {
        probes.set(needle.slice(0, PROBE), { kind, length: value.length });
        continue;
      }
      const at = text.indexOf(needle);
      if (at >= 0) leaks.push({ kind, length: value.length, line: lineAt(at) });
    }
  }
  // One pass over the text for all long needles (thousands of them), instead of one search per needle.
  for (let i = 0; i + PROBE <= text.length; i++) {
    const found = probes.get(text.slice(i, i + PROBE));
    if (found) leaks.push({ ...found, line: lineAt(i) });
  }
  return leaks;
}
