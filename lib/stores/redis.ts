/**
 * Redis store — Azure Managed Redis, Azure Cache for Redis, or any Redis 6.0 or newer — over the `redis` client
 * (node-redis), imported on first use; one connection per store, created once and reused.
 *
 * Layout. Every key of a store shares one hash tag, `{keyPrefix}`, so they live in one hash slot and one Lua script
 * may touch all of them (the listing script also reaches document keys it finds in the index, not declared in KEYS:
 * allowed because they share the slot), also on a clustered database behind a single endpoint (Azure Managed Redis
 * with the Enterprise cluster policy). The OSS cluster policy needs a cluster-aware client, which this store is not:
 * its MOVED redirections are reported as `misconfigured`. The price of one slot: a store's data lives on one shard;
 * use several prefixes to spread. Commands are those of Redis 6.0 (ZRANGEBYLEX, not ZRANGE … BYLEX of 6.2).
 * - `{keyPrefix}d:{partitionKey}` — a hash per document: `data` (the bytes), `etag`, `key` (the partition key),
 *   `updatedAt` and `expiresAt` (epoch ms). Redis keys are binary-safe: the partition key is used as it is.
 * - `{keyPrefix}keys` — a sorted set of every partition key (all scores 0, so ordered by bytes): the listing index.
 * - `{keyPrefix}expiry` — a sorted set of the partition keys that have an `expiresAt`, scored by it.
 *
 * Why an index rather than SCAN: SCAN walks the whole keyspace for every prefix listing (the user daemon lists the
 * small `bg.` range often), may return a key twice, and returns batches of any size, so a page could not honour
 * `pageSize` without losing keys. The sorted sets give exact pages, a stable cursor (the last key listed: keys added
 * or removed while paging never shift the others) and a cheap `expiredBefore` listing. Writes, deletes and listings
 * are each one Lua script, so a document and its index entries change together.
 *
 * Native expiry: a document with `expiresAt` gets `PEXPIREAT max(expiresAt, now + minTtlMs)`. Redis then removes the
 * hash but not its index entries; those are dropped lazily — a few per write (from the head of the expiry index)
 * and every stale entry a listing steps over. The index sets have no TTL: under an `allkeys-*` maxmemory policy
 * Redis could evict them, so use a `volatile-*` policy (Azure's default, volatile-lru) or `noeviction`.
 */
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { RedisClientOptions } from 'redis';
import { assertValidPartitionKey } from './keys.js';
import { entraIdCredentials } from './redis/entra.js';
import { SCRIPTS, type LuaScript } from './redis/scripts.js';
import {
  DEFAULT_LIST_PAGE_SIZE,
  StoreConflictError,
  StoreCorruptError,
  StoreError,
  StoreTooLargeError,
  defaultAzureCredential,
  importPeer,
  isNetworkError,
  withDeadline,
  type CacheStore,
  type ListEntry,
  type ListOptions,
  type ListPage,
  type StoreCredential,
  type StoredDocument,
  type WriteOptions,
  timeoutOption,
} from './store.js';

