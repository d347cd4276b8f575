/**
 * Deadlines on `performance.now()` with sub-millisecond accuracy, for the fault proxies' added latency.
 *
 * Node's `setTimeout` counts whole milliseconds and fires up to about a millisecond late, so a 0.5 ms delay cannot be
 * a timer. A deadline is approached with `setTimeout` until POLL_WINDOW_MS before it, then polled with `setImmediate`
 * (one check of `performance.now()` per turn of the event loop, so sockets are still served in between). A callback
 * never runs before its deadline; it runs late by about one event-loop turn — measured on an idle 2-core machine:
 * see dev/proxy/measure-latency.ts and the figures in its header. The price: while a deadline is less than
 * POLL_WINDOW_MS away, the loop spins (one core busy), which is acceptable for test and benchmark traffic only.
 */

/** setTimeout fires up to ~1 ms late and truncates fractions: hand over to polling this long before a deadline. */
const POLL_WINDOW_MS = 2;

interface Entry {
  readonly deadline: number;
  readonly seq: number;
  readonly run: () => void;
  cancelled: boolean;
}

/** Runs callbacks at `performance.now()` deadlines, in deadline order (ties in the order they were added). */
export class PreciseScheduler {
  readonly #heap: Entry[] = [];
  #seq = 0;
  #live = 0;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;

  /** Runs `run` once `performance.now() >= deadline`. Returns a function that cancels it. */
  at(deadline: number, run: () => void): () => void {
    const entry: Entry = { deadline, seq: this.#seq++, run, cancelled: false };
    this.#push(entry);
    this.#live++;
    this.#arm();
    return () => {
      if (entry.cancelled) return;
      entry.cancelled = true;
      // Nothing left to run: drop the stale entries at once so no timer keeps the process alive for them.
      if (--this.#live === 0) this.clear();
    };
  }

  /** Resolves once `ms` (fractions allowed) have passed on `performance.now()`. */
  sleep(ms: number): Promise<void> {
    if (!(ms > 0)) return Promise.resolve();
    return new Promise((resolve) => this.at(performance.now() + ms, resolve));
  }

  /** Drops every pending callback (they never run) and stops the timers. */
  clear(): void {
    for (const entry of this.#heap) entry.cancelled = true;
    this.#heap.length = 0;
    this.#live = 0;
    this.#disarm();
  }

  #arm(): void {
    this.#disarm();
    const next = this.#heap[0];
    if (!next) return;
    const wait = next.deadline - performance.now();
    if (wait > POLL_WINDOW_MS) this.#timer = setTimeout(this.#pump, wait - POLL_WINDOW_MS);
    else this.#immediate = setImmediate(this.#pump);
  }

  #disarm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#timer = undefined;
    this.#immediate = undefined;
  }

  readonly #pump = (): void => {
    this.#timer = undefined;
    this.#immediate = undefined;
    const now = performance.now();
    for (let head = this.#heap[0]; head && head.deadline <= now; head = this.#heap[0]) {
      this.#pop();
      if (head.cancelled) continue;
      head.cancelled = true;
      this.#live--;
      head.run();
    }
    this.#arm();
  };

  // A binary min-heap on (deadline, seq).
  #push(entry: Entry): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (!last || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
}
