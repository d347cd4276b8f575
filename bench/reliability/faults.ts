/**
 * The faults of a run, in phases switched on and off while calls are in flight. Each phase starts from faithful
 * forwarding (the previous phase's faults healed) and lasts for a share of the run's calls.
 */
import type { FaultStack, FaultStoreKind } from './stack.js';

export interface FaultPhase {
  readonly name: string;
  /** What it stands for in production. */
  readonly simulates: string;
  /** Which path it faults (none: neither, or both). */
  readonly path?: 'store' | 'authority';
  /** The store kinds it applies to (default all). */
  readonly stores?: readonly FaultStoreKind[];
  /** Switches the proxies' faults on. */
  readonly apply?: (stack: FaultStack) => void | Promise<void>;
  /** The app's next token requests the authority itself answers with a status of its own. */
  readonly authorityBurst?: { readonly count: number; readonly status: 429 | 503; readonly retryAfterSeconds?: number };
}

/** Token requests a burst of made-up authority answers fails. */
const AUTHORITY_BURST = 15;

function http(stack: FaultStack) {
  const proxy = stack.storePath.http;
  if (!proxy) throw new Error(`no HTTP proxy in front of ${stack.store}`);
  return proxy;
}

export const PHASES: readonly FaultPhase[] = [
  { name: 'none', simulates: 'normal operation (warm-up)' },
  {
    name: 'store latency',
    path: 'store',
    simulates: 'a slow or distant store: 20 ms added each way on every packet',
    apply: (s) => s.storePath.tcp.latency({ toTargetMs: 20, toClientMs: 20 }),
  },
  {
    name: 'store resets',
    path: 'store',
    simulates: 'connections dropped (load balancer, failover): every open store connection reset, then 30% of new ones',
    apply: (s) => s.storePath.tcp.reset({ fraction: 0.3 }),
  },
  {
    name: 'store throttled',
    path: 'store',
    simulates:
      'a throttled store: half the requests answered 429 (Cosmos, with x-ms-retry-after-ms) or 503 ServerBusy (Table), Retry-After 200 ms',
    stores: ['table', 'cosmos'],
    apply: (s) => http(s).respond({ status: s.store === 'cosmos' ? 429 : 503, retryAfterMs: 200, fraction: 0.5 }),
  },
  {
    name: 'token documents throttled',
    path: 'store',
    simulates:
      "the token documents' partition or budget exhausted while the app's records still answer: 85% of token document requests answered 429 (Cosmos) / 503 (Table), Retry-After 100 ms — every retry included",
    stores: ['table', 'cosmos'],
    apply: (s) =>
      http(s).respond({
        status: s.store === 'cosmos' ? 429 : 503,
        retryAfterMs: 100,
        fraction: 0.85,
        path: s.storePath.tokenPaths,
      }),
  },
  {
    name: 'store answers lost',
    path: 'store',
    simulates:
      'the store did the work but its answer never arrived: 25% of requests forwarded, then the connection reset',
    stores: ['table', 'cosmos'],
    apply: (s) => http(s).reset({ afterForward: true, fraction: 0.25 }),
  },
  {
    name: 'store black hole',
    path: 'store',
    simulates:
      'a network partition: open store connections and the next 3 new ones swallow every byte, unanswered (clients notice by their own timeouts)',
    apply: (s) => s.storePath.tcp.blackHole({ count: 3 }),
  },
  {
    name: 'store refuses',
    path: 'store',
    simulates: 'the store is down (restart, failover): new connections refused',
    apply: (s) => s.storePath.tcp.refuse(),
  },
  {
    name: 'authority latency',
    path: 'authority',
    simulates: 'a slow identity provider: 50 ms added each way on every packet (TLS passed through)',
    apply: (s) => s.authorityProxy.latency({ toTargetMs: 50, toClientMs: 50 }),
  },
  {
    name: 'authority resets',
    path: 'authority',
    simulates: 'connections to the identity provider dropped: every open one reset, then 30% of new ones',
    apply: (s) => s.authorityProxy.reset({ fraction: 0.3 }),
  },
  {
    name: 'authority 429',
    path: 'authority',
    simulates: `the identity provider throttles: the next ${AUTHORITY_BURST} token requests answered 429 with Retry-After 1`,
    authorityBurst: { count: AUTHORITY_BURST, status: 429, retryAfterSeconds: 1 },
  },
  {
    name: 'authority 503',
    path: 'authority',
    simulates: `an identity provider outage: the next ${AUTHORITY_BURST} token requests answered 503`,
    authorityBurst: { count: AUTHORITY_BURST, status: 503 },
  },
  {
    name: 'authority black hole',
    path: 'authority',
    simulates: 'a network partition to the identity provider: open connections and the next 3 new ones swallowed',
    apply: (s) => s.authorityProxy.blackHole({ count: 3 }),
  },
  {
    name: 'authority refuses',
    path: 'authority',
    simulates: 'the identity provider unreachable: new connections refused',
    apply: (s) => s.authorityProxy.refuse(),
  },
  {
    name: 'everything at once',
    simulates: 'store latency 5 ms and 10% resets, authority 10% resets and 5 answers 503, together',
    apply: (s) => {
      s.storePath.tcp.latency({ toTargetMs: 5, toClientMs: 5 });
      s.storePath.tcp.reset({ fraction: 0.1 });
      s.authorityProxy.reset({ fraction: 0.1 });
    },
    authorityBurst: { count: 5, status: 503 },
  },
  { name: 'none (recovered)', simulates: 'normal operation again' },
];

/** The phases that apply to a store kind, in order; without `authority`, those of the store path only. */
export function phasesFor(store: FaultStoreKind, { authority = true } = {}): FaultPhase[] {
  return PHASES.filter(
    (phase) => (!phase.stores || phase.stores.includes(store)) && (authority || phase.path !== 'authority'),
  );
}
