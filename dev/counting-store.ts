import type { CacheStore } from '../lib/index.js';

export interface StoreCounts {
  read: number;
  write: number;
  delete: number;
  list: number;
}

export type StoreOperationKind = keyof StoreCounts;

/**
 * Told of each operation as it is called — in the caller's async context, so it can tell whose operation it is —
 * with its key (none for a list). What it returns, if anything, is told the error when the operation fails.
 */
export type StoreObserver = (
  kind: StoreOperationKind,
  key: string | undefined,
) => ((error: unknown) => void) | undefined;

export type CountingStore = CacheStore & { readonly counts: StoreCounts; readonly inner: CacheStore };

/**
 * Counts the operations that reach a real store. A wrapper, not a mock: every call goes through to `inner`. A
 * conditional read (`readIfChanged`) and an ETag-only read (`readVersion`), used by the warm tier, count as reads.
 */
export function countingStore(inner: CacheStore, observe?: StoreObserver): CountingStore {
  const counts: StoreCounts = { read: 0, write: 0, delete: 0, list: 0 };
  // Without an observer the store's own promise passes through: no extra turn on the paths the bench times.
  const counted = <T>(kind: StoreOperationKind, key: string | undefined, run: () => Promise<T>): Promise<T> => {
    counts[kind]++;
    const failed = observe?.(kind, key);
    if (!failed) return run();
    return run().catch((error: unknown) => {
      failed(error);
      throw error;
    });
  };
  return {
    kind: inner.kind,
    ...(inner.sendsInImmediate ? { sendsInImmediate: true } : {}),
    inner,
    counts,
    read: (key) => counted('read', key, () => inner.read(key)),
    write: (key, data, options) => counted('write', key, () => inner.write(key, data, options)),
    delete: (key, options) => counted('delete', key, () => inner.delete(key, options)),
    list: (options) => counted('list', undefined, () => inner.list(options)),
    ...(inner.readIfChanged
      ? { readIfChanged: (key: string, etag: string) => counted('read', key, () => inner.readIfChanged!(key, etag)) }
      : {}),
    ...(inner.readVersion ? { readVersion: (key: string) => counted('read', key, () => inner.readVersion!(key)) } : {}),
    ...(inner.close ? { close: () => inner.close!() } : {}),
  };
}

export function snapshot(counts: StoreCounts): StoreCounts {
  return { ...counts };
}

export function delta(after: StoreCounts, before: StoreCounts): StoreCounts {
  return {
    read: after.read - before.read,
    write: after.write - before.write,
    delete: after.delete - before.delete,
    list: after.list - before.list,
  };
}
