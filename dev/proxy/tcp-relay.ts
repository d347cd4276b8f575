/** One connection of the TCP fault proxy: a client socket and its upstream socket, relayed both ways. */
import type { Socket } from 'node:net';
import { DelayLine, type Chunk } from './delay-line.js';
import type { FaultKind, FaultState, Trigger } from './faults.js';
import { resetSocket } from './loopback.js';
import type { PreciseScheduler } from './precise-timer.js';

export interface RelayContext {
  readonly state: FaultState<Trigger & { readonly kind: FaultKind }>;
  readonly scheduler: PreciseScheduler;
  /** Bytes one direction may hold (delayed plus not yet written) before it stops reading its source. */
  readonly maxBufferedBytes: number;
}

/**
 * One direction, source → sink, through a delay line. Backpressure: when the bytes held here (queued in the line
 * plus written to the sink but not yet flushed to the kernel) exceed the cap, the source is paused — it stops
 * reading, so the kernel's window fills and the sender slows down — and resumed once they fall to half the cap.
 */
class Direction {
  readonly #line: DelayLine;
  #discarding = false;

  constructor(
    private readonly source: Socket,
    private readonly sink: Socket,
    private readonly direction: 'toTarget' | 'toClient',
    private readonly context: RelayContext,
  ) {
    const { state } = context;
    const delayMs = direction === 'toTarget' ? () => state.toTargetMs : () => state.toClientMs;
    this.#line = new DelayLine(context.scheduler, delayMs, (chunk) => this.#deliver(chunk));
    source.on('data', (chunk: Buffer) => this.#receive(chunk));
    source.on('end', () => {
      if (!this.#discarding) this.#line.push(null);
    });
    sink.on('drain', () => this.#resumeIfRoom());
  }

  /** From now on, read and throw away whatever arrives; drop what is queued. */
  discard(): void {
    this.#discarding = true;
    this.#line.clear();
    this.source.resume();
  }

  /** Drop what is queued (the connection is going away). */
  stop(): void {
    this.#line.clear();
  }

  #held(): number {
    return this.#line.bytes + this.sink.writableLength;
  }

  #receive(chunk: Buffer): void {
    const { counters } = this.context.state;
    if (this.#discarding) {
      counters.bytes.discarded += chunk.length;
      return;
    }
    if (this.#line.push(chunk)) counters.faults.latency++;
    const held = this.#held();
    this.context.state.noteHeld(held);
    if (held > this.context.maxBufferedBytes) this.source.pause();
  }

  #deliver(chunk: Chunk): void {
    if (this.sink.destroyed) return;
    if (chunk === null) {
      this.sink.end();
      return;
    }
    this.sink.write(chunk);
    this.context.state.counters.bytes[this.direction] += chunk.length;
    this.#resumeIfRoom();
  }

  #resumeIfRoom(): void {
    if (!this.#discarding && this.source.isPaused() && this.#held() <= this.context.maxBufferedBytes / 2)
      this.source.resume();
  }
}

export class Relay {
  readonly #toTarget: Direction;
  readonly #toClient: Direction;

  constructor(
    private readonly client: Socket,
    private readonly upstream: Socket,
    context: RelayContext,
    onClosed: () => void,
  ) {
    this.#toTarget = new Direction(client, upstream, 'toTarget', context);
    this.#toClient = new Direction(upstream, client, 'toClient', context);
    let open = 2;
    for (const [socket, peer] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      // A broken side breaks the other: a reset is passed on as a reset, so the client sees what the target did.
      socket.on('error', (error: NodeJS.ErrnoException) => {
        this.#stop();
        if (error.code === 'ECONNRESET') resetSocket(peer);
        else peer.destroy();
      });
      socket.on('close', () => {
        if (--open === 0) onClosed();
      });
    }
  }

  #swallowed = false;

  /** Stops forwarding either way; reads and discards from both sides, answers nothing. False if it already did. */
  blackHole(): boolean {
    if (this.#swallowed) return false;
    this.#swallowed = true;
    this.#toTarget.discard();
    this.#toClient.discard();
    return true;
  }

  /** Whether {@link blackHole} swallowed it. */
  get swallowed(): boolean {
    return this.#swallowed;
  }

  /** Resets both sockets (RST). */
  reset(): void {
    this.#stop();
    resetSocket(this.client);
    resetSocket(this.upstream);
  }

  destroy(): void {
    this.#stop();
    this.client.destroy();
    this.upstream.destroy();
  }

  #stop(): void {
    this.#toTarget.stop();
    this.#toClient.stop();
  }
}