export interface RedisStoreOptions {
  /**
   * `redis://host:6379[/db]` or, with TLS, `rediss://host:port[/db]` (Azure Cache for Redis: port 6380; Azure
   * Managed Redis: port 10000). A user name and password in the URL are used when `username` / `password` are not
   * given.
   */
  readonly url: string;
  /** The access key, or the ACL user's password. Without a password (here or in the URL), see `credential`. */
  readonly password?: string;
  /**
   * With a password: the ACL user (Redis's default: `default`). With Microsoft Entra ID: the object id of the
   * identity the token is for; default: the `oid` claim of the access token itself (the object id of the managed
   * identity or service principal), so it rarely needs setting.
   */
  readonly username?: string;
  /**
   * Signs in with Microsoft Entra ID when no password is configured. Used by default (as `DefaultAzureCredential`
   * from `@azure/identity`) when the URL's host is an Azure Redis host (`*.redis.cache.windows.net`,
   * `*.redis.azure.net`, `*.redisenterprise.cache.azure.net`). The access token is the password; it is renewed
   * before it expires and sent with `AUTH` on the open connection, which Azure requires to keep the connection.
   */
  readonly credential?: StoreCredential;
  /** Scope of the Entra ID token. @defaultValue `https://redis.azure.com/.default` (Azure's public cloud) */
  readonly tokenScope?: string;
  /** Start of every key of this store, wrapped in a hash tag (see the file comment). @defaultValue `msalcache:` */
  readonly keyPrefix?: string;
  /** Largest document accepted, in bytes (Redis allows 512 MB). @defaultValue 2 MiB, Cosmos DB's limit */
  readonly maxDocumentBytes?: number;
  /**
   * Timeout of a connection attempt (TCP, TLS and handshake), in ms.
   * @defaultValue {@link DEFAULT_REDIS_CONNECT_TIMEOUT_MS}
   */
  readonly connectTimeoutMs?: number;
  /**
   * Deadline of one store operation, including connecting, in ms. @defaultValue {@link DEFAULT_REDIS_OPERATION_TIMEOUT_MS}
   */
  readonly operationTimeoutMs?: number;
  /**
   * Shortest native lifetime of a written document, in ms. Redis deletes a key whose `PEXPIREAT`
   * is already past at once, so a document written with an `expiresAt` in the past (or just ahead, with clock skew
   * between instances) would vanish before its writer reads it back. (Cosmos DB has the same floor: `ttl` ≥ 1 s.)
   * @defaultValue {@link DEFAULT_REDIS_MIN_TTL_MS}
   */
  readonly minTtlMs?: number;
}

/** Default {@link RedisStoreOptions.maxDocumentBytes}: 2 MiB. */
export const DEFAULT_REDIS_MAX_DOCUMENT_BYTES = 2 * 1024 * 1024;
/** Default {@link RedisStoreOptions.keyPrefix}. */
export const DEFAULT_REDIS_KEY_PREFIX = 'msalcache:';
/** Default {@link RedisStoreOptions.connectTimeoutMs}: one connection attempt, handshake included. */
export const DEFAULT_REDIS_CONNECT_TIMEOUT_MS = 5_000;
/** Default {@link RedisStoreOptions.operationTimeoutMs}: one store operation, connecting included. */
export const DEFAULT_REDIS_OPERATION_TIMEOUT_MS = 5_000;
/** Default {@link RedisStoreOptions.minTtlMs}: the shortest native lifetime of a written document. */
export const DEFAULT_REDIS_MIN_TTL_MS = 60_000;
/** Default {@link RedisStoreOptions.tokenScope}. */
export const REDIS_ENTRA_SCOPE = 'https://redis.azure.com/.default';

/** Azure Cache for Redis, Azure Managed Redis, Azure Cache for Redis Enterprise (public cloud). */
const AZURE_REDIS_HOST = /\.(?:redis\.cache\.windows\.net|redis\.azure\.net|redisenterprise\.cache\.azure\.net)$/i;
/** Most entries a listing returns per page, and least it examines: keeps each listing script short. */
const LIST_MAX_PAGE_SIZE = 1_000;
/** Reconnection attempts after a connection that was up is lost, before the client is dropped (≈ 30 s). */
const MAX_RECONNECT_ATTEMPTS = 20;
const STORE = 'Redis store';

/** True for the host names of Azure's Redis services, where the store signs in with Entra ID by default. */
export function isAzureRedisHost(host: string): boolean {
  return AZURE_REDIS_HOST.test(host);
}

// ---- the client, as this store uses it --------------------------------------------------------------------------

type RedisModule = typeof import('redis');

