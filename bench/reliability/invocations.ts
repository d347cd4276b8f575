/**
 * Store operations per invocation (an HTTP request or a timer run of the function app), the token store and the
 * app's record store together: a counting wrapper around each of the app's stores attributes every call (read,
 * version check, conditional read, write, delete, list) to the local host's invocation it was made for
 * (`currentInvocation`, an AsyncLocalStorage scope around each handler), and these checks bound them per function.
 */
import { OPT_IN_PREFIX } from '../../app/daemons/optin.js';
import type { StoreObserver, StoreOperationKind } from '../../dev/counting-store.js';
import { currentInvocation } from '../../dev/host/context.js';
import { StoreError } from '../../lib/index.js';

/** app/people.ts's link records: `link.{partition}` → the person's other partitions. */
const LINK_PREFIX = 'link.';

/** One store's operations within one invocation. */
export interface StoreOps {
  read: number;
  write: number;
  delete: number;
  list: number;
  /** Writes (or deletes) the store rejected because the item changed meanwhile (`store_conflict`). */
  conflicts: number;
  /** Operations that failed otherwise (timed out, refused, throttled past the store's retries). */
  failures: number;
}

export interface InvocationOps {
  readonly invocationId: string;
  readonly functionName: string;
  readonly tokens: StoreOps;
  readonly records: StoreOps;
  /** Reads of background opt-in records (`bg.*`): the user daemon reads one per person it works on. */
  optInReads: number;
  /** Link records (`link.*`) read, and link records written (successfully) — B2B guests' partitions. */
  readonly linkKeysRead: Set<string>;
  linkWrites: number;
}

export interface InvocationTally {
  /** The observer of the token store's wrapper, and of the record store's. */
  readonly tokens: StoreObserver;
  readonly records: StoreObserver;
  /** Every invocation that made at least one store operation, in the order of their first. */
  invocations(): InvocationOps[];
  /** Operations made outside any invocation (the checks' own reads through the app's stores). */
  outside(): number;
}

const emptyOps = (): StoreOps => ({ read: 0, write: 0, delete: 0, list: 0, conflicts: 0, failures: 0 });
export const total = (ops: StoreOps): number => ops.read + ops.write + ops.delete + ops.list;

export function invocationTally(): InvocationTally {
  const byId = new Map<string, InvocationOps>();
  let outside = 0;
  const observer =
    (store: 'tokens' | 'records'): StoreObserver =>
    (kind: StoreOperationKind, key: string | undefined) => {
      const scope = currentInvocation();
      if (!scope) {
        outside++;
        return undefined;
      }
      let invocation = byId.get(scope.invocationId);
      if (!invocation) {
        invocation = {
          ...scope,
          tokens: emptyOps(),
          records: emptyOps(),
          optInReads: 0,
          linkKeysRead: new Set(),
          linkWrites: 0,
        };
        byId.set(scope.invocationId, invocation);
      }
      const found = invocation;
      const ops = found[store];
      ops[kind]++;
      const link = store === 'records' && key?.startsWith(LINK_PREFIX);
      if (store === 'records' && kind === 'read' && key?.startsWith(OPT_IN_PREFIX)) found.optInReads++;
      if (link && kind === 'read') found.linkKeysRead.add(key!);
      if (link && kind === 'write') found.linkWrites++;
      return (error: unknown) => {
        if (error instanceof StoreError && error.code === 'store_conflict') ops.conflicts++;
        else ops.failures++;
        if (link && kind === 'write') found.linkWrites--;
      };
    };
  return {
    tokens: observer('tokens'),
    records: observer('records'),
    invocations: () => [...byId.values()],
    outside: () => outside,
  };
}

/** The most operations one invocation of a function may make on each store, before conflicts. */
export interface Allowance {
  readonly tokens: number;
  readonly records: number;
}

/**
 * One token acquisition: the warm tier's version check, then the document when it changed (Cosmos DB needs one
 * read for both), then one conditional write — the per-acquisition bound of `roundTrips` without conflicts.
 */
const ACQUISITION = 3;
/** A claims challenge of the downstream API is answered once: at most two acquisitions per call of it. */
const CLAIMS_RETRY = 2;
const NONE: Allowance = { tokens: 0, records: 0 };
/** The user daemon's list page (app/daemons/user-daemon.ts's default; the app sets no other). */
const USER_DAEMON_PAGE_SIZE = 100;

/**
 * The bound of each function, from its code (app/). Every conflict the store reports may add its re-read and its
 * retried write on top (2 per conflict, on the store it happened on): see {@link storeOpsPerInvocation}.
 * `sweeperBudget`: SWEEPER_MAX_DELETES.
 */
