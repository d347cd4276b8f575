/**
 * The function app of this repository with a fault-injecting proxy between it and each thing it talks to over the
 * network that can fail: its store (tokens and records alike) and the identity provider. Everything runs in this
 * process on loopback, but redis-server; the emulators are passed in (the test run's, or the script's own).
 *
 * - Table (Azurite) and Cosmos (the Cosmos server behind the Cosmos stand-in): app → TCP proxy → HTTP proxy →
 *   emulator. The TCP proxy adds latency, resets, black holes and refusal; the HTTP proxy answers 429/503 bursts and
 *   resets a connection after forwarding a request (the store did the work, the app saw a broken connection).
 * - Redis: app → TCP proxy → redis-server.
 * - Identity provider: a local authority of this stack's own, reached through a TCP proxy that passes TLS through
 *   (its metadata and issuer name the proxy); 429/503 bursts come from the authority itself (`failNext`). Browsers
 *   reach its sign-in page directly, on its plain-HTTP listener.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installAppRuntime } from '../../app/host/registration.js';
import { createAppRuntime, type AppRuntime } from '../../app/runtime.js';
import { parseSettings } from '../../app/settings.js';
import { createStores } from '../../app/stores.js';
import { startLocalAuthority, type LocalAuthority } from '../../dev/authority/server.js';
import { countingStore, type CountingStore } from '../../dev/counting-store.js';
import { startDownstreamApi, type DownstreamApi } from '../../dev/downstream.js';
import { freePort } from '../../dev/emulators.js';
import type { HostLog } from '../../dev/host/context.js';
import { loadRegistrations } from '../../dev/host/load.js';
import { startLocalHost, type LocalHost } from '../../dev/host/server.js';
import { startCosmosStandIn } from '../../dev/proxy/cosmos-standin.js';
import { startHttpProxy, type HttpProxy } from '../../dev/proxy/http.js';
import { startTcpProxy, type TcpProxy } from '../../dev/proxy/tcp.js';
import { embeddedSettings } from '../../dev/settings.js';
import { generateKeySetting, parseKeyRing, type CacheStore, type KeyRing } from '../../lib/index.js';
import { invocationTally, type InvocationTally } from './invocations.js';

export type FaultStoreKind = 'table' | 'cosmos' | 'redis';

/** Where the emulators listen (the test run's global setup, or the script's own); only the one used is needed. */
export interface EmulatorAddresses {
  readonly table?: { readonly url: string; readonly connectionString: string };
  readonly cosmos?: { readonly endpoint: string; readonly key: string };
  readonly redis?: { readonly url: string };
}

function emulator<K extends FaultStoreKind>(emulators: EmulatorAddresses, kind: K): NonNullable<EmulatorAddresses[K]> {
  const found = emulators[kind];
  if (!found) throw new Error(`no ${kind} emulator in this run`);
  return found;
}

export interface FaultStackOptions {
  readonly store: FaultStoreKind;
  readonly emulators: EmulatorAddresses;
  /** Draws of the proxies' `fraction` faults. */
  readonly random: () => number;
  /**
   * Seconds an access token stays usable from the cache. msal-node renews a token 300 s before it expires, so the
   * authority issues tokens of 300 s plus this: after this many seconds every acquisition asks the authority again.
   * 0: every acquisition asks the authority.
   */
  readonly cacheSeconds: number;
  /** Every log line of the functions and of the checks, as it is written (besides being kept in `logs`). */
  readonly onLog?: (line: string) => void;
}

/** The store between the app and the emulator: its proxies, and a client that bypasses them (for the checks). */
export interface StorePath {
  readonly tcp: TcpProxy;
  /** The HTTP-aware proxy behind the TCP one (Table and Cosmos only). */
  readonly http: HttpProxy | undefined;
  /** Matches the HTTP paths of the token documents' requests, not the app's records' (Table and Cosmos only). */
  readonly tokenPaths: RegExp | undefined;
}

