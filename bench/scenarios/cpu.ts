/**
 * Scenario 3: CPU cost of the plugin with the memory store. Silent client-credentials invocations per second with
 * a new client + plugin per invocation (encryption on: every invocation opens the sealed document), against bare
 * msal-node with ONE shared ConfidentialClientApplication and no persistence.
 */
import { ConfidentialClientApplication } from '@azure/msal-node';
import { DEV_CLIENT_SECRET } from '../../dev/settings.js';
import { measuredOn } from '../support/environment.js';
import type { ScenarioResult } from '../support/report.js';
import { authorityTokenRequests, quietLogger, type BenchStack } from '../support/stack.js';
import { round, runFor } from '../support/stats.js';

const WARM_UP_MS = 1000;
const ROUND_MS = 2000;
const ROUNDS = 2;
const GOAL = 0.4;

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
  // Bare msal-node as its docs show it: one client for the process, its in-memory cache only.
  const shared = new ConfidentialClientApplication({
    auth: {
      clientId: app.clientId,
      authority: tokens.authority,
      clientSecret: DEV_CLIENT_SECRET,
      knownAuthorities: [new URL(tokens.authority).host],
    },
    system: { networkClient: tokens.networkClient },
  });
  const bare = async () => {
    const result = await shared.acquireTokenByClientCredential({ scopes });
    if (!result?.fromCache) notFromCache++;
  };

  // First calls go to the authority; not counted.
  await plugin();
  await bare();
  notFromCache = 0;
  await runFor(WARM_UP_MS, plugin);
  await runFor(WARM_UP_MS, bare);
  const authorityBefore = authorityTokenRequests(stack, app.clientId);
  const readsBefore = store.counts.read;
  const totals = { plugin: { count: 0, ms: 0 }, bare: { count: 0, ms: 0 } };
  // Alternate the two so drift (thermal, GC, neighbours) hits both alike.
  for (let round = 0; round < ROUNDS; round++) {
    const a = await runFor(ROUND_MS, plugin);
    totals.plugin.count += a.count;
    totals.plugin.ms += a.elapsedMs;
    const b = await runFor(ROUND_MS, bare);
    totals.bare.count += b.count;
    totals.bare.ms += b.elapsedMs;
  }
  const pluginPerSecond = round((totals.plugin.count / totals.plugin.ms) * 1000, 0);
  const barePerSecond = round((totals.bare.count / totals.bare.ms) * 1000, 0);
  const ratio = round(pluginPerSecond / barePerSecond, 3);
  const documentBytes = (await store.inner.read(`${app.clientId}.${app.tenantId}`))?.data.byteLength ?? 0;
  const figures = {
    on: measuredOn('memory'),
    plugin: {
      invocationsPerSecond: pluginPerSecond,
      invocations: totals.plugin.count,
      microsecondsPerInvocation: round((totals.plugin.ms / totals.plugin.count) * 1000, 1),
      storeReadsPerInvocation: round((store.counts.read - readsBefore) / totals.plugin.count, 3),
    },
    bareSharedClient: {
      callsPerSecond: barePerSecond,
      calls: totals.bare.count,
      microsecondsPerCall: round((totals.bare.ms / totals.bare.count) * 1000, 1),
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
        'plugin: new client + plugin per invocation',
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
      ['ratio plugin ÷ bare', ratio, undefined, undefined],
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
      `Every call answered from the cache: ${notFromCache === 0 ? 'yes' : `no (${notFromCache} were not)`}; authority requests during the timed rounds: ${figures.authorityRequestsDuringRun}. App partition ${documentBytes} B sealed.`,
    ],
  };
}
