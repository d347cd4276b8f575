/**
 * `npm run reliability` — the fault-injection runs of RELIABILITY.md: starts Azurite, the Cosmos server and
 * redis-server in this process (redis-server as a child), runs the mixed load under the fault phases once per store
 * and prints the figures as Markdown (`--json`: one JSON object). Progress goes to stderr. Exits 1 when an invariant
 * did not hold.
 *
 * Options: `--stores=table,cosmos,redis` `--people=200` `--calls-per-phase=150` `--seed=42` `--concurrency=16`.
 */
import { startAzuriteTable, startCosmosServer, startRedisServer } from '../../dev/emulators.js';
import { describeMachine, EMULATORS } from '../support/environment.js';
import { markdownTable, type Cell } from '../support/report.js';
import { PHASES, phasesFor } from './faults.js';
import { runReliability, type ReliabilityFigures } from './scenario.js';
import { violations } from './verdict.js';
import type { FaultStoreKind } from './stack.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const positive = (name: string, fallback: number) => {
  const value = Number(option(name, String(fallback)));
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive whole number`);
  return value;
};
const stores = option('stores', 'table,cosmos,redis').split(',') as FaultStoreKind[];
for (const store of stores) {
  if (!['table', 'cosmos', 'redis'].includes(store)) throw new Error(`unknown store ${store}`);
}
const people = positive('people', 200);
const callsPerPhase = positive('calls-per-phase', 150);
const seed = positive('seed', 42);
const concurrency = positive('concurrency', 16);
const started = performance.now();
const progress = (message: string) =>
  process.stderr.write(`[reliability ${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);

const NAMES: Record<FaultStoreKind, string> = {
  table: 'Table (Azurite)',
  cosmos: 'Cosmos DB (server)',
  redis: 'Redis',
};

/** The per-invocation rows, per function (bounds: RELIABILITY.md, bench/reliability/invocations.ts). */
const FUNCTION_ROWS: Readonly<Record<string, string>> = {
  me: '`me` (web API): max acquisitions, token + record operations / conflicts',
  profile: '`profile` (web app): max acquisitions, token + record operations / conflicts',
  authCallback: '`authCallback` (sign-in): max acquisitions, token + record operations / conflicts',
  profileBackground: '`profileBackground` (opt-in): max acquisitions, token + record operations / conflicts',
  appDaemon: '`appDaemon`: max acquisitions, token + record operations / conflicts',
  userDaemon: '`userDaemon`: max operations per person of a run (people, runs) / conflicts',
};

function render(results: readonly ReliabilityFigures[]): string {
  const columns = ['', ...results.map((r) => NAMES[r.store])];
  const row = (label: string, cell: (r: ReliabilityFigures) => Cell): Cell[] => [label, ...results.map(cell)];
  const faultKinds = [...new Set(results.flatMap((r) => Object.keys(r.faults)))];
  const answerLabels = [...new Set(results.flatMap((r) => Object.keys(r.answers)))].sort();
  const kinds = ['web API', 'web app', 'sign-in', 'user daemon', 'app daemon'] as const;
  const functionNames = [...new Set(results.flatMap((r) => Object.keys(r.storeOps.byFunction)))].sort();
  const total = (record: Readonly<Record<string, number>>) => Object.values(record).reduce((a, b) => a + b, 0);
  const rows: Cell[][] = [
    row('people (revoked on purpose)', (r) => `${r.people} (${r.revoked.length})`),
    row('**calls**', (r) => r.calls),
    ...kinds.map((kind) => row(`— ${kind}`, (r) => r.callsByKind[kind] ?? 0)),
    row('**faults injected**', (r) => total(r.faults)),
    ...faultKinds.map((kind) => row(`— ${kind}`, (r) => r.faults[kind] ?? 0)),
    row('**answered acceptably**', (r) => r.calls - r.unacceptable.length),
    ...answerLabels.map((label) => row(`— ${label}`, (r) => r.answers[label] ?? 0)),
    row('**not answered acceptably**', (r) => r.unacceptable.length),
    row('user-daemon work items: succeeded / failed for now / paused', (r) =>
      [r.daemonUsers.succeeded, r.daemonUsers.failed, r.daemonUsers.paused].join(' / '),
    ),
    row(
      '**refresh tokens lost** (newest not stored / not redeemed)',
      (r) => `${r.refreshTokens.notNewest.length} / ${r.refreshTokens.notRedeemed.length}`,
    ),
    row('**paused** (revoked / not revoked)', (r) => {
      const revoked = new Set(r.revoked);
      return `${r.paused.filter((p) => revoked.has(p)).length} / ${r.paused.filter((p) => !revoked.has(p)).length}`;
    }),
    row('background work not on (not revoked)', (r) => r.wrongStatus.length),
    row('**cross-user entries**', (r) => r.crossUser.found.length),
    row(
      '— entries checked (on-behalf-of tokens among them)',
      (r) => `${r.crossUser.entries} (${r.crossUser.onBehalfOf})`,
    ),
    row('**max store round trips per acquisition**', (r) => r.roundTrips.max),
    row(
      '— acquisitions (telemetry lines) / max conflicts / over the bound',
      (r) => `${r.roundTrips.acquisitions} / ${r.roundTrips.maxConflicts} / ${r.roundTrips.overBound.length}`,
    ),
    row('**invocations over their store operation bound**', (r) => r.storeOps.overBound.length),
    row(
      '— invocations counted (operations outside any: the checks)',
      (r) => `${r.storeOps.invocations} (${r.storeOps.outside})`,
    ),
    ...functionNames.map((name) =>
      row(`— ${FUNCTION_ROWS[name] ?? name}`, (r) => {
        const ops = r.storeOps.byFunction[name];
        if (!ops) return '';
        if (ops.maxPerPerson !== undefined) {
          return `${ops.maxPerPerson} (${ops.people ?? 0}, ${ops.invocations}) / ${ops.maxConflicts}`;
        }
        return `${ops.maxAcquisitions}, ${ops.maxTokens} + ${ops.maxRecords} / ${ops.maxConflicts}`;
      }),
    ),
    row('slowest call (ms)', (r) => r.slowestCallMs),
    row('final user daemon run (no faults)', (r) => r.finalRun),
    row('run time (s)', (r) => Math.round(r.durationMs / 1000)),
  ];
  const problems = results.flatMap((r) => violations(r).map((v) => `${r.store}: ${v}`));
  return [
    `Command: \`npm run reliability -- --stores=${stores.join(',')} --people=${people} --calls-per-phase=${callsPerPhase} --seed=${seed} --concurrency=${concurrency}\``,
    '',
    `Machine: ${describeMachine()}`,
    '',
    ...stores.map((store) => `- ${NAMES[store]}: ${EMULATORS[store]}`),
    '',
    markdownTable(columns, rows),
    '',
    `Phases, in this order, ${callsPerPhase} calls each (a store kind without the phase skips it):`,
    '',
    markdownTable(
      ['phase', 'simulates', ...stores.map((store) => NAMES[store])],
      PHASES.map((phase) => [phase.name, phase.simulates, ...stores.map((store) => phasesFor(store).includes(phase))]),
    ),
    '',
    problems.length === 0
      ? 'Every invariant held.'
      : ['Invariants that did NOT hold:', ...problems.map((p) => `- ${p}`)].join('\n'),
  ].join('\n');
}

const [table, cosmos, redis] = await Promise.all([
  stores.includes('table') ? startAzuriteTable() : undefined,
  stores.includes('cosmos') ? startCosmosServer() : undefined,
  stores.includes('redis') ? startRedisServer() : undefined,
]);
const results: ReliabilityFigures[] = [];
try {
  for (const store of stores) {
    results.push(
      await runReliability({
        store,
        emulators: { table, cosmos, redis },
        people,
        callsPerPhase,
        seed,
        concurrency,
        progress,
      }),
    );
  }
} finally {
  await Promise.allSettled([table?.close(), cosmos?.close(), redis?.close()]);
}
process.stdout.write(`${args.includes('--json') ? JSON.stringify(results, null, 2) : render(results)}\n`);
process.exitCode = results.some((r) => violations(r).length > 0) ? 1 : 0;
