/**
 * `npm run bench` — starts the emulators, the local authority and the downstream API in this process, runs every
 * scenario, stops everything and prints Markdown tables (`--json`: one JSON object instead). Progress goes to
 * stderr. `--only=warm,cpu` runs some scenarios (baselines run whenever a scenario needs them): baseline warm cpu
 * concurrency growth daemon coldStart tier httpLoad peer latency. `--quick` scales everything down (development).
 * See BENCHMARKS.md for what each scenario measures and the latest figures.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { baselineScenario, type BaselineFigures } from './scenarios/baseline.js';
import { coldStartScenario } from './scenarios/cold-start.js';
import { concurrencyScenario, measureConcurrency, type ConcurrencyFigures } from './scenarios/concurrency.js';
import { cpuScenario, type CpuFigures } from './scenarios/cpu.js';
import { daemonScenario, measureDaemon, type DaemonFigures } from './scenarios/daemon.js';
import { COSMOS_304, COSMOS_304_NOTE, growthScenario, measureGrowth, type GrowthFigures } from './scenarios/growth.js';
import { httpLoadScenario } from './scenarios/http-load.js';
import { LATENCIES_MS, latencyScenario, measureLatency, type LatencyFigures } from './scenarios/latency.js';
import { peerScenario } from './scenarios/peer.js';
import {
  TIER_BOUNDS,
  TIER_PARTITIONS,
  measureTierMemory,
  tierScenario,
  type TierMemoryFigures,
} from './scenarios/tier.js';
import { measureStorm, type StormFigures } from './scenarios/refresh-storm.js';
import { measureWarmRounds, warmScenario, type WarmFigures } from './scenarios/warm.js';
import { QUICK } from './support/config.js';
import { describeMachine, EMULATORS, MACHINE } from './support/environment.js';
import { renderGoals, renderScenario, type ScenarioResult } from './support/report.js';
import { startBenchStack, type BenchStack } from './support/stack.js';
import { round } from './support/stats.js';

const STORES = ['table', 'cosmos', 'redis'] as const;
/** Users of the user-daemon run per store (Table seeding through Azurite is the slow part: scaled down). */
const DEFAULT_TABLE_DAEMON_USERS = 2_000;

const args = process.argv.slice(2);
const json = args.includes('--json');
/** `--json-file=path`: the JSON as well, written to a file, from the same run as the tables printed. */
const jsonFile = args.find((a) => a.startsWith('--json-file='))?.slice('--json-file='.length);
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const wanted = (id: string) => !only || only.includes(id);
const tableDaemonUsers = Number(
  args.find((a) => a.startsWith('--table-daemon-users='))?.slice('--table-daemon-users='.length) ??
    DEFAULT_TABLE_DAEMON_USERS,
);
if (!Number.isInteger(tableDaemonUsers) || tableDaemonUsers < 1) {
  throw new Error('--table-daemon-users must be a positive whole number');
}
const DAEMON_USERS = { memory: 10_000, table: tableDaemonUsers } as const;
const loadAtStart = loadavg();
const runStarted = performance.now();

function progress(message: string): void {
  process.stderr.write(`[bench ${((performance.now() - runStarted) / 1000).toFixed(1).padStart(5)} s] ${message}\n`);
}

