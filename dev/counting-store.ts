import type { CacheStore } from '../lib/index.js';

export interface StoreCounts {
  read: number;
  write: number;
  delete: number;
  list: number;
}

export type CountingStore = CacheStore & { readonly counts: StoreCounts; readonly inner: CacheStore };

/**
 * Counts the operations that reach a real store. A wrapper, not a mock: every call goes through to `inner`. A
 * conditional read (`readIfChanged`) and an ETag-only read (`readVersion`), used by the warm tier, count as reads.
 */
export function countingStore(inner: CacheStore): CountingStore {
  const counts: StoreCounts = { read: 0, write: 0, delete: 0, list: 0 };
  return {
    kind: inner.kind,
    inner,
    counts,
    read: (key) => {
      counts.read++;
      return inner.read(key);
    },
    write: (key, data, options) => {
      counts.write++;
      return inner.write(key, data, options);
    },
    delete: (key, options) => {
      counts.delete++;
      return inner.delete(key, options);
    },
    list: (options) => {
      counts.list++;
      return inner.list(options);
    },
    ...(inner.readIfChanged
      ? {
          readIfChanged: (key: string, etag: string) => {
            counts.read++;
            return inner.readIfChanged!(key, etag);
          },
        }
      : {}),
    ...(inner.readVersion
      ? {
          readVersion: (key: string) => {
            counts.read++;
            return inner.readVersion!(key);
          },
        }
      : {}),
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