/** The few members of the node-redis client this store uses (it is a large generic type). */
interface RedisConnection {
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
  sendCommand(
    args: ReadonlyArray<string | Buffer>,
    options?: { typeMapping?: object; abortSignal?: AbortSignal },
  ): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

interface Connection {
  readonly client: RedisConnection;
  readonly redis: RedisModule;
  /** The last error the client reported (its commands fail with uninformative "client is offline" meanwhile). */
  lastError?: Error;
}

/**
 * Creates a Redis store. Validates the options now; connects on first use (`redis` must be installed;
 * `@azure/identity` too for Entra ID sign-in without a `credential`).
 *
 * @example
 * ```ts
 * // Azure Managed Redis, signing in with managed identity (DefaultAzureCredential):
 * const store = createRedisStore({ url: 'rediss://mycache.westeurope.redis.azure.net:10000' });
 * // A local redis-server:
 * const local = createRedisStore({ url: 'redis://127.0.0.1:6379' });
 * ```
 */
export function createRedisStore(options: RedisStoreOptions): CacheStore {
  const endpoint = parseEndpoint(options.url);
  const keyPrefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
  if (keyPrefix.length === 0 || /[{}]/.test(keyPrefix)) {
    throw new StoreError(
      'store_misconfigured',
      `Redis store: keyPrefix "${keyPrefix}" must be non-empty, without { or }`,
    );
  }
  const maxDocumentBytes = positive(options.maxDocumentBytes, DEFAULT_REDIS_MAX_DOCUMENT_BYTES, 'maxDocumentBytes');
  const connectTimeoutMs = timeoutOption(
    STORE,
    'connectTimeoutMs',
    options.connectTimeoutMs,
    DEFAULT_REDIS_CONNECT_TIMEOUT_MS,
  );
  const operationTimeoutMs = timeoutOption(
    STORE,
    'operationTimeoutMs',
    options.operationTimeoutMs,
    DEFAULT_REDIS_OPERATION_TIMEOUT_MS,
  );
  const minTtlMs = positive(options.minTtlMs, DEFAULT_REDIS_MIN_TTL_MS, 'minTtlMs');
  const password = options.password ?? endpoint.password;
  const username = options.username ?? endpoint.username;
  const entraId = password === undefined && (options.credential !== undefined || isAzureRedisHost(endpoint.host));
  if (entraId && isAzureRedisHost(endpoint.host) && !endpoint.tls) {
    throw new StoreError(
      'store_misconfigured',
      `Redis store: ${endpoint.host} takes Entra ID sign-in over TLS only: use rediss://`,
    );
  }

  const tag = `{${keyPrefix}}`;
  const documentPrefix = `${tag}d:`;
  const indexKey = `${tag}keys`;
  const expiryKey = `${tag}expiry`;
  const target = `Redis ${endpoint.host}:${endpoint.port}`;
  let connectionPromise: Promise<Connection> | undefined;
  let current: Connection | undefined;
  /** The client module once loaded, for its error classes (also for errors of a connection that never opened). */
  let redisModule: RedisModule | undefined;

  async function connect(): Promise<Connection> {
    const redis = (redisModule = await importPeer(STORE, 'redis', () => import('redis')));
    let ready = false;
    const clientOptions: RedisClientOptions = {
      url: endpoint.url,
      // Commands sent while the connection is down fail at once ("The client is offline") instead of waiting in
      // a queue for a reconnection that may never come.
      disableOfflineQueue: true,
      socket: {
        // node-redis sends no server name (SNI) over TLS unless given one; TLS front ends route and pick their
        // certificate by it.
        ...(endpoint.tls ? { tls: true as const, ...(isIP(endpoint.host) ? {} : { servername: endpoint.host }) } : {}),
        connectTimeout: connectTimeoutMs,
        // The first connection is tried once (the caller is waiting; the next operation tries again). A connection
        // that was up is re-established in the background with backoff, then given up (the next operation starts a
        // new client). The client's default retries forever.
        reconnectStrategy: (retries) =>
          ready && retries < MAX_RECONNECT_ATTEMPTS ? Math.min(100 * 2 ** retries, 2_000) : false,
      },
      // No command timeout (0; node-redis 6 defaults to 5 s): node-redis makes it an AbortSignal.timeout per command,
      // which cannot be cleared, so every command left a timer that fired (and built a DOMException) seconds after its
      // reply. Each command gets its operation's deadline signal instead (see run()).
      commandOptions: { timeout: 0 },
    };
    if (entraId) {
      clientOptions.credentialsProvider = entraIdCredentials(
        options.credential ?? (await defaultAzureCredential(STORE)),
        options.tokenScope ?? REDIS_ENTRA_SCOPE,
        username,
        connectTimeoutMs,
      );
    } else if (password !== undefined) {
      clientOptions.password = password;
      if (username !== undefined) clientOptions.username = username;
    }
    const client: RedisConnection = redis.createClient(clientOptions);
    const connection: Connection = { client, redis };
    // Without a listener, an 'error' event (emitted on every failed (re)connection) would crash the process.
    client.on('error', (error) => {
      connection.lastError = error;
    });
    try {
      await withDeadline(connectTimeoutMs, target, () => client.connect());
    } catch (error) {
      client.destroy();
      throw error;
    }
    ready = true;
    return connection;
  }

  function getConnection(): Promise<Connection> {
    // A client that gave up reconnecting is closed for good: start another.
    if (current && !current.client.isOpen) drop(current);
    connectionPromise ??= connect().then(
      (connection) => (current = connection),
      (error: unknown) => {
        connectionPromise = undefined; // retry on the next call
        throw error;
      },
    );
    return connectionPromise;
  }

  function drop(connection: Connection): void {
    if (current === connection) {
      current = undefined;
      connectionPromise = undefined;
    }
    connection.client.destroy();
  }

  /** Runs one operation with the deadline, mapping client errors to store errors. */
  async function run<T>(
    partitionKey: string | undefined,
    operation: (connection: Connection, abortSignal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    let used: Connection | undefined;
    let deadline: AbortSignal | undefined;
    try {
      return await withDeadline(operationTimeoutMs, target, async (abortSignal) => {
        deadline = abortSignal;
        // An open connection is used at once: the command is then sent (and its write scheduled) in the caller's
        // synchronous step, before any work the caller does while it waits (see WhileWaiting).
        used = current?.client.isOpen ? current : await getConnection();
        return operation(used, abortSignal);
      });
    } catch (error) {
      // node-redis's command timeout and abort signal only apply before a command is written; a written command
      // waits for its reply forever. A connection that let a deadline pass is dropped, so that a server that stopped
      // answering does not hold every later command too; the next operation connects anew.
      if (deadline?.aborted && used) drop(used);
      throw toStoreError(error, partitionKey, target, redisModule, used?.lastError);
    }
  }

  async function evalScript(
    connection: Connection,
    script: LuaScript,
    keys: readonly string[],
    args: ReadonlyArray<string | Buffer>,
    abortSignal: AbortSignal,
  ): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    const commandOptions = { typeMapping: { [connection.redis.RESP_TYPES.BLOB_STRING]: Buffer }, abortSignal };
    try {
      return await connection.client.sendCommand(['EVALSHA', script.sha1, ...tail], commandOptions);
    } catch (error) {
      // The server's script cache is empty after a restart or failover: send the script itself once.
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
      return connection.client.sendCommand(['EVAL', script.source, ...tail], commandOptions);
    }
  }

  const documentKey = (partitionKey: string) => documentPrefix + partitionKey;

  return {
    kind: 'redis',
    sendsInImmediate: true,

    async read(partitionKey: string): Promise<StoredDocument | undefined> {
      assertValidPartitionKey(partitionKey);
      return run(partitionKey, async (connection, abortSignal) => {
        const reply = await connection.client.sendCommand(['HMGET', documentKey(partitionKey), 'data', 'etag'], {
          typeMapping: { [connection.redis.RESP_TYPES.BLOB_STRING]: Buffer },
          abortSignal,
        });
        const [data, etag] = Array.isArray(reply) ? (reply as unknown[]) : [];
        if (etag === null || etag === undefined) return undefined;
        if (!Buffer.isBuffer(data) || !Buffer.isBuffer(etag)) {
          throw new StoreCorruptError(
            `cache document for partition "${partitionKey}" lacks its data or ETag`,
            Buffer.isBuffer(etag) ? etag.toString('utf8') : undefined,
          );
        }
        // A copy: the reply may be a view of a larger buffer.
        return { data: new Uint8Array(data), etag: etag.toString('utf8') };
      });
    },

    async readVersion(partitionKey: string): Promise<string | undefined> {
      assertValidPartitionKey(partitionKey);
      return run(partitionKey, async (connection, abortSignal) => {
        // The version field alone: one HGET, cheaper than the conditional read's script.
        const reply = await connection.client.sendCommand(['HGET', documentKey(partitionKey), 'etag'], { abortSignal });
        if (reply === null || reply === undefined) return undefined;
        if (typeof reply !== 'string')
          throw new StoreCorruptError(`${target} answered HGET with an unexpected reply`, undefined);
        return reply;
      });
    },

    async readIfChanged(partitionKey: string, etag: string): Promise<StoredDocument | 'unchanged' | undefined> {
      assertValidPartitionKey(partitionKey);
      return run(partitionKey, async (connection, abortSignal) => {
        const reply = await evalScript(
          connection,
          SCRIPTS.readIfChanged,
          [documentKey(partitionKey)],
          [etag],
          abortSignal,
        );
        if (reply === null || reply === undefined) return undefined;
        const parts = Array.isArray(reply) ? (reply as unknown[]) : [];
        const [current, data] = parts;
        if (!Buffer.isBuffer(current))
          throw new StoreCorruptError(`${target} answered a read with an unexpected reply`, undefined);
        if (parts.length === 1) return 'unchanged';
        if (!Buffer.isBuffer(data)) {
          throw new StoreCorruptError(
            `cache document for partition "${partitionKey}" lacks its data`,
            current.toString('utf8'),
          );
        }
        return { data: new Uint8Array(data), etag: current.toString('utf8') };
      });
    },

    async write(partitionKey: string, data: Uint8Array, writeOptions: WriteOptions = {}): Promise<string> {
      assertValidPartitionKey(partitionKey);
      if (data.byteLength > maxDocumentBytes) {
        throw new StoreTooLargeError(partitionKey, data.byteLength, maxDocumentBytes, 'bytes');
      }
      const { ifMatch, expiresAt } = writeOptions;
      const etag = randomUUID();
      return run(partitionKey, async (connection, abortSignal) => {
        const written = await evalScript(
          connection,
          SCRIPTS.write,
          [documentKey(partitionKey), indexKey, expiryKey],
          [
            ifMatch ?? '',
            etag,
            Buffer.from(data), // a copy: the caller may reuse its buffer before the command is written
            partitionKey,
            String(Date.now()),
            expiresAt ? String(expiresAt.getTime()) : '',
            String(minTtlMs),
            documentPrefix,
          ],
          abortSignal,
        );
        if (written !== 1) throw StoreConflictError.of(partitionKey, ifMatch);
        return etag;
      });
    },

    async delete(partitionKey: string, deleteOptions: { readonly ifMatch?: string } = {}): Promise<boolean> {
      assertValidPartitionKey(partitionKey);
      const { ifMatch } = deleteOptions;
      return run(partitionKey, async (connection, abortSignal) => {
        const outcome = await evalScript(
          connection,
          SCRIPTS.delete,
          [documentKey(partitionKey), indexKey, expiryKey],
          [ifMatch ?? '', partitionKey],
          abortSignal,
        );
        if (outcome === -1) throw StoreConflictError.of(partitionKey, ifMatch);
        return outcome === 1;
      });
    },

    async list(listOptions: ListOptions = {}): Promise<ListPage> {
      const { prefix = '', expiredBefore, continuationToken } = listOptions;
      const pageSize = Math.min(
        LIST_MAX_PAGE_SIZE,
        Math.max(1, Math.floor(listOptions.pageSize ?? DEFAULT_LIST_PAGE_SIZE)),
      );
      // With a prefix the key index narrows the walk best; without one, expired documents come from the expiry index.
      const mode = expiredBefore && !prefix ? 'e' : 'k';
      const cursor = continuationToken === undefined ? undefined : parseCursor(continuationToken, mode);
      return run(undefined, async (connection, abortSignal) => {
        const reply = await evalScript(
          connection,
          SCRIPTS.list,
          [indexKey, expiryKey],
          [
            documentPrefix,
            mode,
            String(pageSize),
            String(Math.max(pageSize, LIST_MAX_PAGE_SIZE)),
            prefix,
            expiredBefore ? String(expiredBefore.getTime()) : '',
            cursor?.key ?? '',
            cursor?.mode === 'e' ? cursor.score : '',
          ],
          abortSignal,
        );
        if (!Array.isArray(reply) || reply.length < 2 || (reply.length - 2) % 4 !== 0) {
          throw new StoreCorruptError(`${target} answered a listing with an unexpected reply`, undefined);
        }
        const text = (value: unknown) => (Buffer.isBuffer(value) ? value.toString('utf8') : String(value));
        const time = (value: unknown) => {
          const ms = Number(text(value));
          return text(value) !== '' && Number.isFinite(ms) ? new Date(ms) : undefined;
        };
        const entries: ListEntry[] = [];
        for (let i = 2; i < reply.length; i += 4) {
          const updatedAt = time(reply[i + 2]);
          const expiresAt = time(reply[i + 3]);
          entries.push({
            partitionKey: text(reply[i]),
            etag: text(reply[i + 1]),
            ...(updatedAt ? { updatedAt } : {}),
            ...(expiresAt ? { expiresAt } : {}),
          });
        }
        const nextKey = text(reply[0]);
        if (nextKey === '') return { entries };
        const next: Cursor = mode === 'e' ? { mode, key: nextKey, score: text(reply[1]) } : { mode, key: nextKey };
        return { entries, continuationToken: Buffer.from(JSON.stringify(next)).toString('base64url') };
      });
    },

    async close(): Promise<void> {
      const pending = connectionPromise;
      connectionPromise = undefined;
      current = undefined;
      const connection = await pending?.catch(() => undefined);
      if (!connection) return;
      // close() waits for the replies of commands in flight, which a stuck server never sends.
      let timer: NodeJS.Timeout | undefined;
      const closed = await Promise.race([
        connection.client.close().then(
          () => true,
          () => false,
        ),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 1_000))),
      ]);
      clearTimeout(timer);
      if (!closed) connection.client.destroy();
    },
  };
}

