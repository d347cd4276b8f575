/**
 * Scenario 8: HTTP load on loopback with autocannon against the local host serving the compiled function app
 * (dev/host, `dist/functions`), configured as `npm start` configures it, for `GET /api/me` with bearer tokens of 50
 * users rotating per request. Every user's first request goes to the authority (on-behalf-of); the rest are warm.
 */
import autocannon from 'autocannon';
import { join } from 'node:path';
import { loadRegistrations } from '../../dev/host/load.js';
import { startLocalHost } from '../../dev/host/server.js';
import { installAppRuntime } from '../../app/host/registration.js';
import { createAppRuntime } from '../../app/runtime.js';
import { parseSettings } from '../../app/settings.js';
import { createStores } from '../../app/stores.js';
import { parseKeyRing } from '../../lib/index.js';
import { countingStore, delta, snapshot } from '../../dev/counting-store.js';
import { measuredOn, ROOT, type MeasuredOn } from '../support/environment.js';
import type { Goal, ScenarioResult } from '../support/report.js';
import { authorityTokenRequests, suffix, type BenchApp, type BenchStack } from '../support/stack.js';
import { round } from '../support/stats.js';
import { newCaller } from '../support/users.js';

const USERS = 50;
const CONNECTIONS = 16;
const DURATION_SECONDS = 8;

export interface HttpLoadFigures {
  readonly on: MeasuredOn;
  readonly users: number;
  readonly connections: number;
  readonly seconds: number;
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly latencyMs: { readonly p50: number; readonly p97_5: number; readonly p99: number; readonly max: number };
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly statusCodes: Record<string, number>;
  readonly authorityRequests: number;
  readonly storeReadsPerRequest: number;
  readonly storeWrites: number;
  readonly hostLogProblems: number;
}

async function load(stack: BenchStack, url: string, kind: 'table' | 'cosmos', problems: { count: number }) {
  const overrides: Record<string, string> =
    kind === 'cosmos'
      ? {
          CACHE_STORE: 'cosmos',
          COSMOS_ENDPOINT: stack.cosmos.endpoint,
          COSMOS_KEY: stack.cosmos.key,
          COSMOS_DATABASE: 'bench',
          COSMOS_CONTAINER: `http${suffix()}`,
        }
      : { CACHE_STORE: 'table', TABLE_NAME: `http${suffix()}` };
  const env = stack.settings(overrides);
  Object.assign(process.env, env);
  const settings = parseSettings(env);
  const stores = createStores(settings.cache);
  const store = countingStore(stores.tokens);
  const records = countingStore(stores.records);
  const runtime = createAppRuntime(settings, { stores: { tokens: store, records } });
  installAppRuntime(runtime);
  const app: BenchApp = {
    runtime,
    store,
    records,
    keyRing: parseKeyRing(settings.cache.keys),
    clientId: settings.identity.clientId,
    tenantId: settings.identity.tenantId,
    env,
  };
  const tokens: string[] = [];
  for (let i = 0; i < USERS; i++) tokens.push((await newCaller(stack, app)).assertion);
  // Connect the store before the clock starts, as an instance that served a request before would be.
  await store.inner.read('warm.up');

  const storeBefore = snapshot(store.counts);
  const authorityBefore = authorityTokenRequests(stack, app.clientId);
  const problemsBefore = problems.count;
  let next = 0;
  const result = await autocannon({
    url: `${url}/api/me`,
    connections: CONNECTIONS,
    duration: DURATION_SECONDS,
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => ({
          ...request,
          headers: { ...request.headers, authorization: `Bearer ${tokens[next++ % USERS]!}` },
        }),
      },
    ],
  });
  const ops = delta(store.counts, storeBefore);
  const total = result.requests.total;
  // Requests still in flight when the run stopped reached the handler but are not among the completed ones.
  const sent = Math.max(total, result.requests.sent);
  await store.close?.();
  const figures: HttpLoadFigures = {
    on: measuredOn(kind),
    users: USERS,
    connections: CONNECTIONS,
    seconds: result.duration,
    requests: total,
    requestsPerSecond: round(result.requests.average, 0),
    latencyMs: {
      p50: result.latency.p50,
      p97_5: result.latency.p97_5,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count])),
    authorityRequests: authorityTokenRequests(stack, app.clientId) - authorityBefore,
    storeReadsPerRequest: round(ops.read / Math.max(1, sent), 3),
    storeWrites: ops.write,
    hostLogProblems: problems.count - problemsBefore,
  };
  return figures;
}

export async function httpLoadScenario(stack: BenchStack): Promise<ScenarioResult> {
  const problems = { count: 0 };
  const registrations = await loadRegistrations(join(ROOT, 'dist/functions'));
  const host = await startLocalHost({
    registrations,
    port: 0,
    timers: false,
    log: (level) => {
      if (level === 'warning' || level === 'error') problems.count++;
    },
  });
  const figures: HttpLoadFigures[] = [];
  try {
    for (const kind of ['table', 'cosmos'] as const) figures.push(await load(stack, host.url, kind, problems));
  } finally {
    await host.close();
  }
  const goals: Goal[] = figures.flatMap((f): Goal[] => [
    {
      goal: `HTTP load GET /api/me, ${f.on.store}: errors and non-2xx`,
      target: '0 / 0',
      measured: `${f.errors} / ${f.non2xx}`,
      met: f.errors === 0 && f.non2xx === 0,
    },
    {
      goal: `HTTP load GET /api/me, ${f.on.store}: authority requests (one OBO per user)`,
      target: `${f.users}`,
      measured: `${f.authorityRequests}`,
      met: f.authorityRequests === f.users,
    },
  ]);
  return {
    id: 'httpLoad',
    title: `8. HTTP load: autocannon → local host → GET /api/me, ${USERS} users' tokens rotating, ${CONNECTIONS} connections, ${DURATION_SECONDS} s`,
    columns: [
      'store',
      'requests',
      'req/s',
      'p50 ms',
      'p97.5 ms',
      'p99 ms',
      'errors',
      'non-2xx',
      'authority requests',
      'store reads per req. (first and warm calls mixed)',
      'store writes',
      'warnings',
    ],
    rows: figures.map((f) => [
      f.on.store,
      f.requests,
      f.requestsPerSecond,
      f.latencyMs.p50,
      f.latencyMs.p97_5,
      f.latencyMs.p99,
      f.errors,
      f.non2xx,
      f.authorityRequests,
      f.storeReadsPerRequest,
      f.storeWrites,
      f.hostLogProblems,
    ]),
    figures,
    goals,
    notes: [
      'Everything shares the same cores: autocannon, the host and the functions, the authority, the downstream API and the emulator run in this one process.',
      "Each request: bearer validation (RS256 against the cached JWKS), OBO from the caller's partition, then the downstream API over HTTP (which verifies the token again).",
      `Tokens rotate per request over a shared counter, so the first ${CONNECTIONS} requests go to ${CONNECTIONS} different users.`,
      `Store reads per request mix each user's first call (a read, an authority request and a write) with the warm ones (one revalidating read; on Table one more when the ETag changed), and count the reads of requests still in flight when the run stopped: it is not a per-warm-call figure (scenario 2 has those).`,
    ],
  };
}
