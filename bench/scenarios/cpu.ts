/**
 * Scenario 3: CPU cost of the plugin with the memory store. Silent client-credentials invocations per second
 * through this library (encryption on), against bare msal-node with ONE shared ConfidentialClientApplication and no
 * persistence, and against the peer (msal-node's DistributedCachePlugin, a new client per call, bench/support/peer.ts)
 * over its own memory store.
 */
import { measuredOn } from '../support/environment.js';
import type { ScenarioResult } from '../support/report.js';
import { scaled } from '../support/config.js';
import { authorityTokenRequests, bareClient, newPeer, quietLogger, type BenchStack } from '../support/stack.js';
import { round, runFor } from '../support/stats.js';

const WARM_UP_MS = scaled(1000, 300);
const ROUND_MS = scaled(2000, 500);
const ROUNDS = 2;
const GOAL = 0.85;

interface Rate {
  count: number;
  ms: number;
}

export interface CpuFigures {
  readonly plugin: { readonly invocationsPerSecond: number; readonly microsecondsPerInvocation: number };
  readonly bareSharedClient: { readonly callsPerSecond: number; readonly microsecondsPerCall: number };
  readonly peer: { readonly callsPerSecond: number; readonly microsecondsPerCall: number };
  readonly ratio: number;
}

export async function cpuScenario(stack: BenchStack): Promise<ScenarioResult> {
  const store = stack.newStore('memory');
  const app = stack.newApp(store);
  const { tokens } = app.runtime;
  const scopes = [...app.runtime.settings.daemons.appScopes];
  const logger = quietLogger();
  let notFromCache = 0;

  const plugin = async () => {
    const outcome = await tokens.acquireTokenByClientCredential({ scopes }, { logger });
    if (!outcome.result.fromCache) notFromCache++;
  };
  const shared = bareClient(app);
  const bare = async () => {
    const result = await shared.acquireTokenByClientCredential({ scopes });
    if (!result?.fromCache) notFromCache++;
  };
  const peerApp = await newPeer(app, stack.newStore('memory'));
  const peer = async () => {
    const result = await peerApp.clientCredential(scopes);
    if (!result.fromCache) notFromCache++;
  };
  const variants = { plugin, bare, peer };

  // First calls go to the authority; not counted.
  for (const run of Object.values(variants)) await run();
  notFromCache = 0;
  for (const run of Object.values(variants)) await runFor(WARM_UP_MS, run);
  const authorityBefore = authorityTokenRequests(stack, app.clientId);
  const readsBefore = store.counts.read;
  const totals: Record<keyof typeof variants, Rate> = {
    plugin: { count: 0, ms: 0 },
    bare: { count: 0, ms: 0 },
    peer: { count: 0, ms: 0 },
  };
  // Alternate the variants so drift (thermal, GC, neighbours) hits all alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of Object.entries(variants) as [keyof typeof variants, () => Promise<void>][]) {
      const { count, elapsedMs } = await runFor(ROUND_MS, run);
      totals[name].count += count;
      totals[name].ms += elapsedMs;
    }
  }
  const perSecond = (rate: Rate) => round((rate.count / rate.ms) * 1000, 0);
  const microseconds = (rate: Rate) => round((rate.ms / rate.count) * 1000, 1);
  const pluginPerSecond = perSecond(totals.plugin);
  const barePerSecond = perSecond(totals.bare);
  const ratio = round(pluginPerSecond / barePerSecond, 3);
  const documentBytes = (await store.inner.read(`${app.clientId}.${app.tenantId}`))?.data.byteLength ?? 0;
  const figures = {
    on: measuredOn('memory'),
    plugin: {
      invocationsPerSecond: pluginPerSecond,
      invocations: totals.plugin.count,
      microsecondsPerInvocation: microseconds(totals.plugin),
      storeReadsPerInvocation: round((store.counts.read - readsBefore) / totals.plugin.count, 3),
    },
    bareSharedClient: {
      callsPerSecond: barePerSecond,
      calls: totals.bare.count,
      microsecondsPerCall: microseconds(totals.bare),
    },
    peer: {
      callsPerSecond: perSecond(totals.peer),
      calls: totals.peer.count,
      microsecondsPerCall: microseconds(totals.peer),
    },
    ratio,
    documentBytes,
    authorityRequestsDuringRun: authorityTokenRequests(stack, app.clientId) - authorityBefore,
    notFromCache,
    warnings: logger.problems.count,
  };
  return {
    id: 'cpu',
    title: '3. CPU cost: silent client credentials per second, memory store, encryption on',
    columns: ['variant', 'per second', 'µs each', 'calls measured'],
    rows: [
      [
        'plugin: this library as the handler calls it (warm tier on)',
        pluginPerSecond,
        figures.plugin.microsecondsPerInvocation,
        totals.plugin.count,
      ],
      [
        'bare msal-node: one shared client, no persistence',
        barePerSecond,
        figures.bareSharedClient.microsecondsPerCall,
        totals.bare.count,
      ],
      [
        'peer: msal-node DistributedCachePlugin, new client per call',
        figures.peer.callsPerSecond,
        figures.peer.microsecondsPerCall,
        totals.peer.count,
      ],
      ['ratio plugin ÷ bare', ratio, undefined, undefined],
      ['ratio plugin ÷ peer', round(pluginPerSecond / figures.peer.callsPerSecond, 3), undefined, undefined],
    ],
    figures,
    goals: [
      {
        goal: 'plugin throughput ÷ bare shared client (CPU, memory store)',
        target: `≥ ${GOAL}×`,
        measured: `${ratio}× (${pluginPerSecond}/s vs ${barePerSecond}/s)`,
        met: ratio >= GOAL,
      },
    ],
    notes: [
      `Sequential loop, ${WARM_UP_MS / 1000} s warm-up each, then ${ROUNDS} alternating rounds of ${ROUND_MS / 1000} s per variant.`,
      'The peer keeps its documents unencrypted in its own memory store; this library opens (decrypts) or revalidates its document on every call.',
      `Every call answered from the cache: ${notFromCache === 0 ? 'yes' : `no (${notFromCache} were not)`}; authority requests during the timed rounds: ${figures.authorityRequestsDuringRun}. App partition ${documentBytes} B sealed.`,
    ],
  };
}