// ---- options ----------------------------------------------------------------------------------------------------

interface Endpoint {
  /** The URL without user name and password (node-redis lets URL credentials override explicit ones). */
  readonly url: string;
  readonly host: string;
  readonly port: string;
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
}

function parseEndpoint(url: string): Endpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StoreError('store_misconfigured', 'Redis store: url must be a redis:// or rediss:// URL');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new StoreError(
      'store_misconfigured',
      `Redis store: url must be redis:// or rediss://, not ${parsed.protocol}//`,
    );
  }
  if (!parsed.hostname) throw new StoreError('store_misconfigured', 'Redis store: url has no host');
  const username = parsed.username ? decodeUserInfo(parsed.username, 'user name') : undefined;
  const password = parsed.password ? decodeUserInfo(parsed.password, 'password') : undefined;
  parsed.username = '';
  parsed.password = '';
  return {
    url: parsed.toString(),
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port || '6379',
    tls: parsed.protocol === 'rediss:',
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
  };
}

/** Decodes the user name or password of the URL; the message names which, never its value. */
function decodeUserInfo(value: string, what: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new StoreError('store_misconfigured', `Redis store: url has a malformed percent-escape in its ${what}`);
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new StoreError('store_misconfigured', `Redis store: ${name} must be a positive number, got ${value}`);
  }
  return value;
}

