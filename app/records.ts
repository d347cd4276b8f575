import { describeError, openRecord, sealRecord, type TokenCacheLogger } from '../lib/index.js';
import type { AppRuntime } from './runtime.js';

/**
 * The app's own small records (background opt-ins, identity links) in the record store: JSON sealed with the cache
 * key ring, the record's key bound as additional data (`sealRecord`). Whoever can write the store but lacks the
 * keys cannot make one that opens; one that does not open is logged and treated as absent, never acted on. Each
 * lives as long as a token cache (CACHE_LIFETIME_DAYS after its last write).
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
 * absent record.
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