export interface FaultStack {
  readonly store: FaultStoreKind;
  readonly app: {
    readonly url: string;
    readonly host: LocalHost;
    readonly runtime: AppRuntime;
    /** The token store as the app uses it (through the proxies), counting operations. */
    readonly tokens: CountingStore;
    readonly records: CountingStore;
    /** Both stores' operations, by the invocation they were made for. */
    readonly invocations: InvocationTally;
    readonly clientId: string;
    readonly tenantId: string;
    readonly keyRing: KeyRing;
    /** The app's settings as its `process.env` holds them (its key rings and client secret among them). */
    readonly settings: Readonly<Record<string, string>>;
    /** `level function: message`, every line the functions (and the checks, through `log`) logged. */
    readonly logs: string[];
  };
  /** Writes a line to `app.logs` and `onLog`, as the functions' log does (for code of the run's own, e.g. the checks). */
  readonly log: HostLog;
  readonly authority: LocalAuthority;
  /** The authority's own HTTPS listener, bypassing its proxy (for the checks). */
  readonly authorityDirectUrl: string;
  readonly authorityProxy: TcpProxy;
  readonly storePath: StorePath;
  /** The token store reached directly (no proxy), for the checks. */
  readonly directTokens: CacheStore;
  /** Back to faithful forwarding on every proxy, and no failure armed at the authority. */
  healAll(): Promise<void>;
  close(): Promise<void>;
}

const hostPort = (url: string) => {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port) };
};

async function startStorePath(
  options: FaultStackOptions,
): Promise<Omit<StorePath, 'tokenPaths'> & { readonly target: string }> {
  const { emulators, random } = options;
  switch (options.store) {
    case 'table': {
      const { url } = emulator(emulators, 'table');
      const http = await startHttpProxy({ target: new URL(url).origin, random });
      const tcp = await startTcpProxy({ target: { host: http.host, port: http.port }, random });
      return { tcp, http, target: url };
    }
    case 'cosmos': {
      const { endpoint } = emulator(emulators, 'cosmos');
      const http = await startCosmosStandIn({ target: endpoint, random });
      const tcp = await startTcpProxy({ target: { host: http.host, port: http.port }, random });
      return { tcp, http, target: endpoint };
    }
    case 'redis': {
      const { url } = emulator(emulators, 'redis');
      const tcp = await startTcpProxy({ target: hostPort(url), random });
      return { tcp, http: undefined, target: url };
    }
  }
}

/** The store settings of the app, for the store at `origin` (the proxy's, or the emulator's for the checks). */
function storeSettings(
  kind: FaultStoreKind,
  emulators: EmulatorAddresses,
  origin: string,
  names: string,
): Record<string, string> {
  switch (kind) {
    case 'table': {
      const table = emulator(emulators, 'table');
      const endpoint = `${origin}${new URL(table.url).pathname}`;
      return {
        CACHE_STORE: 'table',
        TABLE_CONNECTION_STRING: table.connectionString.replace(/TableEndpoint=[^;]+/, `TableEndpoint=${endpoint}`),
        TABLE_NAME: names,
        TABLE_RECORDS_NAME: `${names}records`,
      };
    }
    case 'cosmos':
      return {
        CACHE_STORE: 'cosmos',
        COSMOS_ENDPOINT: origin,
        COSMOS_KEY: emulator(emulators, 'cosmos').key,
        COSMOS_DATABASE: names,
        COSMOS_CONTAINER: 'msal',
        COSMOS_RECORDS_CONTAINER: 'records',
      };
    case 'redis':
      return {
        CACHE_STORE: 'redis',
        REDIS_URL: origin.replace(/^http:/, 'redis:'),
        REDIS_KEY_PREFIX: `${names}:`,
        REDIS_RECORDS_KEY_PREFIX: `${names}records:`,
      };
  }
}

