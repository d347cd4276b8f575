/**
 * Azure Cosmos DB (NoSQL API) store: one item per partition, in a container partitioned on `/id`.
 *
 * `@azure/cosmos` (and `@azure/identity` when used) is imported on first use, so a cold start only loads the SDK
 * of the configured store. The client is created once and reused.
 */
import type { ConnectionPolicy, Container, CosmosClientOptions, ErrorResponse, SqlParameter } from '@azure/cosmos';
import { encodeCosmosId } from './keys.js';
import {
  DEFAULT_LIST_PAGE_SIZE,
  StoreConflictError,
  StoreCorruptError,
  StoreError,
  StoreTooLargeError,
  defaultAzureCredential,
  deleteFailure,
  importPeer,
  isWriteConflict,
  requireHttps,
  isNetworkError,
  sdkOperations,
  type CacheStore,
  type ListEntry,
  type ListOptions,
  type ListPage,
  type StoreCredential,
  type StoredDocument,
  type WriteOptions,
  timeoutOption,
} from './store.js';
import { lazy } from '../lazy.js';

/**
 * Options of `@azure/cosmos`'s `ConnectionPolicy` passed through (e.g. `enableEndpointDiscovery`,
 * `preferredLocations`, `retryOptions`), typed loosely so the library's types need no `@azure/cosmos` installed.
 */
export type CosmosConnectionPolicy = { readonly [option: string]: unknown };

export interface CosmosStoreOptions {
  /**
   * Account endpoint, e.g. `https://myaccount.documents.azure.com:443/`. Required unless `connectionString` is
   * given. Without `key` (and without `connectionString`), the store signs in with Microsoft Entra ID: `credential`,
   * or `DefaultAzureCredential` from `@azure/identity` when omitted — over `https://` only (refused when created).
   */
  readonly endpoint?: string;
  /** Account key (primary or secondary). Prefer Entra ID in production. */
  readonly key?: string;
  /** `AccountEndpoint=...;AccountKey=...;` — instead of `endpoint` and `key`. */
  readonly connectionString?: string;
  /** Entra ID credential when neither `key` nor `connectionString` is given. @defaultValue `DefaultAzureCredential` */
  readonly credential?: StoreCredential;
  /** @defaultValue {@link DEFAULT_COSMOS_DATABASE_ID} */
  readonly databaseId?: string;
  /** A container partitioned on `/id`. @defaultValue {@link DEFAULT_COSMOS_CONTAINER_ID} */
  readonly containerId?: string;
  /**
   * Create the database and container on first use when they do not exist (partition key path `/id`,
   * `defaultTtl: -1` so that the per-item `ttl` applies). Needs control-plane rights that a data-plane
   * Entra ID role does not give.
   * @defaultValue `false`
   */
  readonly createIfMissing?: boolean;
  /**
   * Passed to the SDK over this store's defaults (`requestTimeout`, `retryOptions`). Emulators need
   * `{ enableEndpointDiscovery: false }`.
   */
  readonly connectionPolicy?: CosmosConnectionPolicy;
  /**
   * Timeout of one HTTP attempt, in ms. @defaultValue {@link DEFAULT_COSMOS_REQUEST_TIMEOUT_MS} (the SDK's own default
   * is 60,000)
   */
  readonly requestTimeoutMs?: number;
  /**
   * Deadline of one store operation including the SDK's retries, in ms. The SDK retries an
   * unreachable endpoint for up to two minutes when endpoint discovery is on; this caps it.
   * @defaultValue {@link DEFAULT_COSMOS_OPERATION_TIMEOUT_MS}
   */
  readonly operationTimeoutMs?: number;
}

