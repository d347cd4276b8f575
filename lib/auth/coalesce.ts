/**
 * Per process: concurrent acquisitions of the same token (same partition, flow, scopes and — for on-behalf-of —
 * incoming token) share one run. Without it, N invocations of one user arriving together on a cold partition all
 * miss the cache and all ask the identity provider. Across instances they still can; the ETag merge keeps that safe.
 */
export class Coalescer<T> {
  private readonly inFlight = new Map<string, { readonly value: Promise<T>; joiners: number }>();

  /** Whether a run for `key` is in flight (a call with that key now would join it). */
  has(key: string): boolean {
    return this.inFlight.has(key);
  }

  /**
   * Runs `work`, or joins the run already in flight for `key`; `joined` tells which, and `shared()` — asked once the
   * run settled — whether more than one call got its value. The run leaves the map in a reaction of its own,
   * registered before any caller's: a caller's await is not lengthened by it, and a call made once the run settled
   * starts a new one.
   */
  run(
    key: string,
    work: () => Promise<T>,
  ): { readonly value: Promise<T>; readonly joined: boolean; shared(): boolean } {
    const running = this.inFlight.get(key);
    if (running) {
      running.joiners++;
      return { value: running.value, joined: true, shared: () => true };
    }
    const entry = { value: work(), joiners: 0 };
    this.inFlight.set(key, entry);
    const leave = () => {
      this.inFlight.delete(key);
    };
    entry.value.then(leave, leave);
    return { value: entry.value, joined: false, shared: () => entry.joiners > 0 };
  }
}