async function step<T>(label: string, work: () => Promise<T>): Promise<T> {
  progress(`${label}…`);
  const started = performance.now();
  const result = await work();
  progress(`${label}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

async function scenarios(stack: BenchStack): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  const stores = STORES.filter((kind) => kind !== 'redis' || stack.redis);
  const noRedis = stack.redis ? [] : [`No Redis rows: ${stack.redisMissing}.`];
  // First, while the parent process is idle: fresh child processes.
  if (wanted('coldStart')) results.push(await step('6 cold start (child processes)', () => coldStartScenario(stack)));

  const baselines = new Map<string, BaselineFigures>();
  const warm: WarmFigures[] = [];
  const contenders: WarmFigures[] = [];
  const tierOff: WarmFigures[] = [];
  /** Warm figures on stores reached another way than the run's emulators: scenario 2's table only. */
  const warmElsewhere: WarmFigures[] = [];
  if (['baseline', 'warm', 'peer', 'tier'].some(wanted)) {
    for (const kind of stores) {
      const peer = wanted('peer');
      const off = wanted('tier');
      const label = `1+2${off ? '+7' : ''}${peer ? '+9' : ''}`;
      const run = await step(`${label} baseline read and warm paths, ${kind}`, () =>
        measureWarmRounds(stack, kind, { peer, tierOff: off }),
      );
      baselines.set(kind, run.baseline);
      warm.push(run.contenders[0]!);
      contenders.push(...run.contenders);
      const withoutTier = run.contenders.find((c) => c.contender === 'ours, tier off');
      if (withoutTier) tierOff.push(withoutTier);
    }
  }
  if (wanted('warm')) {
    const newStore = await stack.cosmosAnsweringIfNoneMatch();
    const run = await step(`2 warm paths, cosmos via ${COSMOS_304}`, () =>
      measureWarmRounds(stack, 'cosmos', { newStore, via: COSMOS_304 }),
    );
    warmElsewhere.push(run.contenders[0]!);
  }
  if (wanted('baseline')) {
    results.push(
      baselineScenario([...baselines.values()], ['Measured interleaved with scenario 2 (see there).', ...noRedis]),
    );
  }
  if (wanted('warm')) results.push(warmScenario([...warm, ...warmElsewhere], [COSMOS_304_NOTE, ...noRedis]));
  let cpu: CpuFigures | undefined;
  if (['cpu', 'peer'].some(wanted)) {
    const result = await step('3 CPU, memory store', () => cpuScenario(stack));
    cpu = result.figures as CpuFigures;
    if (wanted('cpu')) results.push(result);
  }
  if (wanted('concurrency')) {
    const figures: ConcurrencyFigures[] = [];
    for (const kind of stores) {
      figures.push(...(await step(`4 concurrency, ${kind}`, () => measureConcurrency(stack, kind))));
    }
    results.push(concurrencyScenario(figures));
  }
  if (wanted('growth')) {
    const figures: GrowthFigures[] = [];
    for (const kind of stores) {
      figures.push(...(await step(`5a growth, ${kind}`, () => measureGrowth(stack, kind))));
    }
    const newStore = await stack.cosmosAnsweringIfNoneMatch();
    figures.push(
      ...(await step(`5a growth, cosmos via ${COSMOS_304}`, () =>
        measureGrowth(stack, 'cosmos', { label: COSMOS_304, newStore }),
      )),
    );
    results.push(growthScenario(figures));
  }
  if (wanted('tier')) {
    const memory: TierMemoryFigures[] = [];
    for (const bound of TIER_BOUNDS) {
      const label = `7 warm tier memory, ${TIER_PARTITIONS} partitions, bound ${bound / 2 ** 20} MiB`;
      memory.push(await step(label, () => measureTierMemory(stack, bound)));
    }
    results.push(tierScenario(warm, tierOff, memory));
  }
  if (wanted('latency')) {
    const figures: LatencyFigures[] = [];
    for (const eachWayMs of LATENCIES_MS) {
      for (const kind of stores) {
        figures.push(
          await step(`10 simulated latency ${eachWayMs} ms, ${kind}`, () => measureLatency(stack, kind, eachWayMs)),
        );
      }
    }
    results.push(latencyScenario(figures));
  }
  if (wanted('peer')) {
    const storms: StormFigures[] = [];
    for (const kind of stores)
      storms.push(...(await step(`9 refresh storm, ${kind}`, () => measureStorm(stack, kind))));
    results.push(peerScenario(contenders, storms, cpu));
  }
  if (wanted('daemon')) {
    const figures: DaemonFigures[] = [];
    for (const [kind, users] of Object.entries(DAEMON_USERS) as [keyof typeof DAEMON_USERS, number][]) {
      figures.push(await step(`5b user daemon, ${kind}, ${users} users`, () => measureDaemon(stack, kind, users)));
    }
    const scaledDown =
      DAEMON_USERS.table < 10_000
        ? [
            `Table runs ${DAEMON_USERS.table.toLocaleString('en-US')} users, not 10,000, to keep \`npm run bench\` under five minutes on this machine; \`npm run bench -- --only=daemon --table-daemon-users=10000\` runs all 10,000.`,
          ]
        : [];
    results.push(daemonScenario(figures, scaledDown));
  }
  if (wanted('httpLoad')) results.push(await step('8 HTTP load (autocannon)', () => httpLoadScenario(stack)));
  return results;
}

function formatLoad(load: number[]): string {
  return load.map((l) => l.toFixed(2)).join(' / ');
}

async function main(): Promise<void> {
  const stack = await step('starting Azurite, the Cosmos server, the authority and the downstream API', () =>
    startBenchStack(),
  );
  let results: ScenarioResult[];
  try {
    results = await scenarios(stack);
  } finally {
    await step('stopping everything', () => stack.close());
  }
  const seconds = round((performance.now() - runStarted) / 1000, 1);
  const order = [
    'baseline',
    'warm',
    'cpu',
    'concurrency',
    'growth',
    'daemon',
    'coldStart',
    'tier',
    'httpLoad',
    'peer',
    'latency',
  ];
  results.sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
  const jsonText = `${JSON.stringify(
    {
      measuredOn: { machine: MACHINE, emulators: EMULATORS, loadAverage: { start: loadAtStart, end: loadavg() } },
      quick: QUICK,
      startedAt: new Date(Date.now() - seconds * 1000).toISOString(),
      seconds,
      scenarios: Object.fromEntries(results.map((r) => [r.id, r.skipped ? { skipped: r.skipped } : r.figures])),
      goals: results.flatMap((r) => r.goals),
    },
    null,
    2,
  )}\n`;
  if (jsonFile) writeFileSync(jsonFile, jsonText);
  if (json) {
    process.stdout.write(jsonText);
  } else {
    const header = [
      `## Results (${new Date().toISOString().slice(0, 10)}, ${seconds} s)${QUICK ? ' — QUICK RUN (--quick): scaled down, not for publishing' : ''}`,
      '',
      `Machine: ${describeMachine()}; load average (1/5/15 min) ${formatLoad(loadAtStart)} at the start, ${formatLoad(loadavg())} at the end.`,
      `Stores: Table = ${EMULATORS.table}; Cosmos = ${EMULATORS.cosmos}; Redis = ${EMULATORS.redis}; memory = ${EMULATORS.memory}.`,
      '',
    ];
    process.stdout.write([...header, ...results.map(renderScenario), renderGoals(results)].join('\n'));
  }
  progress(`done in ${seconds} s`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
