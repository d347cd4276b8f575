/**
 * Everything the benchmark talks to, started in this process on free loopback ports: Azurite's Table service, the
 * Cosmos DB-compatible server, the local authority and the downstream API (the same code `npm start` and the tests
 * use). Every app gets a fresh client id and tenant and every store a fresh table/container, so figures never mix.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalAuthority, type LocalAuthority } from '../../dev/authority/server.js';
import { startDownstreamApi, type DownstreamApi } from '../../dev/downstream.js';
import { startAzuriteTable, startCosmosServer, type AzuriteTable, type CosmosServer } from '../../dev/emulators.js';
import { embeddedSettings } from '../../dev/settings.js';
import {
  createCosmosStore,
  createMemoryStore,
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

export type BenchStoreKind = 'memory' | 'table' | 'cosmos';

export interface BenchStack {
  readonly table: AzuriteTable;
  readonly cosmos: CosmosServer;
  readonly authority: LocalAuthority;
  readonly downstream: DownstreamApi;
  /** A PEM file with the authority's certificate (AUTH_CA_PATH). */
  readonly caPath: string;
  /** A fresh, empty store of `kind` (own table / container), wrapped to count its operations. */
  newStore(kind: BenchStoreKind): CountingStore;
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

export function suffix(): string {
  return randomBytes(5).toString('hex');
}

export async function startBenchStack(): Promise<BenchStack> {
  const [table, cosmos, authority] = await Promise.all([
    startAzuriteTable(),
    startCosmosServer(),
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

  const newStore = (kind: BenchStoreKind): CountingStore => {
    let store: CacheStore;
    switch (kind) {
      case 'memory':
        store = createMemoryStore();
        break;
      case 'table':
        store = createTableStore({
          connectionString: table.connectionString,
          tableName: `bench${suffix()}`,
          createIfMissing: true,
          allowInsecureConnection: true,
        });
        break;
      case 'cosmos':
        store = createCosmosStore({
          endpoint: cosmos.endpoint,
          key: cosmos.key,
          databaseId: 'bench',
          containerId: `c${suffix()}`,
          createIfMissing: true,
          connectionPolicy: { enableEndpointDiscovery: false },
        });
        break;
    }
    stores.push(store);
    return countingStore(store);
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
    authority,
    downstream,
    caPath,
    newStore,
    settings,
    newApp,
    async close() {
      await Promise.allSettled(stores.map(async (store) => store.close?.()));
      await Promise.allSettled([table.close(), cosmos.close(), authority.close(), downstream.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
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
