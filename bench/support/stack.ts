/**
 * Everything the benchmark talks to, started in this process on free loopback ports: Azurite's Table service, the
 * Cosmos DB-compatible server, the local authority and the downstream API (the same code `npm start` and the tests
 * use). Every app gets a fresh client id and tenant and every store a fresh table/container, so figures never mix.
 */
import { ConfidentialClientApplication } from '@azure/msal-node';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalAuthority, type LocalAuthority } from '../../dev/authority/server.js';
import { startDownstreamApi, type DownstreamApi } from '../../dev/downstream.js';
import {
  startAzuriteTable,
  startCosmosServer,
  startRedisServer,
  type AzuriteTable,
  type CosmosServer,
  type RedisServer,
} from '../../dev/emulators.js';
import { DEV_CLIENT_SECRET, embeddedSettings } from '../../dev/settings.js';
import {
  createCosmosStore,
  createMemoryStore,
  createRedisStore,
  createTableStore,
  generateKeySetting,
  parseKeyRing,
  type CacheStore,
  type KeyRing,
  type TokenCacheLogger,
} from '../../lib/index.js';
import { createAppRuntime, type AppRuntime } from '../../app/runtime.js';
import { parseSettings } from '../../app/settings.js';
import { countingStore, type CountingStore } from '../../dev/counting-store.js';
import { startTcpProxy } from '../../dev/proxy/tcp.js';
import { PeerApp, storeCacheClient } from './peer.js';

export type BenchStoreKind = 'memory' | 'table' | 'cosmos' | 'redis';

/** The library's store factories: this build's, or another build's of the same layout. */
export interface StoreFactories {
  readonly createMemoryStore: typeof createMemoryStore;
  readonly createTableStore: typeof createTableStore;
  readonly createCosmosStore: typeof createCosmosStore;
  readonly createRedisStore: typeof createRedisStore;
}

const THIS_BUILD: StoreFactories = { createMemoryStore, createTableStore, createCosmosStore, createRedisStore };

export interface BenchStack {
  readonly table: AzuriteTable;
  readonly cosmos: CosmosServer;
  /** undefined when redis-server is not installed: the Redis rows are then skipped with a note. */
  readonly redis: RedisServer | undefined;
  /** Why there is no Redis in this run (redis-server missing), when there is none. */
  readonly redisMissing: string | undefined;
  readonly authority: LocalAuthority;
  readonly downstream: DownstreamApi;
  /** A PEM file with the authority's certificate (AUTH_CA_PATH). */
  readonly caPath: string;
  /** A fresh, empty store of `kind` (own table / container), wrapped to count its operations. */
  newStore(kind: BenchStoreKind): CountingStore;
  /** The same, made by the store factories of another build of this library (`npm run bench:ab`). */
  newStoreOf(factories: StoreFactories, kind: BenchStoreKind): CountingStore;
  /**
   * A loopback TCP proxy in front of the emulator of `kind` adding `eachWayMs` to every chunk each way (dev/proxy/tcp.ts),
   * and a maker of fresh stores (as `newStore`) that reach the emulator through it.
   */
  storeBehindProxy(kind: 'table' | 'cosmos' | 'redis', eachWayMs: number): Promise<() => CountingStore>;
  /**
   * Stores on a second Cosmos DB server of this process, one that answers an If-None-Match point read of an
   * unchanged item 304 without a body, as Azure Cosmos DB does (dev/cosmos-if-none-match.ts; the run's own server
   * ignores If-None-Match, as the package does). Started on first call.
   */
  cosmosAnsweringIfNoneMatch(): Promise<() => CountingStore>;
  /** The settings of an app with its own client id and tenant (what `npm start` sets, against this stack). */
  settings(overrides?: Record<string, string>): Record<string, string>;
  /**
   * A function-app runtime as the functions build it, over `store` (its tokens) and `records` (its opt-ins and
   * cursor; default a fresh store of the same kind).
   */
  newApp(store: CountingStore, overrides?: Record<string, string>, records?: CountingStore): BenchApp;
  close(): Promise<void>;
}

