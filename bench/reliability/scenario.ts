/**
 * One reliability run over one store kind: enrol people (no faults), run the mixed load through the fault phases,
 * heal everything, let every cached access token age past its use, run the user daemon once more (it now refreshes
 * everybody: a revoked person is paused, everybody else gets a new refresh token), then check what the store and
 * the authority hold. Returns the figures; asserting on them is the caller's business.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '../support/stats.js';
import {
  backgroundStatuses,
  crossUserEntries,
  labelOf,
  refreshTokens,
  roundTrips,
  unacceptable,
  type CrossUserCheck,
  type RefreshTokenCheck,
  type RoundTrips,
} from './checks.js';
import { phasesFor } from './faults.js';
import { allowances, storeOpsPerInvocation, type StoreOpsPerInvocation } from './invocations.js';
import { planCalls, runLoad, type CallKind, type CallRecord, type PhaseRecord, type TimerAnswer } from './load.js';
import { enrol } from './people.js';
import { startFaultStack, type EmulatorAddresses, type FaultStack, type FaultStoreKind } from './stack.js';

export interface ReliabilityOptions {
  readonly store: FaultStoreKind;
  readonly emulators: EmulatorAddresses;
  readonly people: number;
  readonly callsPerPhase: number;
  readonly seed: number;
  /** Calls in flight at once. Default 16. */
  readonly concurrency?: number;
  /** Run the phases that fault the identity provider too (they do not depend on the store). Default true. */
  readonly authorityPhases?: boolean;
  /** Seconds an access token is served from the cache. Default 5. */
  readonly cacheSeconds?: number;
  /** Longest an HTTP call may take. Default 60 s (the stores' and the network client's own timeouts are 10 s). */
  readonly boundMs?: number;
  readonly progress?: (message: string) => void;
  /** Every log line of the app and of the checks, as it is written. */
  readonly onLog?: (line: string) => void;
  /**
   * Called once the checks are done (or the run failed), before the stack closes: e.g. to list what its authority
   * issued and received (`stack.authority.secrets()`) and the app's settings, for a log audit.
   */
  readonly beforeClose?: (stack: FaultStack) => void;
}

export interface ReliabilityFigures {
  readonly store: FaultStoreKind;
  readonly people: number;
  readonly revoked: readonly string[];
  readonly seed: number;
  readonly calls: number;
  readonly callsByKind: Readonly<Record<CallKind, number>>;
  /** Faults injected, by what they were (counted by the proxies and the authority). */
  readonly faults: Readonly<Record<string, number>>;
  readonly phases: readonly PhaseRecord[];
  /** Answers by label (`200`, `503 store_unavailable`, `timer ok`...). */
  readonly answers: Readonly<Record<string, number>>;
  /** Calls not answered acceptably, with the reason. */
  readonly unacceptable: readonly string[];
  /** Users the user daemon worked on during the load, by outcome. */
  readonly daemonUsers: { readonly succeeded: number; readonly paused: number; readonly failed: number };
  readonly refreshTokens: RefreshTokenCheck;
  /** Partitions whose background work is paused (needs sign-in) after the run. */
  readonly paused: readonly string[];
  /** People not revoked whose background work is not on after the run, with what it is. */
  readonly wrongStatus: readonly string[];
  readonly crossUser: CrossUserCheck;
  readonly roundTrips: RoundTrips;
  /** Store operations (token and record store) per invocation of each function, and those over its bound. */
  readonly storeOps: StoreOpsPerInvocation;
  /** The final user daemon run (no faults, every access token aged). */
  readonly finalRun: string;
  /** The warnings and errors logged during the final run (why a person failed, if one did). */
  readonly finalRunProblems: readonly string[];
  readonly slowestCallMs: number;
  readonly durationMs: number;
}

const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);

function count<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

/** The daemon's "processed N, succeeded S, paused P, failed F" lines, summed. */
function daemonUsers(logs: readonly string[]) {
  const totals = { succeeded: 0, paused: 0, failed: 0 };
  for (const line of logs) {
    const m = /user daemon: processed \d+, succeeded (\d+), paused (\d+), failed (\d+)/.exec(line);
    if (!m) continue;
    totals.succeeded += Number(m[1]);
    totals.paused += Number(m[2]);
    totals.failed += Number(m[3]);
  }
  return totals;
}