/** Default {@link CosmosStoreOptions.databaseId}. */
export const DEFAULT_COSMOS_DATABASE_ID = 'tokencache';
/** Default {@link CosmosStoreOptions.containerId}. */
export const DEFAULT_COSMOS_CONTAINER_ID = 'msal';
/** Default {@link CosmosStoreOptions.requestTimeoutMs}: one HTTP attempt. */
export const DEFAULT_COSMOS_REQUEST_TIMEOUT_MS = 5_000;
/** Default {@link CosmosStoreOptions.operationTimeoutMs}: one store operation, the SDK's retries included. */
export const DEFAULT_COSMOS_OPERATION_TIMEOUT_MS = 10_000;
/** Cosmos DB's item size limit: 2 MB, measured as the UTF-8 length of the item's JSON. */
export const COSMOS_MAX_ITEM_BYTES = 2 * 1024 * 1024;
/**
 * Room for the system properties Cosmos adds to a stored item (`_rid`, `_self`, `_etag`, `_attachments`, `_ts`:
 * about 190 bytes), counted against the limit so an item that fits here fits on the server.
 */
const SYSTEM_PROPERTIES_BYTES = 256;
const STORE = 'Cosmos store';

/** The stored item. `ttl` is in seconds; Cosmos removes the item that long after its last write. */
interface CacheItem {
  id: string;
  key: string;
  data: string;
  updatedAt: string;
  expiresAt?: string;
  ttl?: number;
}

/** As listed: `key` and `_etag` are what an item written by this store has; a foreign item may lack them. */
interface ListRow {
  key?: unknown;
  _etag?: unknown;
  updatedAt?: string;
  expiresAt?: string;
}

/**
 * Creates a Cosmos DB store. Validates the options now; connects on first use (`@azure/cosmos` must be installed;
 * `@azure/identity` too for the default credential).
 *
 * @example
 * ```ts
 * // Managed identity (DefaultAzureCredential) with a Cosmos DB data-plane role; the container exists already:
 * const store = createCosmosStore({ endpoint: 'https://myaccount.documents.azure.com:443/' });
 * // The emulator:
 * const local = createCosmosStore({
 *   connectionString: emulatorConnectionString,
 *   createIfMissing: true,
 *   connectionPolicy: { enableEndpointDiscovery: false },
 * });
 * ```
 */