export interface BenchApp {
  readonly runtime: AppRuntime;
  readonly store: CountingStore;
  readonly records: CountingStore;
  /** The cache key ring (to open stored documents and measure them). */
  readonly keyRing: KeyRing;
  readonly clientId: string;
  readonly tenantId: string;
  readonly env: Record<string, string>;
}

/**
 * The peer (msal-node's DistributedCachePlugin, see peer.ts) as the same app registration as `app` — same client
 * id, tenant, secret and network client — over its own `store` (same store class and emulator as `app`'s, its own
 * table or container, so the two never share a document).
 */
export async function newPeer(app: BenchApp, store: CountingStore): Promise<PeerApp> {
  const { tokens } = app.runtime;
  const url = `${tokens.authority}/v2.0/.well-known/openid-configuration`;
  const metadata = await tokens.networkClient.sendGetRequestAsync<Record<string, unknown>>(url);
  if (metadata.status !== 200) throw new Error(`authority metadata answered HTTP ${metadata.status}`);
  return new PeerApp({
    clientId: app.clientId,
    tenantId: app.tenantId,
    authority: tokens.authority,
    clientSecret: DEV_CLIENT_SECRET,
    authorityMetadata: JSON.stringify(metadata.body),
    networkClient: tokens.networkClient,
    cacheClient: storeCacheClient(store),
  });
}

export function suffix(): string {
  return randomBytes(5).toString('hex');
}

