/**
 * Store operations per invocation (an HTTP request or a timer run of the function app), the token store and the
 * app's record store together: a counting wrapper around each of the app's stores attributes every call (read,
 * version check, conditional read, write, delete, list) to the local host's invocation it was made for
 * (`currentInvocation`, an AsyncLocalStorage scope around each handler), and these checks bound them per function.
 */
import { OPT_IN_PREFIX } from '../../app/daemons/optin.js';
import { DEFAULT_USER_DAEMON_PAGE_SIZE } from '../../app/daemons/user-daemon.js';
import { LINK_PREFIX } from '../../app/people.js';
import type { StoreObserver, StoreOperationKind } from '../../dev/counting-store.js';
import { currentInvocation } from '../../dev/host/context.js';
import { StoreError, TOKEN_TELEMETRY_PREFIX } from '../../lib/index.js';

/** What a token acquisition's telemetry line says about its store traffic. */
export interface TelemetryLine {
  readonly op: string;
  readonly partition: string;
  readonly reads: number;
  readonly writes: number;
  readonly conflicts: number;
  readonly failures: number;
}

/** The telemetry line in a log line, if it holds one. */
export function telemetryOf(line: string): TelemetryLine | undefined {
  const at = line.indexOf(`${TOKEN_TELEMETRY_PREFIX} {`);
  return at < 0 ? undefined : (JSON.parse(line.slice(at + TOKEN_TELEMETRY_PREFIX.length + 1)) as TelemetryLine);
}

/** The store requests an acquisition reported: reads, writes, conflicting writes, failed requests. */
export const requestsOf = (line: TelemetryLine): number => line.reads + line.writes + line.conflicts + line.failures;

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
  /** Token acquisitions it made (its `token-cache-telemetry` lines; one that joined another's counts too). */
  acquisitions: number;
  /** The token store requests those acquisitions reported (each bounded by `roundTrips`). */
  acquisitionRequests: number;
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
  /** Call with every log line, as the current invocation logs it: its acquisitions' telemetry lines are counted. */
  logged(line: string): void;
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
  const current = (): InvocationOps | undefined => {
    const scope = currentInvocation();
    if (!scope) return undefined;
    let invocation = byId.get(scope.invocationId);
    if (!invocation) {
      invocation = {
        ...scope,
        tokens: emptyOps(),
        records: emptyOps(),
        acquisitions: 0,
        acquisitionRequests: 0,
        optInReads: 0,
        linkKeysRead: new Set(),
        linkWrites: 0,
      };
      byId.set(scope.invocationId, invocation);
    }
    return invocation;
  };
  const observer =
    (store: 'tokens' | 'records'): StoreObserver =>
    (kind: StoreOperationKind, key: string | undefined) => {
      const found = current();
      if (!found) {
        outside++;
        return undefined;
      }
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
    logged: (line) => {
      const telemetry = telemetryOf(line);
      const found = telemetry && current();
      if (!found) return;
      found.acquisitions++;
      found.acquisitionRequests += requestsOf(telemetry);
    },
    invocations: () => [...byId.values()],
    outside: () => outside,
  };
}

/** The most operations one invocation of a function may make on each store, before conflicts. */
export interface Allowance {
  /** Token acquisitions it may make (its telemetry lines). */
  readonly acquisitions: number;
  readonly tokens: number;
  readonly records: number;
}

/** A claims challenge of the downstream API is answered once: at most two acquisitions per call of it. */
const CLAIMS_RETRY = 2;
const NONE: Allowance = { acquisitions: 0, tokens: 0, records: 0 };

/**
 * The bound of each function, from its code (app/). The token store: the requests its acquisitions reported —
 * each within `roundTrips`' bound (a version check, the document, one write, and a re-read and a write per
 * conflict) — with at most as many acquisitions as its flow makes, plus the operations its flow makes outside an
 * acquisition (an erasure's deletes, the sweeper's). The record store: its allowance, plus a re-read and a retried
 * write per conflict: see {@link storeOpsPerInvocation}. `sweeperBudget`: SWEEPER_MAX_DELETES.
 */
export function allowances(sweeperBudget: number): Record<string, (ops: InvocationOps) => Allowance> {
  /** Token acquisitions only, at most `most`. */
  const acquiring =
    (most: number) =>
    (ops: InvocationOps): Allowance => ({ acquisitions: most, tokens: ops.acquisitionRequests, records: 0 });
  /**
   * An erasure: per partition of the person (each found by reading its link record), its token document, and its
   * opt-in, legacy pause and link records.
   */
  const erasure = (ops: InvocationOps): Allowance => {
    const partitions = Math.max(1, ops.linkKeysRead.size);
    return { acquisitions: 0, tokens: partitions, records: 4 * partitions };
  };
  return {
    // On-behalf-of, and once more with the claims of a downstream challenge; nothing of the record store.
    me: acquiring(CLAIMS_RETRY),
    // Silent, with the same claims retry; the session is a cookie.
    profile: acquiring(CLAIMS_RETRY),
    // Client credentials in the app partition, with the same claims retry.
    appDaemon: acquiring(CLAIMS_RETRY),
    // The code redemption (one read of the partition, one conditional write). The opt-in's read and renewal. The
    // guest links: none for a member, the forward link's read when a guest is linked already, that read and a read
    // and a write of each link record when they are linked now.
    authCallback: (ops) => ({
      acquisitions: 1,
      tokens: ops.acquisitionRequests,
      records: 2 + [0, 1, 5][Math.min(ops.linkKeysRead.size, 2)]!,
    }),
    // No store: the sign-in transaction is a cookie.
    authLogin: () => NONE,
    home: () => NONE,
    // GET: the opt-in read; POST on: one write (create, or over the version read after a conflict); POST off: the
    // opt-in and the legacy pause deleted.
    profileBackground: () => ({ acquisitions: 0, tokens: 0, records: 2 }),
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
        acquisitions: people * CLAIMS_RETRY,
        tokens: ops.acquisitionRequests,
        records: 2 + Math.ceil(people / DEFAULT_USER_DAEMON_PAGE_SIZE) + 2 + 4 * people + 3 * ops.linkWrites,
      };
    },
    // Deletes within its budget in each store; its list pages are not bounded (a page may come back empty).
    cacheSweeper: (ops) => ({
      acquisitions: 0,
      tokens: sweeperBudget + ops.tokens.list,
      records: sweeperBudget + ops.records.list,
    }),
  };
}

export interface FunctionStoreOps {
  readonly invocations: number;
  /** Most acquisitions, operations on the token store, on the record store, and conflicts of one invocation. */
  readonly maxAcquisitions: number;
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
 * Per function: the most store operations one invocation made; and every invocation over its function's bound: more
 * acquisitions than its flow may make, more token store operations than its acquisitions reported (plus its flow's
 * others), or more record store operations than its allowance plus 2 per conflict there (a re-read and a retried
 * write; a failed operation is counted as made, and nothing retries one). A function without a bound is over it.
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
      maxAcquisitions: Math.max(seen?.maxAcquisitions ?? 0, ops.acquisitions),
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
    const tokenBound = allowed.tokens;
    const recordBound = allowed.records + 2 * ops.records.conflicts;
    if (tokens > tokenBound || records > recordBound || ops.acquisitions > allowed.acquisitions) {
      overBound.push(
        `${what}; ${ops.acquisitions} acquisitions (bound: ${allowed.acquisitions} acquisitions, ${tokenBound} token, ${recordBound} record operations)`,
      );
    }
  }
  return { invocations: invocations.length, outside: tally.outside(), byFunction, overBound };
}
