import { describeError, isForeignSeal, openRecord, sealRecord, type TokenCacheLogger } from '../lib/index.js';
import type { AppRuntime } from './runtime.js';

/**
 * The app's own small records (background opt-ins, identity links) in the record store: JSON sealed with the cache
 * key ring, the record's key bound as additional data (`sealRecord`). Whoever can write the store but lacks the
 * keys cannot make one that opens; one that does not open is logged and treated as absent, never acted on. One
 * sealed under a key this instance lacks (a newer instance wrote it during a key rotation) is not absent: reading it
 * throws, like a store that cannot be read, so nothing replaces, deletes or ignores it. Each lives as long as a token
 * cache (CACHE_LIFETIME_DAYS after its last write).
 */
export type RecordContext = Pick<AppRuntime, 'recordStore' | 'recordKeys' | 'settings'>;

export interface SealedRecord<T> {
  /** Undefined when the stored record does not open or parse (logged): never act on it; replace it if yours. */
  readonly value: T | undefined;
  /** Pass back to {@link writeRecord} to change the record only if nobody else did meanwhile. */
  readonly etag: string;
}

/**
 * Reads and opens a record; undefined when there is none. Store errors propagate: an unreadable store is not an
 * absent record. So does a record a newer instance sealed (`isForeignSeal`): logged, and thrown for now.
 */
export async function readRecord<T>(
  records: RecordContext,
  key: string,
  parse: (json: unknown) => T | undefined,
  logger: TokenCacheLogger,
): Promise<SealedRecord<T> | undefined> {
  const stored = await records.recordStore.read(key);
  if (!stored) return undefined;
  let value: T | undefined;
  try {
    value = parse(JSON.parse(Buffer.from(openRecord(records.recordKeys, key, stored.data)).toString('utf8')));
    if (value === undefined) logger.error(`record ${key} does not open (unexpected content): ignored`);
  } catch (error) {
    if (isForeignSeal(error)) {
      logger.error(`record ${key} is not this instance's to read (${describeError(error)}): left as is`);
      throw error;
    }
    logger.error(`record ${key} does not open (${describeError(error)}): ignored`);
  }
  return { value, etag: stored.etag };
}

/**
 * Seals and writes a record: create-only without `ifMatch`, else only over that version. Throws
 * `StoreConflictError` when the record changed, appeared or vanished meanwhile.
 */
export function writeRecord(
  records: RecordContext,
  key: string,
  value: object,
  options: { readonly ifMatch?: string; readonly now?: Date } = {},
): Promise<string> {
  const now = options.now ?? new Date();
  const data = sealRecord(records.recordKeys, key, Buffer.from(JSON.stringify(value)));
  return records.recordStore.write(key, data, {
    expiresAt: new Date(now.getTime() + lifetimeMs(records)),
    ...(options.ifMatch === undefined ? {} : { ifMatch: options.ifMatch }),
  });
}

export function lifetimeMs(records: RecordContext): number {
  return records.settings.cache.lifetimeDays * 86_400_000;
}

/**
 * A record written at `updatedAt` is rewritten after this part of its lifetime when still in use, so it lives as
 * long as what it is about, at one write per quarter lifetime rather than one per use.
 */
export const RENEW_AFTER_FRACTION = 0.25;

/** Whether a record written at `updatedAt` (undefined: by a version that did not say) is due for renewal. */
export function dueForRenewal(records: RecordContext, updatedAt: Date | undefined, now: Date): boolean {
  return updatedAt === undefined || now.getTime() - updatedAt.getTime() >= lifetimeMs(records) * RENEW_AFTER_FRACTION;
}