export function createCosmosStore(options: CosmosStoreOptions): CacheStore {
  const connection = resolveConnection(options);
  const databaseId = options.databaseId ?? DEFAULT_COSMOS_DATABASE_ID;
  const containerId = options.containerId ?? DEFAULT_COSMOS_CONTAINER_ID;
  const operationTimeoutMs = timeoutOption(
    STORE,
    'operationTimeoutMs',
    options.operationTimeoutMs,
    DEFAULT_COSMOS_OPERATION_TIMEOUT_MS,
  );
  const requestTimeoutMs = timeoutOption(
    STORE,
    'requestTimeoutMs',
    options.requestTimeoutMs,
    DEFAULT_COSMOS_REQUEST_TIMEOUT_MS,
  );
  /** The SDK clients not yet disposed: each runs an endpoint-refresh interval until it is. */
  const clients = new Set<{ dispose(): void }>();

  async function connect(): Promise<Container> {
    const { CosmosClient } = await importPeer(STORE, '@azure/cosmos', () => import('@azure/cosmos'));
    const policy = options.connectionPolicy as ConnectionPolicy | undefined;
    const clientOptions: CosmosClientOptions = {
      endpoint: connection.endpoint,
      connectionPolicy: {
        requestTimeout: requestTimeoutMs,
        ...policy,
        // Throttling (429) retries: a few, and never longer than an operation may take.
        retryOptions: {
          maxRetryAttemptCount: 3,
          maxWaitTimeInSeconds: Math.max(1, Math.floor(operationTimeoutMs / 1000)),
          ...policy?.retryOptions,
        },
      },
    };
    if (connection.key !== undefined) clientOptions.key = connection.key;
    else clientOptions.aadCredentials = options.credential ?? (await defaultAzureCredential(STORE));
    const client = new CosmosClient(clientOptions);
    clients.add(client);
    if (!options.createIfMissing) return client.database(databaseId).container(containerId);
    try {
      const abortSignal = AbortSignal.timeout(operationTimeoutMs);
      const { database } = await client.databases.createIfNotExists({ id: databaseId }, { abortSignal });
      const { container } = await database.containers.createIfNotExists(
        { id: containerId, partitionKey: { paths: ['/id'] }, defaultTtl: -1 },
        { abortSignal },
      );
      return container;
    } catch (error) {
      // The next operation sets up a client of its own.
      clients.delete(client);
      client.dispose();
      if (connection.key === undefined && isDataPlaneOnly(error)) {
        throw new StoreError(
          'store_misconfigured',
          `${STORE}: createIfMissing cannot create database "${databaseId}" or container "${containerId}" with a ` +
            'Microsoft Entra ID token (HTTP 403): data-plane roles cannot create them. Create them through the ' +
            'control plane (Bicep, Azure CLI, the portal), or with the account key',
          { cause: error },
        );
      }
      throw error;
    }
  }

  const sdkContainer = lazy(connect);

  /** Runs one operation with the deadline, mapping SDK errors to store errors. */
  const run = sdkOperations(sdkContainer, operationTimeoutMs, `Cosmos DB ${databaseId}/${containerId}`, (error, key) =>
    toStoreError(error, key, `${databaseId}/${containerId}`),
  );

  return {
    kind: 'cosmos',

    async read(partitionKey: string): Promise<StoredDocument | undefined> {
      const id = encodeCosmosId(partitionKey);
      return run(partitionKey, async (container, abortSignal) => {
        // The SDK answers a 404 with an empty response instead of throwing.
        const { resource, substatus } = await container.item(id, id).read<CacheItem>({ abortSignal });
        if (substatus === OWNER_MISSING_SUBSTATUS) throw ownerMissing(partitionKey, `${databaseId}/${containerId}`);
        if (!resource) return undefined;
        const etag = etagOf(resource);
        return { data: dataOf(resource, partitionKey, etag), etag };
      });
    },

    async readIfChanged(partitionKey: string, etag: string): Promise<StoredDocument | 'unchanged' | undefined> {
      const id = encodeCosmosId(partitionKey);
      return run(partitionKey, async (container, abortSignal) => {
        // Real Cosmos answers 304 without a body; @vercel/cosmosdb-server ignores If-None-Match and answers 200.
        const { resource, statusCode, substatus } = await container
          .item(id, id)
          .read<CacheItem>({ abortSignal, accessCondition: { type: 'IfNoneMatch', condition: etag } });
        if (statusCode === 304) return 'unchanged';
        if (substatus === OWNER_MISSING_SUBSTATUS) throw ownerMissing(partitionKey, `${databaseId}/${containerId}`);
        if (!resource) return undefined;
        const current = etagOf(resource);
        if (current === etag) return 'unchanged';
        return { data: dataOf(resource, partitionKey, current), etag: current };
      });
    },

    async write(partitionKey: string, data: Uint8Array, writeOptions: WriteOptions = {}): Promise<string> {
      const id = encodeCosmosId(partitionKey);
      const item = toItem(id, partitionKey, data, writeOptions.expiresAt);
      const size = Buffer.byteLength(JSON.stringify(item), 'utf8') + SYSTEM_PROPERTIES_BYTES;
      if (size > COSMOS_MAX_ITEM_BYTES)
        throw new StoreTooLargeError(partitionKey, size, COSMOS_MAX_ITEM_BYTES, 'bytes');
      const { ifMatch } = writeOptions;
      return run(partitionKey, async (container, abortSignal) => {
        try {
          const response =
            ifMatch === undefined
              ? await container.items.create(item, { abortSignal })
              : await container
                  .item(id, id)
                  .replace(item, { abortSignal, accessCondition: { type: 'IfMatch', condition: ifMatch } });
          return response.resource ? etagOf(response.resource) : response.etag;
        } catch (error) {
          if (isWriteConflict(statusOf(error), !isOwnerMissing(error), ifMatch)) {
            throw StoreConflictError.of(partitionKey, ifMatch, error);
          }
          throw error;
        }
      });
    },

    async delete(partitionKey: string, deleteOptions: { readonly ifMatch?: string } = {}): Promise<boolean> {
      const id = encodeCosmosId(partitionKey);
      const { ifMatch } = deleteOptions;
      return run(partitionKey, async (container, abortSignal) => {
        try {
          await container
            .item(id, id)
            .delete(
              ifMatch === undefined
                ? { abortSignal }
                : { abortSignal, accessCondition: { type: 'IfMatch', condition: ifMatch } },
            );
          return true;
        } catch (error) {
          return deleteFailure(error, statusOf(error), !isOwnerMissing(error), partitionKey, ifMatch);
        }
      });
    },

    async list(listOptions: ListOptions = {}): Promise<ListPage> {
      const { prefix, expiredBefore, pageSize = DEFAULT_LIST_PAGE_SIZE, continuationToken } = listOptions;
      const conditions: string[] = [];
      const parameters: SqlParameter[] = [];
      if (prefix) {
        conditions.push('STARTSWITH(c.key, @prefix)');
        parameters.push({ name: '@prefix', value: prefix });
      }
      if (expiredBefore) {
        // ISO-8601 strings of the same shape compare like the instants they name.
        conditions.push('c.expiresAt < @expiredBefore');
        parameters.push({ name: '@expiredBefore', value: expiredBefore.toISOString() });
      }
      const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
      const query = `SELECT c.key, c._etag, c.updatedAt, c.expiresAt FROM c${where}`;
      return run(undefined, async (container, abortSignal) => {
        const page = await container.items
          .query<ListRow>(
            { query, parameters },
            { maxItemCount: Math.max(1, pageSize), abortSignal, ...(continuationToken ? { continuationToken } : {}) },
          )
          .fetchNext();
        return {
          // An item without a string key or ETag was not written by this store: a sweep could not delete it safely.
          entries: page.resources.flatMap((row): ListEntry[] =>
            typeof row.key !== 'string' || typeof row._etag !== 'string'
              ? []
              : [
                  {
                    partitionKey: row.key,
                    etag: row._etag,
                    ...(row.updatedAt ? { updatedAt: new Date(row.updatedAt) } : {}),
                    ...(row.expiresAt ? { expiresAt: new Date(row.expiresAt) } : {}),
                  },
                ],
          ),
          ...(page.hasMoreResults && page.continuationToken ? { continuationToken: page.continuationToken } : {}),
        };
      });
    },

    close(): Promise<void> {
      for (const client of clients) client.dispose();
      clients.clear();
      sdkContainer.reset();
      return Promise.resolve();
    },
  };
}

