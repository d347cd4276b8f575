/**
 * The mixed load of a run: web API calls (`GET /api/me`, on-behalf-of, from either of a person's devices), web app
 * calls (`GET /api/profile`, silent), new sign-ins (the callback redeems a code and writes the partition) and the
 * two timer functions (user daemon, app daemon) — planned in advance from a seeded random, then run with bounded
 * concurrency while the fault phases switch as the calls reach them.
 */
import { classifyTokenError } from '../../lib/index.js';
import { browserSignIn, call, type HttpAnswer } from './clients.js';
import type { FaultPhase } from './faults.js';
import type { Person } from './people.js';
import type { FaultStack } from './stack.js';

export type CallKind = 'web API' | 'web app' | 'sign-in' | 'user daemon' | 'app daemon';

export interface PlannedCall {
  readonly index: number;
  readonly kind: CallKind;
  /** Index into the phases. */
  readonly phase: number;
  readonly person?: number;
  readonly device?: 0 | 1;
}

/** How a timer run ended: `ok`, or `failed` with the kind and code of its error. */
export interface TimerAnswer {
  readonly outcome: 'ok' | 'failed' | 'unanswered';
  /** `kind (code)` of a failure. */
  readonly reason?: string;
  /** Whether the failure was the store's or the identity provider's (retried next run), not a bug. */
  readonly unavailable?: boolean;
}

export interface CallRecord extends PlannedCall {
  readonly answer: HttpAnswer | TimerAnswer;
  readonly ms: number;
  /** The person had been revoked at the authority when the call started. */
  readonly revoked: boolean;
}

export interface PhaseRecord {
  readonly name: string;
  readonly calls: number;
  /** Token requests the app made while the phase was on. */
  readonly tokenRequests: number;
  /** Made-up answers the authority gave (`failNext` bursts used up). */
  readonly authorityAnswers: number;
}

export interface LoadOptions {
  readonly concurrency: number;
  /** Longest an HTTP call may take before it counts as unanswered. */
  readonly boundMs: number;
  /** Longest a timer run may take. */
  readonly timerBoundMs: number;
  /** The phase at whose start the people marked `toRevoke` are revoked at the authority. */
  readonly revokeAtPhase: number;
  readonly onPhase?: (phase: FaultPhase, index: number) => void;
}

/**
 * The calls, phase by phase: one user daemon run in the middle of each phase, the rest drawn at random. A person to
 * be revoked never signs in again (that would rightly make them whole), and their devices stop calling the web API
 * once they are revoked: a client gets no new access token for a revoked person, and an on-behalf-of exchange of a
 * still-valid one is a fresh grant that gives the cache a working refresh token again.
 */
export function planCalls(
  phases: number,
  callsPerPhase: number,
  people: readonly Person[],
  revokeAtPhase: number,
  random: () => number,
): PlannedCall[] {
  const plan: PlannedCall[] = [];
  const pick = (from: readonly Person[]) => from[Math.floor(random() * from.length)]!.index;
  const neverRevoked = people.filter((p) => !p.toRevoke);
  for (let phase = 0; phase < phases; phase++) {
    const callers = phase < revokeAtPhase ? people : neverRevoked;
    for (let k = 0; k < callsPerPhase; k++) {
      const index = plan.length;
      const r = random();
      if (k === Math.floor(callsPerPhase / 2)) plan.push({ index, phase, kind: 'user daemon' });
      else if (r < 0.45)
        plan.push({ index, phase, kind: 'web API', person: pick(callers), device: random() < 0.5 ? 0 : 1 });
      else if (r < 0.83) plan.push({ index, phase, kind: 'web app', person: pick(people) });
      else if (r < 0.95) plan.push({ index, phase, kind: 'sign-in', person: pick(neverRevoked) });
      else plan.push({ index, phase, kind: 'app daemon' });
    }
  }
  return plan;
}

/** Runs one timer function as the host would, bounded; the outcome from its log lines or its error. */
async function fireTimer(stack: FaultStack, name: 'userDaemon' | 'appDaemon', boundMs: number): Promise<TimerAnswer> {
  const { logs, host } = stack.app;
  const from = logs.length;
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'unanswered'>((resolve) => (timer = setTimeout(() => resolve('unanswered'), boundMs)));
  try {
    const ended = await Promise.race([host.timers.fire(name).then(() => 'ended' as const), bound]);
    if (ended === 'unanswered') return { outcome: 'unanswered', reason: `no end within ${boundMs} ms` };
  } catch (error) {
    const failure = classifyTokenError(error);
    return {
      outcome: 'failed',
      reason: `${failure.kind} (${failure.code})`,
      unavailable: failure.kind === 'store_unavailable' || failure.kind === 'authority_unavailable',
    };
  } finally {
    clearTimeout(timer);
  }
  if (name === 'appDaemon') {
    // The app daemon logs its failures and returns: "app daemon: no token: kind (code): ...".
    const mine = logs.slice(from).filter((line) => line.includes(' appDaemon: app daemon: '));
    const noToken = mine.map((line) => /no token: (\w+) \(([^)]*)\)/.exec(line)).find(Boolean);
    if (noToken) {
      const kind = noToken[1]!;
      return {
        outcome: 'failed',
        reason: `${kind} (${noToken[2]})`,
        unavailable: kind === 'store_unavailable' || kind === 'authority_unavailable',
      };
    }
    if (mine.some((line) => line.includes('downstream call failed'))) {
      return { outcome: 'failed', reason: 'downstream', unavailable: false };
    }
  }
  return { outcome: 'ok' };
}