// ---- listing cursor ---------------------------------------------------------------------------------------------

type Cursor =
  { readonly mode: 'k'; readonly key: string } | { readonly mode: 'e'; readonly key: string; readonly score: string };

function parseCursor(token: string, mode: 'k' | 'e'): Cursor {
  let cursor: unknown;
  try {
    cursor = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    cursor = undefined;
  }
  const { mode: tokenMode, key, score } = (cursor ?? {}) as { mode?: unknown; key?: unknown; score?: unknown };
  if (tokenMode !== mode || typeof key !== 'string' || key === '') {
    throw new StoreError(
      'invalid_options',
      'Redis store: continuationToken is malformed or from a listing with other options',
    );
  }
  if (mode === 'k') return { mode, key };
  if (typeof score !== 'string' || !/^-?\d+(?:\.\d+)?$/.test(score)) {
    throw new StoreError('invalid_options', 'Redis store: continuationToken is malformed');
  }
  return { mode, key, score };
}

// ---- errors -----------------------------------------------------------------------------------------------------

/** Server error replies that mean "not now" (loading, failover, busy script, out of memory). */
const TRANSIENT_REPLY = /^(?:LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY|OOM)\b/;
/** Server error replies about the credentials or permissions. */
const AUTH_REPLY = /^(?:WRONGPASS|NOAUTH|NOPERM)\b|^ERR AUTH\b|invalid username-password/i;
/** Server error replies of a clustered database without a single proxy endpoint (OSS cluster policy). */
const CLUSTER_REPLY = /^(?:MOVED|ASK|CROSSSLOT)\b/;
/** TLS failures that retrying will not fix. */
const TLS_ERROR = /^(?:ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/;

function toStoreError(
  error: unknown,
  partitionKey: string | undefined,
  target: string,
  redis: RedisModule | undefined,
  lastError: Error | undefined,
): StoreError {
  if (error instanceof StoreError) return error;
  const subject = partitionKey === undefined ? target : `${target} (partition "${partitionKey}")`;
  const message = describe(error);
  if (redis && error instanceof redis.ErrorReply) {
    if (AUTH_REPLY.test(message)) {
      return new StoreError('store_misconfigured', `${subject} refused the credentials: ${message}`, { cause: error });
    }
    if (CLUSTER_REPLY.test(message)) {
      return new StoreError(
        'store_misconfigured',
        `${subject} is a cluster that redirects (${message}): use a single endpoint (Azure: the Enterprise cluster policy)`,
        { cause: error },
      );
    }
    if (TRANSIENT_REPLY.test(message)) {
      return new StoreError('store_unavailable', `${subject} is unavailable: ${message}`, { cause: error });
    }
    return new StoreError('store_unavailable', `${subject} answered an error: ${message}`, { cause: error });
  }
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && TLS_ERROR.test(code)) {
    return new StoreError('store_misconfigured', `${subject}: TLS failed: ${message}`, { cause: error });
  }
  if (
    isNetworkError(error) ||
    (redis &&
      (error instanceof redis.ConnectionTimeoutError ||
        error instanceof redis.SocketTimeoutError ||
        error instanceof redis.SocketClosedUnexpectedlyError ||
        error instanceof redis.ClientOfflineError ||
        error instanceof redis.ClientClosedError ||
        error instanceof redis.DisconnectsClientError ||
        error instanceof redis.ReconnectStrategyError ||
        error instanceof redis.TimeoutError))
  ) {
    const why = lastError && lastError !== error ? ` (last error: ${lastError.message})` : '';
    return new StoreError('store_unavailable', `${subject} could not be reached: ${message}${why}`, { cause: error });
  }
  if (error instanceof Error && (error.name === 'CredentialUnavailableError' || error.name === 'AuthenticationError')) {
    return new StoreError('store_misconfigured', `${subject}: no Entra ID credential: ${message}`, { cause: error });
  }
  return new StoreError('store_unavailable', `${subject} failed: ${describe(error)}`, { cause: error });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