export async function startFaultStack(options: FaultStackOptions): Promise<FaultStack> {
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer().catch(() => undefined);
  };
  try {
    const accessTokenSeconds = options.cacheSeconds > 0 ? 300 + options.cacheSeconds : 240;
    const authorityPort = await freePort();
    const authorityProxy = await startTcpProxy({
      target: { host: '127.0.0.1', port: authorityPort },
      random: options.random,
    });
    closers.push(() => authorityProxy.close());
    const authority = await startLocalAuthority({
      port: authorityPort,
      publicUrl: `https://${authorityProxy.address}`,
      browserPort: 0,
      accessTokenLifetimeSeconds: accessTokenSeconds,
      // The app declares Continuous Access Evaluation (cp1): its tokens get the CAE lifetime.
      caeAccessTokenLifetimeSeconds: accessTokenSeconds,
    });
    closers.push(() => authority.close());
    const downstream: DownstreamApi = await startDownstreamApi({
      jwks: authority.jwks,
      issuers: (iss) => iss.startsWith(`${authority.url}/`),
      audience: ['https://graph.microsoft.com'],
    });
    closers.push(() => downstream.close());

    const storePath = await startStorePath(options);
    closers.push(() => storePath.tcp.close());
    if (storePath.http) closers.push(() => storePath.http!.close());

    const logs: string[] = [];
    const invocations = invocationTally();
    const log: HostLog = (level, name, message) => {
      // Within the invocation that logs it (the functions log synchronously): its acquisitions' telemetry.
      invocations.logged(message);
      const line = `${level} ${name}: ${message}`;
      logs.push(line);
      options.onLog?.(line);
    };
    const registrations = await loadRegistrations(
      join(import.meta.dirname, '../../functions'),
      import.meta.url.endsWith('.ts') ? '.ts' : '.js',
    );
    const host = await startLocalHost({
      registrations,
      port: 0,
      timers: false,
      log,
    });
    closers.push(() => host.close());

    const dir = mkdtempSync(join(tmpdir(), 'reliability-'));
    closers.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    const caPath = join(dir, 'authority-ca.pem');
    writeFileSync(caPath, authority.ca);
    const tenantId = randomUUID();
    const clientId = randomUUID();
    const names = `rel${randomBytes(5).toString('hex')}`;
    const env = {
      ...embeddedSettings({
        authorityUrl: authority.url,
        authorityCaPath: caPath,
        // Replaced by the store's own settings below.
        tableConnectionString: options.emulators.table?.connectionString ?? '',
        downstreamUrl: downstream.url,
        appUrl: host.url,
        cacheKeys: generateKeySetting('r1'),
        sessionKeys: generateKeySetting('s1'),
        tenantId,
        clientId,
      }),
      ...storeSettings(options.store, options.emulators, `http://${storePath.tcp.address}`, names),
    };
    Object.assign(process.env, env);
    const settings = parseSettings(env);
    const stores = createStores(settings.cache);
    const tokens = countingStore(stores.tokens, invocations.tokens);
    const records = countingStore(stores.records, invocations.records);
    const runtime = createAppRuntime(settings, { stores: { tokens, records } });
    installAppRuntime(runtime);
    closers.push(async () => {
      installAppRuntime(undefined);
      await runtime.close();
    });
    const directOrigin = options.store === 'table' ? new URL(storePath.target).origin : storePath.target;
    const direct = createStores(
      parseSettings({ ...env, ...storeSettings(options.store, options.emulators, directOrigin, names) }).cache,
    );
    closers.push(() => Promise.all([direct.tokens.close?.(), direct.records.close?.()]));

    const { http } = storePath;
    return {
      store: options.store,
      app: {
        url: host.url,
        host,
        runtime,
        tokens,
        records,
        invocations,
        clientId,
        tenantId,
        keyRing: parseKeyRing(settings.cache.keys),
        settings: env,
        logs,
      },
      log,
      authority,
      authorityDirectUrl: `https://127.0.0.1:${authorityPort}`,
      authorityProxy,
      storePath: {
        tcp: storePath.tcp,
        http,
        // `/devstoreaccount1/{table}(PartitionKey=…)` — the records table is `{table}records`; Cosmos: its container.
        tokenPaths: { table: new RegExp(`/${names}\\(`), cosmos: /\/colls\/msal\//, redis: undefined }[options.store],
      },
      directTokens: direct.tokens,
      healAll: async () => {
        authority.failNext(0, 503, undefined, clientId);
        await Promise.all([authorityProxy.pass(), storePath.tcp.pass(), http?.pass()]);
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
