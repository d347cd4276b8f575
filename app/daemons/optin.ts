import { StoreConflictError, type ListPage, type TokenCacheLogger } from '../../lib/index.js';
import { dueForRenewal, readRecord, writeRecord, type RecordContext } from '../records.js';

/**
 * Background opt-in: one sealed record per person (`bg.{partitionKey}`, see app/records.ts) saying whether the user
 * daemon works for them (`active`) or waits until they sign in again (`paused`: the identity provider rejected
 * their refresh token). One record holds both states, so every change is a conditional write on that one record: a
 * pause decided on a version the person has since removed or replaced fails instead of bringing background work
 * back. The daemon finds people by listing the key prefix, then reads and opens each record before acting on it
 * (one read per listed person).
 */
export const OPT_IN_PREFIX = 'bg.';
/** Plain records of earlier versions (never acted on any more); removed when background work is turned off. */
const LEGACY_PAUSED_PREFIX = 'bgp.';
export type BackgroundStatus = 'active' | 'needs_sign_in' | 'off';

interface OptInContent {
  readonly status: 'active' | 'paused';
  readonly updatedAt: string;
  /** Error code that paused background work (never a message or token). */
  readonly reason?: string;
}

/** A person's opt-in as read: what it says, and the version a change must be conditional on. */
export interface OptIn {
  readonly partitionKey: string;
  readonly status: OptInContent['status'];
  readonly updatedAt: Date;
  /** Why background work was paused (an error code), when it is. */
  readonly reason?: string;
  readonly etag: string;
}

const keyOf = (partitionKey: string): string => `${OPT_IN_PREFIX}${partitionKey}`;

export function partitionOfOptInKey(key: string): string {
  return key.slice(OPT_IN_PREFIX.length);
}

function parseContent(json: unknown): OptInContent | undefined {
  const { status, updatedAt, reason } = (json ?? {}) as Partial<Record<keyof OptInContent, unknown>>;
  if ((status !== 'active' && status !== 'paused') || typeof updatedAt !== 'string') return undefined;
  if (Number.isNaN(Date.parse(updatedAt))) return undefined;
  return { status, updatedAt, ...(typeof reason === 'string' ? { reason } : {}) };
}

/** The person's opt-in, or undefined (none, or a record that does not open: logged). Store errors propagate. */
export async function readOptIn(
  records: RecordContext,
  partitionKey: string,
  logger: TokenCacheLogger,
): Promise<OptIn | undefined> {
  const record = await readRecord(records, keyOf(partitionKey), parseContent, logger);
  if (!record?.value) return undefined;
  const { status, updatedAt, reason } = record.value;
  return { partitionKey, status, updatedAt: new Date(updatedAt), ...(reason ? { reason } : {}), etag: record.etag };
}

export async function backgroundStatus(
  records: RecordContext,
  partitionKey: string,
  logger: TokenCacheLogger,
): Promise<BackgroundStatus> {
  const optIn = await readOptIn(records, partitionKey, logger);
  return optIn === undefined ? 'off' : optIn.status === 'active' ? 'active' : 'needs_sign_in';
}

/** The person turns background work on: whatever was stored (paused, or not opening) is replaced. */
export async function enableBackground(records: RecordContext, partitionKey: string, now = new Date()): Promise<void> {
  const key = keyOf(partitionKey);
  let ifMatch: string | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      await writeRecord(records, key, { status: 'active', updatedAt: now.toISOString() }, { ifMatch, now });
      return;
    } catch (error) {
      if (!(error instanceof StoreConflictError) || attempt === 3) throw error;
      ifMatch = (await records.recordStore.read(key))?.etag;
    }
  }
}

/** The person turns background work off (or signs out, or erases their data): the record is gone. */
export async function disableBackground(records: RecordContext, partitionKey: string): Promise<void> {
  await records.recordStore.delete(keyOf(partitionKey));
  await records.recordStore.delete(`${LEGACY_PAUSED_PREFIX}${partitionKey}`);
}

/**
 * After a fresh sign-in: an opt-in (active or paused) is rewritten as active now. That resumes a paused person, and
 * makes any pause the daemon decided on their earlier tokens fail its conditional write. No opt-in: nothing.
 * True when an opt-in was renewed.
 */
export async function renewBackgroundOnSignIn(
  records: RecordContext,
  partitionKey: string,
  logger: TokenCacheLogger,
): Promise<boolean> {
  const optIn = await readOptIn(records, partitionKey, logger);
  return optIn !== undefined && (await replace(records, optIn, { status: 'active' }));
}

/**
 * The user daemon gave up on this person (their refresh token was rejected): paused until they sign in again —
 * only if the record is still the version the daemon read. False when it changed or vanished meanwhile (turned
 * off, signed out, signed in again): the person's change wins.
 */
export function pauseBackground(records: RecordContext, optIn: OptIn, reason: string): Promise<boolean> {
  return replace(records, optIn, { status: 'paused', reason });
}

/** After a successful daemon run: renews a record due for renewal (see `dueForRenewal`), so it lives as long as the cache. */
export async function renewIfOld(records: RecordContext, optIn: OptIn, now = new Date()): Promise<boolean> {
  if (!dueForRenewal(records, optIn.updatedAt, now)) return false;
  return replace(records, optIn, { status: 'active' }, now);
}

async function replace(
  records: RecordContext,
  optIn: OptIn,
  content: Omit<OptInContent, 'updatedAt'>,
  now = new Date(),
): Promise<boolean> {
  try {
    await writeRecord(
      records,
      keyOf(optIn.partitionKey),
      { ...content, updatedAt: now.toISOString() },
      {
        ifMatch: optIn.etag,
        now,
      },
    );
    return true;
  } catch (error) {
    if (error instanceof StoreConflictError) return false;
    throw error;
  }
}

/** A page of opt-in keys (active and paused: the status is inside the sealed record). */
export function listOptIns(records: RecordContext, pageSize: number, continuationToken?: string): Promise<ListPage> {
  return records.recordStore.list({
    prefix: OPT_IN_PREFIX,
    pageSize,
    ...(continuationToken ? { continuationToken } : {}),
  });
}
