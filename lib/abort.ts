import { TokenCacheError } from './errors.js';

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new TokenCacheError('aborted', 'the caller aborted', { cause: signal.reason });
}

/** Rejects with code `aborted` when `signal` fires first; the work itself goes on (it may be shared). */
export function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new TokenCacheError('aborted', 'the caller aborted', { cause: signal.reason }));
    if (signal.aborted) {
      // The work goes on without this caller: its failure must not surface as an unhandled rejection (which ends
      // the process).
      work.catch(() => undefined);
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
