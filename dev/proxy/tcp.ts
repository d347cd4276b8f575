/**
 * A fault-injecting TCP proxy for tests and benchmarks, on loopback: bytes pass both ways unchanged (so Redis,
 * plain HTTP and TLS all go through), and faults can be switched while it runs — latency per direction (fractions of
 * a millisecond included), resets, a black hole, refusal.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { FaultState, type FaultControls, type Latency, type ProxyCounters, type Trigger } from './faults.js';
import { LOOPBACK, listenLoopback, resetSocket, validateLimit } from './loopback.js';
import { PreciseScheduler } from './precise-timer.js';
import { Relay } from './tcp-relay.js';

export interface TcpProxyOptions {
  /** Where to forward to. */
  readonly target: { readonly host: string; readonly port: number };
  /** Port on 127.0.0.1. Default 0: a free port. */
  readonly port?: number;
  /** Client connections open at once; more are dropped as they arrive (`connections.rejected`). Default 256. */
  readonly maxConnections?: number;
  /** Bytes one direction of one connection may hold before it stops reading (backpressure). Default 1 MiB. */
  readonly maxBufferedBytes?: number;
  /** Draws for `fraction` triggers, in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
  /** Starting latency. Default none. */
  readonly latency?: Latency;
}

/** Which connections a reset or black hole applies to. */
export interface TcpFaultScope extends Trigger {
  /** The connections open now. Default true. */
  readonly existing?: boolean;
  /** Connections arriving from now on, until `pass()` (or as `count`/`fraction` say). Default true. */
  readonly incoming?: boolean;
}

export interface TcpProxy extends FaultControls {
  readonly host: string;
  readonly port: number;
  /** `127.0.0.1:PORT`. */
  readonly address: string;
  /** Resets (TCP RST) connections: the client sees ECONNRESET. New ones are reset right after they are accepted. */
  reset(scope?: TcpFaultScope): void;
  /**
   * Swallows connections: accepted and read, nothing forwarded, nothing answered (a client only notices by its own
   * timeout). A black-holed connection stays so until it closes, even after `pass()`: what it lost cannot be sent.
   */
  blackHole(scope?: TcpFaultScope): void;
  /**
   * Stops listening: new connections are refused (ECONNREFUSED) until `pass()` listens on the same port again (which
   * fails if something else took the port meanwhile); open connections go on.
   */
  refuse(): Promise<void>;
  /**
   * Ends the black holes of open connections: resets (RST) every connection swallowed so far, as a network that
   * healed but lost their state would (a load balancer or NAT that forgot them). Not counted as a fault. Resolves the
   * number reset.
   */
  endBlackHoles(): number;
}

type TcpRule = Trigger & { readonly kind: 'reset' | 'blackhole' };

export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const { target } = options;
  const maxConnections = validateLimit('maxConnections', options.maxConnections ?? 256);
  const maxBufferedBytes = validateLimit('maxBufferedBytes', options.maxBufferedBytes ?? 1024 * 1024);
  const state = new FaultState<TcpRule>(options.random);
  if (options.latency) state.setLatency(options.latency);
  const scheduler = new PreciseScheduler();
  const context = { state, scheduler, maxBufferedBytes };
  const relays = new Set<Relay>();
  /** Black-holed client sockets without an upstream. */
  const swallowed = new Set<Socket>();
  let server: Server | undefined;
  let closed = false;

  function swallow(client: Socket): void {
    swallowed.add(client);
    client.on('data', (chunk: Buffer) => (state.counters.bytes.discarded += chunk.length));
    client.on('error', () => client.destroy());
    client.once('close', () => swallowed.delete(client));
  }

  function accept(client: Socket): void {
    client.setNoDelay(true);
    const fault = state.take();
    if (fault?.kind === 'reset') return resetSocket(client);
    if (fault?.kind === 'blackhole') return swallow(client);
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    const relay = new Relay(client, upstream, context, () => relays.delete(relay));
    relays.add(relay);
  }

  async function listen(port: number): Promise<number> {
    const next = createServer({ allowHalfOpen: true }, accept);
    const bound = await listenLoopback(next, port, maxConnections, state.counters);
    server = next;
    return bound;
  }

  /** Stops accepting at once; resolves when the connections this listener accepted have all closed. */
  function stopListening(): Promise<void> {
    const current = server;
    server = undefined;
    if (!current?.listening) return Promise.resolve();
    return new Promise((resolve) => current.close(() => resolve()));
  }

  /** `onExisting` applies the fault to an open connection: false when it had it already (not counted again). */
  function apply(kind: TcpRule['kind'], scope: TcpFaultScope, onExisting: (relay: Relay) => boolean): void {
    const { existing = true, incoming = true, count, fraction } = scope;
    if (existing) {
      for (const relay of relays) if (onExisting(relay)) state.counters.faults[kind]++;
    }
    if (incoming) state.add({ kind, count, fraction });
  }

  const port = await listen(options.port ?? 0);

  return {
    host: LOOPBACK,
    port,
    address: `${LOOPBACK}:${port}`,
    latency: (latency) => state.setLatency(latency),
    reset(scope = {}) {
      if (scope.existing ?? true) {
        state.counters.faults.reset += swallowed.size;
        for (const client of swallowed) resetSocket(client);
      }
      apply('reset', scope, (relay) => {
        relay.reset();
        return true;
      });
    },
    blackHole(scope = {}) {
      apply('blackhole', scope, (relay) => relay.blackHole());
    },
    refuse() {
      if (!server) return Promise.resolve();
      state.counters.faults.refuse++;
      // Not awaited: the open connections this listener accepted go on.
      void stopListening();
      return Promise.resolve();
    },
    endBlackHoles() {
      let ended = swallowed.size;
      for (const client of swallowed) resetSocket(client);
      for (const relay of relays) {
        if (!relay.swallowed) continue;
        relay.reset();
        ended++;
      }
      return ended;
    },
    async pass() {
      state.pass();
      if (!server && !closed) await listen(port);
    },
    counters: (): ProxyCounters => state.snapshot(),
    async close() {
      closed = true;
      const stopped = stopListening();
      for (const relay of relays) relay.destroy();
      for (const client of swallowed) client.destroy();
      scheduler.clear();
      await stopped;
    },
  };
}
