import type { PreciseScheduler } from './precise-timer.js';

/** `null` marks the end of the stream: it is delivered in order, after the chunks before it. */
export type Chunk = Buffer | null;

/**
 * One direction of a connection, delayed: every chunk is delivered `delayMs()` after it arrived (read at arrival,
 * so a change applies to the chunks that arrive after it), and never before a chunk that arrived earlier — when the
 * delay shrinks, later chunks wait for the earlier ones instead of overtaking them.
 */
export class DelayLine {
  readonly #queue: { readonly due: number; readonly chunk: Chunk }[] = [];
  #bytes = 0;
  #lastDue = 0;
  #cancel: (() => void) | undefined;

  constructor(
    private readonly scheduler: PreciseScheduler,
    private readonly delayMs: () => number,
    private readonly deliver: (chunk: Chunk) => void,
  ) {}

  /** Bytes waiting to be delivered. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Queues a chunk; returns whether it was delayed (false: delivered at once, nothing was queued before it). */
  push(chunk: Chunk): boolean {
    const delay = this.delayMs();
    if (delay <= 0 && this.#queue.length === 0) {
      this.deliver(chunk);
      return false;
    }
    const due = Math.max(performance.now() + delay, this.#lastDue);
    this.#lastDue = due;
    this.#queue.push({ due, chunk });
    this.#bytes += chunk?.length ?? 0;
    if (this.#queue.length === 1) this.#schedule(due);
    return true;
  }

  /** Drops everything queued; nothing more is delivered until the next push. */
  clear(): void {
    this.#cancel?.();
    this.#cancel = undefined;
    this.#queue.length = 0;
    this.#bytes = 0;
  }

  #schedule(due: number): void {
    this.#cancel = this.scheduler.at(due, this.#release);
  }

  readonly #release = (): void => {
    this.#cancel = undefined;
    const now = performance.now();
    while (this.#queue[0] && this.#queue[0].due <= now) {
      const { chunk } = this.#queue.shift()!;
      this.#bytes -= chunk?.length ?? 0;
      this.deliver(chunk);
    }
    const next = this.#queue[0];
    if (next && !this.#cancel) this.#schedule(next.due);
  };
}
