/**
 * What the TCP and the HTTP fault proxies share: the switchable fault state (latency and a list of rules that fire
 * for the next N, or a fraction of, matching connections or requests), the counters, and the control methods common
 * to both.
 */

export type FaultKind = 'latency' | 'reset' | 'blackhole' | 'refuse' | 'status';

const FAULT_KINDS: readonly FaultKind[] = ['latency', 'reset', 'blackhole', 'refuse', 'status'];

/** When a rule fires. Without either field it fires for every matching connection or request until `pass()`. */
export interface Trigger {
  /** Fire for the next `count` matching connections or requests, then retire. A positive whole number. */
  readonly count?: number;
  /** Fire for this share (0 to 1) of matching connections or requests, drawn with the proxy's `random`. */
  readonly fraction?: number;
}

/** Added latency per direction, in milliseconds; fractions such as 0.5 are honoured (see precise-timer.ts). */
export interface Latency {
  /** Client → target. Default 0. */
  readonly toTargetMs?: number;
  /** Target → client. Default 0. */
  readonly toClientMs?: number;
}

export interface ProxyCounters {
  readonly connections: {
    /** Client connections accepted, faulty ones included. */
    readonly accepted: number;
    /** Client connections open now. */
    readonly active: number;
    /** Client connections dropped on arrival because `maxConnections` were open. */
    readonly rejected: number;
  };
  readonly bytes: {
    /** Forwarded client → target (HTTP: request bodies). */
    readonly toTarget: number;
    /** Forwarded target → client (HTTP: response bodies). */
    readonly toClient: number;
    /** Read from a black-holed connection and thrown away. */
    readonly discarded: number;
    /** The most bytes one direction of one connection held at once (delayed or not yet written). */
    readonly maxHeld: number;
  };
  /**
   * Faults injected, by kind: `latency` delayed chunks (TCP) or requests (HTTP); `reset` connections reset;
   * `blackhole` connections (TCP) or requests (HTTP) swallowed; `refuse` times the listener was closed (refused
   * connection attempts never reach the process); `status` answers made up by the HTTP proxy.
   */
  readonly faults: Readonly<Record<FaultKind, number>>;
}

/** The control methods both proxies have. */
export interface FaultControls {
  /** Sets the added latency (replacing the previous setting); applies to data or requests arriving from now on. */
  latency(latency: Latency): void;
  /** Back to faithful forwarding: clears latency and every fault rule (a TCP proxy that refuses listens again). */
  pass(): Promise<void>;
  /** A copy of the counters. */
  counters(): ProxyCounters;
  /** Stops listening and destroys every connection, pending timer and upstream socket. */
  close(): Promise<void>;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };
export type MutableCounters = Mutable<ProxyCounters>;

export function newCounters(): MutableCounters {
  return {
    connections: { accepted: 0, active: 0, rejected: 0 },
    bytes: { toTarget: 0, toClient: 0, discarded: 0, maxHeld: 0 },
    faults: Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>,
  };
}

/** The switchable state of one proxy: latency, the rules in the order they were added, and the counters. */
export class FaultState<R extends Trigger & { readonly kind: FaultKind }> {
  readonly counters = newCounters();
  #toTargetMs = 0;
  #toClientMs = 0;
  #rules: { rule: R; remaining: number }[] = [];

  constructor(private readonly random: () => number = Math.random) {}

  get toTargetMs(): number {
    return this.#toTargetMs;
  }

  get toClientMs(): number {
    return this.#toClientMs;
  }

  setLatency({ toTargetMs = 0, toClientMs = 0 }: Latency): void {
    for (const ms of [toTargetMs, toClientMs]) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`latency must be a finite number >= 0 ms, not ${ms}`);
    }
    this.#toTargetMs = toTargetMs;
    this.#toClientMs = toClientMs;
  }

  /** Adds a rule after the existing ones; the first rule that matches and fires wins. */
  add(rule: R): void {
    const { count, fraction } = rule;
    if (count !== undefined && !(Number.isInteger(count) && count > 0))
      throw new RangeError(`count must be a positive whole number, not ${count}`);
    if (fraction !== undefined && !(fraction >= 0 && fraction <= 1))
      throw new RangeError(`fraction must be between 0 and 1, not ${fraction}`);
    this.#rules.push({ rule, remaining: count ?? Infinity });
  }

  /** The first rule that `matches` and fires (using up one of its count, counting the fault), or undefined. */
  take(matches: (rule: R) => boolean = () => true): R | undefined {
    for (const entry of this.#rules) {
      if (!matches(entry.rule)) continue;
      if (entry.rule.fraction !== undefined && this.random() >= entry.rule.fraction) continue;
      if (--entry.remaining <= 0) this.#rules = this.#rules.filter((other) => other !== entry);
      this.counters.faults[entry.rule.kind]++;
      return entry.rule;
    }
    return undefined;
  }

  /** Clears latency and rules; counters keep counting. */
  pass(): void {
    this.#toTargetMs = 0;
    this.#toClientMs = 0;
    this.#rules = [];
  }

  noteHeld(bytes: number): void {
    if (bytes > this.counters.bytes.maxHeld) this.counters.bytes.maxHeld = bytes;
  }

  snapshot(): ProxyCounters {
    return structuredClone(this.counters);
  }
}