export async function startBenchStack(): Promise<BenchStack> {
  let redisMissing: string | undefined;
  const [table, cosmos, redis, authority] = await Promise.all([
    startAzuriteTable(),
    startCosmosServer(),
    startRedisServer().catch((error: unknown) => {
      redisMissing = error instanceof Error ? error.message : String(error);
      return undefined;
    }),
    startLocalAuthority(),
  ]);
  const downstream = await startDownstreamApi({
    jwks: authority.jwks,
    issuers: (iss) => iss.startsWith(`${authority.url}/`),
    criticalEvents: authority.cae,
    audience: ['https://graph.microsoft.com'],
  });
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  const caPath = join(dir, 'authority-ca.pem');
  writeFileSync(caPath, authority.ca);
  const stores: CacheStore[] = [];

  const proxies: { close(): Promise<void> }[] = [];
  let answering: Promise<CosmosServer> | undefined;
  /** `via`: the emulator's address is replaced by this one (a proxy in front of it). */
  const newStore = (
    kind: BenchStoreKind,
    via?: { readonly host: string; readonly port: number },
    factories: StoreFactories = THIS_BUILD,
  ): CountingStore => {
    const through = (url: string) => {
      if (!via) return url;
      const parsed = new URL(url);
      parsed.host = `${via.host}:${via.port}`;
      return parsed.toString().replace(/\/$/, '');
    };
    let store: CacheStore;
    switch (kind) {
      case 'memory':
        store = factories.createMemoryStore();
        break;
      case 'table':
        store = factories.createTableStore({
          connectionString: table.connectionString.replace(table.url, through(table.url)),
          tableName: `bench${suffix()}`,
          createIfMissing: true,
          allowInsecureConnection: true,
        });
        break;
      case 'cosmos':
        store = factories.createCosmosStore({
          endpoint: through(cosmos.endpoint),
          key: cosmos.key,
          databaseId: 'bench',
          containerId: `c${suffix()}`,
          createIfMissing: true,
          connectionPolicy: { enableEndpointDiscovery: false },
        });
        break;
      case 'redis':
        if (!redis) throw new Error(`no Redis in this run: ${redisMissing}`);
        store = factories.createRedisStore({ url: through(redis.url), keyPrefix: `bench${suffix()}:` });
        break;
    }
    stores.push(store);
    return countingStore(store);
  };

  const emulatorAddress = (kind: 'table' | 'cosmos' | 'redis') => {
    const url = kind === 'table' ? table.url : kind === 'cosmos' ? cosmos.endpoint : redis?.url;
    if (!url) throw new Error(`no Redis in this run: ${redisMissing}`);
    const { hostname, port } = new URL(url);
    return { host: hostname, port: Number(port) };
  };

  const settings = (overrides: Record<string, string> = {}): Record<string, string> => ({
    ...embeddedSettings({
      authorityUrl: authority.url,
      authorityCaPath: caPath,
      tableConnectionString: table.connectionString,
      tableName: `app${suffix()}`,
      downstreamUrl: downstream.url,
      appUrl: 'http://127.0.0.1:7071',
      cacheKeys: generateKeySetting('b1'),
      sessionKeys: generateKeySetting('s1'),
      tenantId: randomUUID(),
      clientId: randomUUID(),
    }),
    ...overrides,
  });

  const newApp = (
    store: CountingStore,
    overrides: Record<string, string> = {},
    records: CountingStore = newStore(store.kind as BenchStoreKind),
  ): BenchApp => {
    // The stores are passed in (wrapped to count), so the configured kind only has to parse.
    const env = settings({ CACHE_STORE: 'memory', ...overrides });
    const runtime = createAppRuntime(parseSettings(env), { stores: { tokens: store, records }, logger: quietLogger() });
    return {
      runtime,
      store,
      records,
      keyRing: parseKeyRing(env.CACHE_KEYS!),
      clientId: runtime.tokens.clientId,
      tenantId: runtime.tokens.tenantId,
      env,
    };
  };

  return {
    table,
    cosmos,
    redis,
    redisMissing,
    authority,
    downstream,
    caPath,
    newStore: (kind) => newStore(kind),
    newStoreOf: (factories, kind) => newStore(kind, undefined, factories),
    async storeBehindProxy(kind, eachWayMs) {
      const proxy = await startTcpProxy({
        target: emulatorAddress(kind),
        latency: { toTargetMs: eachWayMs, toClientMs: eachWayMs },
      });
      proxies.push(proxy);
      return () => newStore(kind, proxy);
    },
    async cosmosAnsweringIfNoneMatch() {
      answering ??= startCosmosServer({ answerIfNoneMatch: true });
      const { hostname, port } = new URL((await answering).endpoint);
      return () => newStore('cosmos', { host: hostname, port: Number(port) });
    },
    settings,
    newApp,
    async close() {
      await Promise.allSettled(stores.map(async (store) => store.close?.()));
      await Promise.allSettled(proxies.map((proxy) => proxy.close()));
      await Promise.allSettled([
        table.close(),
        cosmos.close(),
        answering?.then((server) => server.close()),
        redis?.close(),
        authority.close(),
        downstream.close(),
      ]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Bare msal-node as its docs show it, for comparison: ONE client for the process, with its in-memory cache only, of
 * `app`'s registration, over the same network client.
 */
export function bareClient(app: BenchApp): ConfidentialClientApplication {
  const { tokens } = app.runtime;
  return new ConfidentialClientApplication({
    auth: {
      clientId: app.clientId,
      authority: tokens.authority,
      clientSecret: DEV_CLIENT_SECRET,
      knownAuthorities: [new URL(tokens.authority).host],
    },
    system: { networkClient: tokens.networkClient },
  });
}

/** Token requests the authority has answered for `clientId` (every grant). */
export function authorityTokenRequests(stack: BenchStack, clientId: string): number {
  return stack.authority.requests(clientId).token;
}

/** A logger that drops routine lines but counts warnings and errors (a benchmark run should have none). */
export interface QuietLogger extends TokenCacheLogger {
  /** Warnings and errors logged. */
  readonly problems: { count: number; readonly first: string[] };
}

export function quietLogger(): QuietLogger {
  const problems = { count: 0, first: [] as string[] };
  const keep =
    (level: string) =>
    (...args: unknown[]) => {
      problems.count++;
      if (problems.first.length < 5) problems.first.push(`${level}: ${args.map(String).join(' ').slice(0, 300)}`);
    };
  return { problems, info: () => undefined, warn: keep('warn'), error: keep('error') };
}
