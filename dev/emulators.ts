/**
 * Emulators for local runs, tests and benchmarks: Azurite's Table service and `@vercel/cosmosdb-server` (a Cosmos
 * DB NoSQL API server), both in process and dev dependencies, and a real `redis-server` as a child process (a
 * Debian package: `apt-get install redis-server`). Import this file only from dev, test and bench code.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { requireEntraIdTokens } from './cosmos-entra-id.js';
import { answerIfNoneMatch, prepareConditionalReads } from './cosmos-if-none-match.js';

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
/** The Cosmos DB emulator's well-known key (public); `@vercel/cosmosdb-server` accepts any key. */
export const COSMOS_EMULATOR_KEY =
  'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

export interface AzuriteTable {
  /** Table endpoint, `http://127.0.0.1:PORT/devstoreaccount1` (`https://` with {@link AzuriteTableOptions.entraId}). */
  readonly url: string;
  readonly accountName: string;
  readonly accountKey: string;
  /** A connection string for `TableClient.fromConnectionString` (needs `allowInsecureConnection`: it is http). */
  readonly connectionString: string;
  close(): Promise<void>;
}

export interface AzuriteTableOptions {
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default 0: a free port. */
  readonly port?: number;
  /** Folder to persist the tables in (created when missing). Default: in memory, gone on close. */
  readonly location?: string;
  /**
   * Serve https with this certificate and key (PEM), and accept Microsoft Entra ID bearer tokens as Azurite's
   * `--oauth basic` does: it checks a token's issuer (an Entra ID `https://sts.windows.net/...` one), audience (the
   * storage audiences), `nbf` and `exp`, not its signature. Shared keys keep working. Default: http, keys only.
   */
  readonly entraId?: { readonly cert: string; readonly key: string };
}

/** Starts Azurite's Table service in this process. */
export async function startAzuriteTable(options: AzuriteTableOptions = {}): Promise<AzuriteTable> {
  // Deep CommonJS imports: the package's main entry is the VS Code extension (it imports `vscode`).
  const require = createRequire(import.meta.url);
  const { default: TableServer } =
    require('azurite/dist/src/table/TableServer') as typeof import('azurite/dist/src/table/TableServer');
  const { default: TableConfiguration } =
    require('azurite/dist/src/table/TableConfiguration') as typeof import('azurite/dist/src/table/TableConfiguration');

  const inMemory = options.location === undefined;
  let dbPath: string;
  if (options.location === undefined) {
    // Never read: with in-memory persistence LokiJS keeps the database in memory. A unique name still avoids
    // picking up a stray `__azurite_db_table__.json` in the working folder.
    dbPath = join(tmpdir(), `azurite-table-${randomUUID()}.json`);
  } else {
    await mkdir(options.location, { recursive: true });
    // Azurite's metadata store is one LokiJS file (autosaved every 5 s and on close).
    dbPath = join(resolve(options.location), '__azurite_db_table__.json');
  }
  // Azurite reads the certificate and key from files: written for it, removed once it has started.
  const tls = options.entraId && (await writeTlsFiles(options.entraId));
  const configuration = new TableConfiguration(
    options.host ?? '127.0.0.1',
    options.port ?? 0,
    undefined, // keep-alive timeout: Azurite's default
    dbPath,
    false, // debug log
    false, // access log
    undefined,
    undefined,
    false, // loose
    true, // skipApiVersionCheck: newer SDKs send API versions Azurite does not list yet
    tls?.certPath ?? '',
    tls?.keyPath ?? '',
    '',
    tls ? 'basic' : undefined, // OAuth level
    false, // disableProductStyleUrl
    inMemory,
  );
  const server = await (async () => {
    try {
      const started = new TableServer(configuration);
      await started.start();
      return started;
    } finally {
      await tls?.remove();
    }
  })();
  const url = `${server.getHttpServerAddress()}/${AZURITE_ACCOUNT_NAME}`;
  let closed: Promise<void> | undefined;
  return {
    url,
    accountName: AZURITE_ACCOUNT_NAME,
    accountKey: AZURITE_ACCOUNT_KEY,
    connectionString:
      `DefaultEndpointsProtocol=${tls ? 'https' : 'http'};AccountName=${AZURITE_ACCOUNT_NAME};AccountKey=${AZURITE_ACCOUNT_KEY};` +
      `TableEndpoint=${url};`,
    close: () => (closed ??= server.close()),
  };
}

