/**
 * A value set up asynchronously on first use and shared by every later caller (an SDK client, fetched metadata).
 * A failed setup is not remembered: the next caller starts it again.
 */
export interface Lazy<T> {
  get(): Promise<T>;
  /** Forgets the value (e.g. on close): the next `get` sets it up again. */
  reset(): void;
}

export function lazy<T>(setUp: () => Promise<T>): Lazy<T> {
  let value: Promise<T> | undefined;
  return {
    get() {
      value ??= setUp().catch((error: unknown) => {
        value = undefined;
        throw error;
      });
      return value;
    },
    reset() {
      value = undefined;
    },
  };
}
