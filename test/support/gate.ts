import type { CacheStore } from '../../lib/index.js';

/**
 * A real store whose first read of `key` is held, after it read, until the test calls `release()`: the test can
 * put another invocation's work between that read and whatever the reader does next — a real interleaving, with
 * every operation going through to the store.
 */
export function holdFirstRead(
  inner: CacheStore,
  key: string,
): { store: CacheStore; reached: Promise<void>; release(): void } {
  let reach: () => void = () => undefined;
  let release: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  let held = false;
  const store: CacheStore = {
    kind: inner.kind,
    read: async (partitionKey) => {
      const result = await inner.read(partitionKey);
      if (partitionKey === key && !held) {
        held = true;
        reach();
        await released;
      }
      return result;
    },
    write: (partitionKey, data, options) => inner.write(partitionKey, data, options),
    delete: (partitionKey, options) => inner.delete(partitionKey, options),
    list: (options) => inner.list(options),
  };
  return { store, reached, release };
}
