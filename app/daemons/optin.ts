import { StoreConflictError, type CacheStore, type ListPage } from '../../lib/index.js';

/**
 * Background opt-in, kept in the app's record store (not among the token documents) as tiny records with no secret
 * in them. The status is in the
 * key's prefix, so the user daemon pages through active users by listing alone (no read per user):
 * - `bg.{oid}.{tid}`: background work is on for this user;
 * - `bgp.{oid}.{tid}`: paused — the user's refresh token was rejected; they must sign in again.
 */
export const ACTIVE_PREFIX = 'bg.';
export const PAUSED_PREFIX = 'bgp.';

export type BackgroundStatus = 'active' | 'needs_sign_in' | 'off';

interface Record {
  readonly updatedAt: string;
  /** Error code that paused background work (never a message or token). */
  readonly reason?: string;
}

export function partitionOfActiveKey(key: string): string {
  return key.slice(ACTIVE_PREFIX.length);
}

async function put(store: CacheStore, key: string, record: Record, lifetimeMs: number): Promise<void> {
  const data = Buffer.from(JSON.stringify(record));
  const expiresAt = new Date(Date.now() + lifetimeMs);
  try {
    await store.write(key, data, { expiresAt });
  } catch (error) {
    if (!(error instanceof StoreConflictError)) throw error;
    // Already there: refresh it (its content is informational; a concurrent change may win).
    const current = await store.read(key);
    if (current) await store.write(key, data, { ifMatch: current.etag, expiresAt }).catch(ignoreConflict);
  }
}

function ignoreConflict(error: unknown): void {
  if (!(error instanceof StoreConflictError)) throw error;
}

const DEFAULT_LIFETIME_MS = 90 * 86_400_000;

export async function backgroundStatus(store: CacheStore, partitionKey: string): Promise<BackgroundStatus> {
  if (await store.read(`${ACTIVE_PREFIX}${partitionKey}`)) return 'active';
  if (await store.read(`${PAUSED_PREFIX}${partitionKey}`)) return 'needs_sign_in';
  return 'off';
}

export async function enableBackground(
  store: CacheStore,
  partitionKey: string,
  lifetimeMs = DEFAULT_LIFETIME_MS,
): Promise<void> {
  await put(store, `${ACTIVE_PREFIX}${partitionKey}`, { updatedAt: new Date().toISOString() }, lifetimeMs);
  await store.delete(`${PAUSED_PREFIX}${partitionKey}`);
}

export async function disableBackground(store: CacheStore, partitionKey: string): Promise<void> {
  await store.delete(`${ACTIVE_PREFIX}${partitionKey}`);
  await store.delete(`${PAUSED_PREFIX}${partitionKey}`);
}

/** The user daemon gave up on this user (refresh token rejected): skip them until they sign in again. */
export async function pauseBackground(
  store: CacheStore,
  partitionKey: string,
  reason: string,
  lifetimeMs = DEFAULT_LIFETIME_MS,
): Promise<void> {
  await put(store, `${PAUSED_PREFIX}${partitionKey}`, { updatedAt: new Date().toISOString(), reason }, lifetimeMs);
  await store.delete(`${ACTIVE_PREFIX}${partitionKey}`);
}

/** After a fresh sign-in: a paused user gets background work back; others are left as they are. */
export async function resumeBackgroundIfPaused(store: CacheStore, partitionKey: string): Promise<boolean> {
  if (!(await store.read(`${PAUSED_PREFIX}${partitionKey}`))) return false;
  await enableBackground(store, partitionKey);
  return true;
}

export function listActive(store: CacheStore, pageSize: number, continuationToken?: string): Promise<ListPage> {
  return store.list({ prefix: ACTIVE_PREFIX, pageSize, ...(continuationToken ? { continuationToken } : {}) });
}