async function runCall(stack: FaultStack, people: readonly Person[], planned: PlannedCall, options: LoadOptions) {
  const { url } = stack.app;
  const person = planned.person === undefined ? undefined : people[planned.person]!;
  switch (planned.kind) {
    case 'web API':
      return call(`${url}/api/me`, options.boundMs, {
        headers: { authorization: `Bearer ${person!.assertions[planned.device ?? 0]}` },
      });
    case 'web app':
      return call(`${url}/api/profile`, options.boundMs, {}, person!.jar);
    case 'sign-in':
      return browserSignIn(url, person!.jar, person!.loginHint, options.boundMs);
    case 'user daemon':
      return fireTimer(stack, 'userDaemon', options.timerBoundMs);
    case 'app daemon':
      return fireTimer(stack, 'appDaemon', options.timerBoundMs);
  }
}

/**
 * Runs the plan with `concurrency` calls in flight. Before the first call of a phase starts, every fault is healed
 * and the phase's faults are switched on (calls still in flight meet them too). Runs of one timer function never
 * overlap, as under the host's singleton lock; nor do two sign-ins in one browser (the second would replace the
 * first's sign-in cookie, and the first's callback would rightly answer invalid_state).
 */
export async function runLoad(
  stack: FaultStack,
  people: readonly Person[],
  phases: readonly FaultPhase[],
  plan: readonly PlannedCall[],
  options: LoadOptions,
): Promise<{ calls: CallRecord[]; phases: PhaseRecord[]; revokedAt: number | undefined }> {
  const records: CallRecord[] = [];
  const phaseRecords: PhaseRecord[] = [];
  const revokedPeople = new Set<number>();
  let revokedAt: number | undefined;
  let current = -1;
  let tokenRequestsAtStart = 0;

  const tokenRequests = () => stack.authority.requests(stack.app.clientId).token;
  const closePhase = () => {
    if (current < 0) return;
    const phase = phases[current]!;
    const requests = tokenRequests() - tokenRequestsAtStart;
    phaseRecords.push({
      name: phase.name,
      calls: plan.filter((c) => c.phase === current).length,
      tokenRequests: requests,
      // A burst answers the app's next token requests: it used up as many as there were, up to its size.
      authorityAnswers: Math.min(phase.authorityBurst?.count ?? 0, requests),
    });
  };
  const switchTo = async (index: number) => {
    closePhase();
    await stack.healAll();
    current = index;
    tokenRequestsAtStart = tokenRequests();
    const phase = phases[index]!;
    await phase.apply?.(stack);
    const burst = phase.authorityBurst;
    if (burst) stack.authority.failNext(burst.count, burst.status, burst.retryAfterSeconds, stack.app.clientId);
    if (index === options.revokeAtPhase) {
      for (const person of people.filter((p) => p.toRevoke)) {
        if (stack.authority.revoke(person.oid) === 0) throw new Error(`person ${person.index} had no refresh token`);
        revokedPeople.add(person.index);
      }
      revokedAt = Date.now();
    }
    options.onPhase?.(phase, index);
  };

  let cursor = 0;
  let gate: Promise<PlannedCall | undefined> = Promise.resolve(undefined);
  const take = () =>
    (gate = gate.then(async () => {
      const planned = plan[cursor];
      if (!planned) return undefined;
      if (planned.phase !== current) await switchTo(planned.phase);
      cursor++;
      return planned;
    }));
  /** Calls that must not overlap: the runs of one timer function, and the sign-ins of one person's browser. */
  const chains = new Map<string, Promise<unknown>>();
  const chainOf = (planned: PlannedCall) =>
    planned.kind === 'user daemon' || planned.kind === 'app daemon'
      ? planned.kind
      : planned.kind === 'sign-in'
        ? `sign-in ${planned.person}`
        : undefined;

  const worker = async () => {
    for (let planned = await take(); planned; planned = await take()) {
      const revoked = planned.person !== undefined && revokedPeople.has(planned.person);
      const chain = chainOf(planned);
      const run = (chain ? (chains.get(chain) ?? Promise.resolve()) : Promise.resolve()).then(async () => {
        const started = performance.now();
        const answer = await runCall(stack, people, planned, options);
        return { answer, ms: performance.now() - started };
      });
      if (chain)
        chains.set(
          chain,
          run.catch(() => undefined),
        );
      const { answer, ms } = await run;
      records.push({ ...planned, answer, ms, revoked });
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  closePhase();
  await stack.healAll();
  return { calls: records, phases: phaseRecords, revokedAt };
}