export async function runReliability(options: ReliabilityOptions): Promise<ReliabilityFigures> {
  const started = performance.now();
  const progress = options.progress ?? (() => undefined);
  const boundMs = options.boundMs ?? 60_000;
  const cacheSeconds = options.cacheSeconds ?? 5;
  const random = seededRandom(options.seed);
  const stack = await startFaultStack({
    store: options.store,
    emulators: options.emulators,
    random: seededRandom(options.seed + 1),
    cacheSeconds,
    ...(options.onLog ? { onLog: options.onLog } : {}),
  });
  try {
    const toRevoke = new Set<number>();
    const revokedCount = Math.max(2, Math.round(options.people / 20));
    while (toRevoke.size < revokedCount) toRevoke.add(Math.floor(random() * options.people));
    progress(`${options.store}: enrolling ${options.people} people`);
    const people = await enrol(stack, options.people, toRevoke, boundMs);

    const phases = phasesFor(options.store, { authority: options.authorityPhases ?? true });
    // The people to revoke are revoked as the third phase starts, with faults on from then to the end.
    const revokeAtPhase = 2;
    const plan = planCalls(phases.length, options.callsPerPhase, people, revokeAtPhase, random);
    const load = await runLoad(stack, people, phases, plan, {
      concurrency: options.concurrency ?? 16,
      boundMs,
      timerBoundMs: 4 * boundMs,
      revokeAtPhase,
      onPhase: (phase, index) => progress(`${options.store}: phase ${index + 1}/${phases.length} ${phase.name}`),
    });
    const loadEnded = Date.now();
    // The partition is over for the connections it swallowed too: they are reset, as by a network that lost their
    // state, so the final run checks recovery rather than meeting a dead connection the load left unused.
    stack.storePath.tcp.endBlackHoles();
    stack.authorityProxy.endBlackHoles();

    // Every access token was issued before the load ended; once cacheSeconds (and msal-node's whole-second clock)
    // have passed, none is served from the cache any more: the next silent call of everyone asks the authority.
    const wait = loadEnded + (cacheSeconds + 2) * 1000 - Date.now();
    progress(`${options.store}: load done; waiting ${Math.max(0, Math.round(wait / 1000))} s for tokens to age`);
    if (wait > 0) await sleep(wait);
    const logsBefore = stack.app.logs.length;
    const firing = await stack.app.host.timers.fire('userDaemon').then(
      () => undefined,
      (error: unknown) => `failed: ${error instanceof Error ? error.message : String(error)}`,
    );
    const finalLogs = stack.app.logs.slice(logsBefore);
    const final = firing ?? finalLogs.find((l) => l.includes('user daemon: processed')) ?? 'no summary';
    progress(`${options.store}: checking the store and the authority`);
    const statuses = await backgroundStatuses(stack, people);
    const paused = people.filter((p) => statuses.get(p.index) === 'needs_sign_in').map((p) => p.partitionKey);
    const wrongStatus = people
      .filter((p) => !p.toRevoke && statuses.get(p.index) !== 'active')
      .map((p) => `${p.partitionKey}: ${statuses.get(p.index)}`);
    const tokens = await refreshTokens(stack, people);
    const crossUser = await crossUserEntries(stack, people);
    const logs = stack.app.logs;
    const calls: CallRecord[] = load.calls;

    const store = stack.storePath;
    const storeFaults = store.tcp.counters().faults;
    const httpFaults = store.http?.counters().faults;
    const authorityFaults = stack.authorityProxy.counters().faults;
    const faults: Record<string, number> = {
      'store: delayed chunks': storeFaults.latency,
      'store: connections reset': storeFaults.reset,
      'store: connections black-holed': storeFaults.blackhole,
      'store: refusals (listener closed)': storeFaults.refuse,
      'store: 429/503 answers': httpFaults?.status ?? 0,
      'store: answers lost after the work was done': httpFaults?.reset ?? 0,
      'authority: delayed chunks': authorityFaults.latency,
      'authority: connections reset': authorityFaults.reset,
      'authority: connections black-holed': authorityFaults.blackhole,
      'authority: refusals (listener closed)': authorityFaults.refuse,
      'authority: 429/503 answers': sum(load.phases.map((p) => p.authorityAnswers)),
    };
    return {
      store: options.store,
      people: people.length,
      revoked: people.filter((p) => p.toRevoke).map((p) => p.partitionKey),
      seed: options.seed,
      calls: calls.length,
      callsByKind: count(calls, (c) => c.kind) as Record<CallKind, number>,
      faults,
      phases: load.phases,
      answers: count(calls, labelOf),
      unacceptable: calls
        .map((c) => [c, unacceptable(c, boundMs)] as const)
        .filter(([, why]) => why !== undefined)
        .map(([c, why]) => `#${c.index} (phase ${phases[c.phase]!.name}): ${why}`),
      daemonUsers: daemonUsers(logs.slice(0, logsBefore)),
      refreshTokens: tokens,
      paused: paused.sort(),
      wrongStatus,
      crossUser,
      roundTrips: roundTrips(logs),
      storeOps: storeOpsPerInvocation(
        stack.app.invocations,
        allowances(stack.app.runtime.settings.daemons.sweeperBudget),
      ),
      finalRun: final.replace(/^.*user daemon: /, ''),
      finalRunProblems: finalLogs.filter((line) => /^(warning|error|critical) /.test(line)),
      slowestCallMs: Math.round(Math.max(...calls.map((c) => c.ms))),
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    try {
      options.beforeClose?.(stack);
    } finally {
      await stack.close();
    }
  }
}

export type { TimerAnswer };
