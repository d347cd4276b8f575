/**
 * Scenario 10: a SIMULATION of a store in an Azure region, not a measurement of Azure. A loopback TCP proxy
 * (dev/proxy/tcp.ts) in front of each emulator adds a fixed latency to every chunk in each direction — 0.5 ms and
 * 2 ms — and the warm paths of this library and of the peer are measured against the raw read through the same
 * proxy, in interleaved rounds as in scenario 2. What it shows: how the ratios move when the read costs a network
 * round trip instead of an in-process emulator's CPU.
 */
import { scaled } from '../support/config.js';
import type { Goal, ScenarioResult } from '../support/report.js';
import type { BenchStack } from '../support/stack.js';
import { describeWarmUp, type WarmUp } from '../support/warm-up.js';
import { RATIO_GOAL, measureWarmRounds, pairedRatioText, type WarmFigures } from './warm.js';

export const LATENCIES_MS = [0.5, 2] as const;
const ROUNDS = scaled(15, 3);
/**
 * Fewer warm-up calls than scenario 2's: it runs after scenario 2, so every path's code is through V8's tiers, and each
 * call here waits a millisecond or more on the proxy.
 */
const WARM_UP: WarmUp = { calls: scaled(50, 20), ms: scaled(250, 100) };
const WARM_UPS = { paths: WARM_UP, handler: WARM_UP };

export interface LatencyFigures {
  readonly eachWayMs: number;
  readonly store: string;
  readonly baselineMedianMs: number;
  readonly ours: WarmFigures;
  readonly peer: WarmFigures | undefined;
}

export async function measureLatency(
  stack: BenchStack,
  kind: 'table' | 'cosmos' | 'redis',
  eachWayMs: number,
): Promise<LatencyFigures> {
  const newStore = await stack.storeBehindProxy(kind, eachWayMs);
  const run = await measureWarmRounds(stack, kind, { peer: true, newStore, rounds: ROUNDS, warmUp: WARM_UPS });
  return {
    eachWayMs,
    store: kind,
    baselineMedianMs: run.baseline.medianMs,
    ours: run.contenders.find((c) => c.contender === 'ours')!,
    peer: run.contenders.find((c) => c.contender === 'peer'),
  };
}

export function latencyScenario(figures: readonly LatencyFigures[]): ScenarioResult {
  const rows = figures.flatMap((f) =>
    (['obo', 'appDaemon', 'getMe'] as const).map((path) => [
      `${f.eachWayMs} ms`,
      f.store,
      path,
      f.baselineMedianMs,
      path === 'getMe' ? undefined : f.ours.floor[path].medianMs,
      f.ours[path].medianMs,
      f.ours[path].p99Ms,
      f.ours[path].ratioToBaseline,
      f.ours[path].roundRatio,
      f.peer?.[path].medianMs,
      f.peer?.[path].ratioToBaseline,
      f.peer ? Math.round((f.ours[path].medianMs / f.peer[path].medianMs) * 100) / 100 : undefined,
      `${f.ours[path].perInvocation.storeReads} / ${f.ours[path].perInvocation.storeWrites}`,
      f.peer ? `${f.peer[path].perInvocation.storeReads} / ${f.peer[path].perInvocation.storeWrites}` : undefined,
      `${f.ours[path].failures} / ${f.ours.warnings}`,
    ]),
  );
  const goals: Goal[] = figures.flatMap((f) =>
    (['obo', 'appDaemon'] as const).map((path) => ({
      goal: `SIMULATED region (${f.eachWayMs} ms each way): warm ${path} ÷ raw read, ${f.store}`,
      target: `≤ ${RATIO_GOAL}`,
      measured: pairedRatioText(f.ours[path], f.baselineMedianMs),
      met: f.ours[path].roundRatio <= RATIO_GOAL,
    })),
  );
  return {
    id: 'latency',
    title: '10. SIMULATED region latency: a loopback proxy adds 0.5 ms / 2 ms each way in front of the store',
    columns: [
      'added each way',
      'store',
      'path',
      'raw read ms',
      'floor ms (read + bare lookup)',
      'ours median ms',
      'ours p99 ms',
      'ours × read',
      'ours × read, paired by round',
      'peer median ms',
      'peer × read',
      'ours ÷ peer',
      'ours reads / writes',
      'peer reads / writes',
      'ours failures / warnings',
    ],
    rows,
    figures: Object.fromEntries(
      LATENCIES_MS.map((ms) => [
        String(ms),
        Object.fromEntries(figures.filter((f) => f.eachWayMs === ms).map((f) => [f.store, f])),
      ]),
    ),
    goals,
    notes: [
      'A simulation, not a measurement of Azure: the emulators still run in this process, and the proxy (dev/proxy/tcp.ts) delays every chunk by the given time in each direction, so a point read costs at least twice that more. Azure Cosmos DB, Table storage and Redis in a region were not measured.',
      'The proxy meets sub-millisecond deadlines by polling the event loop (dev/proxy/precise-timer.ts), on the same thread as everything else: CPU figures are not comparable here and are left out.',
      `${ROUNDS} interleaved rounds per store and latency, as in scenario 2, after ${describeWarmUp(WARM_UP)} (scenario 2 ran first, so the code is through V8's tiers); "ours" is this library in its default configuration (warm tier on).`,
    ],
  };
}