export interface CosmosServer {
  /** `http://127.0.0.1:PORT` (`https://` with {@link CosmosServerOptions.entraId}) — connect with `connectionPolicy: { enableEndpointDiscovery: false }`. */
  readonly endpoint: string;
  readonly key: string;
  close(): Promise<void>;
}

export interface CosmosServerOptions {
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default 0: a free port. */
  readonly port?: number;
  /**
   * Answer a point read whose `If-None-Match` lists the item's `_etag` 304 without a body, as Azure Cosmos DB does
   * (dev/cosmos-if-none-match.ts). Default `false`: the package's own behaviour, 200 with the item.
   */
  readonly answerIfNoneMatch?: boolean;
  /**
   * Serve https with this certificate and key (PEM), and check Microsoft Entra ID tokens as the service does, as far as
   * their claims go; key-signed requests are served, anything else is refused (dev/cosmos-entra-id.ts). Default: http,
   * and no credentials checked at all.
   */
  readonly entraId?: { readonly cert: string; readonly key: string };
}

/** The PEM files Azurite reads at start, in a folder of their own that only this user can read. */
async function writeTlsFiles(pems: { readonly cert: string; readonly key: string }) {
  const folder = await mkdtemp(join(tmpdir(), 'azurite-tls-'));
  const certPath = join(folder, 'cert.pem');
  const keyPath = join(folder, 'key.pem');
  await writeFile(certPath, pems.cert, { mode: 0o600 });
  await writeFile(keyPath, pems.key, { mode: 0o600 });
  return { certPath, keyPath, remove: () => rm(folder, { recursive: true, force: true }) };
}

/** Starts `@vercel/cosmosdb-server` over http (or https) in this process. Data lives in memory only. */
export async function startCosmosServer(options: CosmosServerOptions = {}): Promise<CosmosServer> {
  prepareConditionalReads();
  const { createHttpServer, createHttpsServer } = await import('@vercel/cosmosdb-server');
  const { entraId } = options;
  // keepAlive makes it about 4x faster: the SDK reuses connections.
  const server = entraId
    ? createHttpsServer({ keepAlive: true, cert: entraId.cert, key: entraId.key })
    : createHttpServer({ keepAlive: true });
  if (options.answerIfNoneMatch) answerIfNoneMatch(server);
  const host = options.host ?? '127.0.0.1';
  const endpoint = () =>
    `${entraId ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${(server.address() as AddressInfo).port}`;
  if (entraId) requireEntraIdTokens(server, endpoint);
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  let closed: Promise<void> | undefined;
  return {
    endpoint: endpoint(),
    key: COSMOS_EMULATOR_KEY,
    close: () =>
      (closed ??= new Promise<void>((resolveClose, reject) => {
        server.close((error) => (error ? reject(error) : resolveClose()));
        // Idle keep-alive sockets would hold close() open until they time out.
        server.closeAllConnections();
      })),
  };
}

export interface RedisServer {
  /** `redis://127.0.0.1:PORT` — no password, no persistence. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface RedisServerOptions {
  /** Default: a free port. */
  readonly port?: number;
}

/**
 * Starts a `redis-server` child process on loopback, with nothing persisted (`--save '' --appendonly no`), and
 * waits until it answers PING. It is killed on `close()`, and when this process exits.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = await findRedisServer();
  // A free port can be taken by someone else before redis-server binds it: try again on another.
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await spawnRedisServer(binary, port);
    } catch (error) {
      if (options.port !== undefined || attempt >= 3) throw error;
    }
  }
}

async function findRedisServer(): Promise<string> {
  const candidates = [
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, 'redis-server')),
    '/usr/bin/redis-server',
  ];
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not there
    }
  }
  throw new Error('redis-server is not installed (on PATH or /usr/bin): apt-get install redis-server');
}

/** A port on 127.0.0.1 that was free a moment ago (someone else may take it before it is used). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
  return port;
}

async function spawnRedisServer(binary: string, port: number): Promise<RedisServer> {
  const child = spawn(
    binary,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      tmpdir(),
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4_000);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };

  const deadline = Date.now() + 10_000;
  while (!(await answersPing(port))) {
    if (spawnError || child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server on port ${port} did not start: ${spawnError?.message ?? output.trim()}`, {
        cause: spawnError,
      });
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 25));
  }
  let closed: Promise<void> | undefined;
  return { url: `redis://127.0.0.1:${port}`, port, close: () => (closed ??= stop()) };
}

/** Sends an inline PING; true on `+PONG`. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolvePing) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolvePing(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}