function resolveConnection(options: CosmosStoreOptions): { endpoint: string; key?: string } {
  if (options.connectionString !== undefined) {
    if (options.endpoint !== undefined || options.key !== undefined) {
      throw new StoreError(
        'store_misconfigured',
        'Cosmos store: give either connectionString or endpoint (+ key), not both',
      );
    }
    const parts = new Map<string, string>();
    for (const part of options.connectionString.split(';')) {
      const at = part.indexOf('=');
      if (at > 0) parts.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
    }
    const endpoint = parts.get('accountendpoint');
    const key = parts.get('accountkey');
    if (!endpoint || !key) {
      throw new StoreError(
        'store_misconfigured',
        'Cosmos store: connectionString needs AccountEndpoint and AccountKey',
      );
    }
    return { endpoint, key };
  }
  if (!options.endpoint)
    throw new StoreError('store_misconfigured', 'Cosmos store: endpoint or connectionString is required');
  if (options.key !== undefined) return { endpoint: options.endpoint, key: options.key };
  requireHttps(STORE, options.endpoint);
  return { endpoint: options.endpoint };
}

function toItem(id: string, partitionKey: string, data: Uint8Array, expiresAt: Date | undefined): CacheItem {
  const item: CacheItem = {
    id,
    key: partitionKey,
    data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
    updatedAt: new Date().toISOString(),
  };
  if (expiresAt) {
    item.expiresAt = expiresAt.toISOString();
    // Cosmos wants a positive whole number of seconds.
    item.ttl = Math.max(1, Math.ceil((expiresAt.getTime() - Date.now()) / 1000));
  }
  return item;
}