export function allowances(sweeperBudget: number): Record<string, (ops: InvocationOps) => Allowance> {
  const acquisitions = (n: number): Allowance => ({ tokens: n * ACQUISITION, records: 0 });
  /** An erasure: per partition of the person (each found by reading its link record), its token document, and its opt-in, legacy pause and link records. */
  const erasure = (ops: InvocationOps): Allowance => {
    const partitions = Math.max(1, ops.linkKeysRead.size);
    return { tokens: partitions, records: 4 * partitions };
  };
  return {
    // On-behalf-of, with a claims retry; nothing of the record store.
    me: () => acquisitions(CLAIMS_RETRY),
    // Silent, with a claims retry; the session is a cookie.
    profile: () => acquisitions(CLAIMS_RETRY),
    // Client credentials in the app partition, with a claims retry.
    appDaemon: () => acquisitions(CLAIMS_RETRY),
    // The code redemption's read and write of the partition; the opt-in's read and renewal; the guest links: none
    // for a member, the forward link's read when a guest is linked already, that read and a read and a write of
    // each link record when they are linked now.
    authCallback: (ops) => ({ tokens: 2, records: 2 + [0, 1, 5][Math.min(ops.linkKeysRead.size, 2)]! }),
    // No store: the sign-in transaction is a cookie.
    authLogin: () => NONE,
    home: () => NONE,
    // GET: the opt-in read; POST on: one write (create, or over the version read after a conflict); POST off: the
    // opt-in and the legacy pause deleted.
    profileBackground: () => ({ tokens: 0, records: 2 }),
    meCache: erasure,
    // GET: nothing; POST: the erasure.
    authLogout: erasure,
    // Per person worked on (one opt-in read each): two acquisitions; the opt-in read, its renewal or pause, the
    // read of their link record and (a guest) of the forward link; per link record written (a guest's links
    // renewed), its read, itself and the forward link's read. The run: the cursor's read and its write or delete,
    // and the list pages (one more than the full pages; one more again when a rejected cursor restarts the run).
    userDaemon: (ops) => {
      const people = ops.optInReads;
      return {
        tokens: people * CLAIMS_RETRY * ACQUISITION,
        records: 2 + Math.ceil(people / USER_DAEMON_PAGE_SIZE) + 2 + 4 * people + 3 * ops.linkWrites,
      };
    },
    // Deletes within its budget in each store; its list pages are not bounded (a page may come back empty).
    cacheSweeper: (ops) => ({ tokens: sweeperBudget + ops.tokens.list, records: sweeperBudget + ops.records.list }),
  };
}

export interface FunctionStoreOps {
  readonly invocations: number;
  /** Most operations one invocation made on the token store, on the record store, and conflicts it met. */
  readonly maxTokens: number;
  readonly maxRecords: number;
  readonly maxConflicts: number;
  /** User daemon: people worked on in all its runs, and the most operations per person of one run (both stores). */
  readonly people?: number;
  readonly maxPerPerson?: number;
}

export interface StoreOpsPerInvocation {
  readonly invocations: number;
  /** Operations outside any invocation (the checks' reads), not bounded. */
  readonly outside: number;
  readonly byFunction: Readonly<Record<string, FunctionStoreOps>>;
  /** Invocations over their function's bound (or of a function without one), with what they made. */
  readonly overBound: string[];
}

const describeOps = (ops: StoreOps) =>
  `${ops.read} read, ${ops.write} write, ${ops.delete} delete, ${ops.list} list, ${ops.conflicts} conflict, ${ops.failures} failed`;

/**
 * Per function: the most store operations one invocation made; and every invocation over its function's bound on
 * either store — the allowance plus 2 per conflict on that store (a re-read and a retried write; a failed operation
 * is counted as made, and nothing retries one). A function without a declared bound is over it.
 */
export function storeOpsPerInvocation(
  tally: InvocationTally,
  bounds: Readonly<Record<string, (ops: InvocationOps) => Allowance>>,
): StoreOpsPerInvocation {
  const invocations = tally.invocations();
  const byFunction: Record<string, FunctionStoreOps> = {};
  const overBound: string[] = [];
  for (const ops of invocations) {
    const tokens = total(ops.tokens);
    const records = total(ops.records);
    const conflicts = ops.tokens.conflicts + ops.records.conflicts;
    const seen = byFunction[ops.functionName];
    const perPerson = ops.optInReads > 0 ? (tokens + records) / ops.optInReads : undefined;
    byFunction[ops.functionName] = {
      invocations: (seen?.invocations ?? 0) + 1,
      maxTokens: Math.max(seen?.maxTokens ?? 0, tokens),
      maxRecords: Math.max(seen?.maxRecords ?? 0, records),
      maxConflicts: Math.max(seen?.maxConflicts ?? 0, conflicts),
      ...(ops.functionName === 'userDaemon'
        ? {
            people: (seen?.people ?? 0) + ops.optInReads,
            maxPerPerson: Math.max(seen?.maxPerPerson ?? 0, Math.round((perPerson ?? 0) * 100) / 100),
          }
        : {}),
    };
    const bound = bounds[ops.functionName];
    const what = `${ops.functionName} ${ops.invocationId}: tokens ${describeOps(ops.tokens)}; records ${describeOps(ops.records)}`;
    if (!bound) {
      overBound.push(`${what} (no bound declared for ${ops.functionName})`);
      continue;
    }
    const allowed = bound(ops);
    const tokenBound = allowed.tokens + 2 * ops.tokens.conflicts;
    const recordBound = allowed.records + 2 * ops.records.conflicts;
    if (tokens > tokenBound || records > recordBound) {
      overBound.push(`${what} (bound: ${tokenBound} token, ${recordBound} record operations)`);
    }
  }
  return { invocations: invocations.length, outside: tally.outside(), byFunction, overBound };
}