/** The item's bytes; `StoreCorruptError` with the item's ETag when `data` is not a string. */
function dataOf(resource: object, partitionKey: string, etag: string): Uint8Array {
  const { data } = resource as { data?: unknown };
  if (typeof data !== 'string') {
    throw new StoreCorruptError(`cache document for partition "${partitionKey}" lacks its data`, etag);
  }
  return new Uint8Array(Buffer.from(data, 'base64'));
}

function etagOf(resource: object): string {
  const etag = (resource as { _etag?: unknown })._etag;
  if (typeof etag !== 'string') throw new StoreError('store_unavailable', 'Cosmos DB returned an item without _etag');
  return etag;
}

/** The HTTP status of an SDK error (`ErrorResponse.code` is the status, or a string for network errors). */
function statusOf(error: unknown): number | undefined {
  const code = (error as Partial<ErrorResponse> | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Cosmos DB's substatus of a 403 to a control-plane request (a database or container) signed with an Entra ID token. */
const DATA_PLANE_ONLY_SUBSTATUS = 5300;

function isDataPlaneOnly(error: unknown): boolean {
  return statusOf(error) === 403 && (error as Partial<ErrorResponse>).substatus === DATA_PLANE_ONLY_SUBSTATUS;
}

/** Cosmos DB's substatus of a 404 whose database or container does not exist (not just the item). */
const OWNER_MISSING_SUBSTATUS = 1003;

function isOwnerMissing(error: unknown): boolean {
  return statusOf(error) === 404 && (error as Partial<ErrorResponse>).substatus === OWNER_MISSING_SUBSTATUS;
}

function ownerMissing(partitionKey: string | undefined, where: string, cause?: unknown): StoreError {
  const subject =
    partitionKey === undefined ? `Cosmos DB ${where}` : `Cosmos DB ${where} (partition "${partitionKey}")`;
  return new StoreError(
    'store_misconfigured',
    `${subject}: the database or container does not exist (see createIfMissing)`,
    {
      cause,
    },
  );
}

function toStoreError(error: unknown, partitionKey: string | undefined, where: string): StoreError {
  if (error instanceof StoreError) return error;
  const status = statusOf(error);
  const subject =
    partitionKey === undefined ? `Cosmos DB ${where}` : `Cosmos DB ${where} (partition "${partitionKey}")`;
  if (status === 408 || status === 429 || status === 449 || (status !== undefined && status >= 500)) {
    return new StoreError('store_unavailable', `${subject} is unavailable or throttling (HTTP ${status})`, {
      cause: error,
    });
  }
  if (isNetworkError(error)) {
    return new StoreError('store_unavailable', `${subject} could not be reached: ${describe(error)}`, { cause: error });
  }
  if (status === 401 || status === 403) {
    return new StoreError('store_misconfigured', `${subject} refused the credentials (HTTP ${status})`, {
      cause: error,
    });
  }
  // Item-level 404s are handled by each operation: a 404 that gets here is about the database or container.
  // (`@vercel/cosmosdb-server` sends no substatus, so a 404 on replace there reads as a conflict, and the
  // following create reports this.)
  if (status === 404) return ownerMissing(partitionKey, where, error);
  if (isCredentialError(error)) {
    return new StoreError('store_misconfigured', `${subject}: no Entra ID credential: ${describe(error)}`, {
      cause: error,
    });
  }
  return new StoreError('store_unavailable', `${subject} failed: ${describe(error)}`, { cause: error });
}

function isCredentialError(error: unknown): boolean {
  return (
    error instanceof Error && (error.name === 'CredentialUnavailableError' || error.name === 'AuthenticationError')
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
