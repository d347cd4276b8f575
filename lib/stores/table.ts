/**
 * Azure Table storage store: one entity per partition (PartitionKey = encoded key, RowKey = `cache`), the bytes
 * split over binary properties `d0, d1, …` of at most 64 KiB each.
 *
 * `@azure/data-tables` (and `@azure/identity` when used) is imported on first use; the client is created once.
 */
import type { TableClient, TableEntity, TableEntityResult, TableServiceClientOptions } from '@azure/data-tables';
import { TABLE_KEY_MAX_LENGTH, encodeKey, encodedPrefixRange } from './keys.js';
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

export interface TableStoreOptions {
  /** A storage connection string (account key or SAS). Alternative to `accountUrl`. */
  readonly connectionString?: string;
  /**
   * Table endpoint, e.g. `https://myaccount.table.core.windows.net` (Azurite: `http://127.0.0.1:10002/devstoreaccount1`).
   * Signs in with `accountName` + `accountKey` when both are given, otherwise with Microsoft Entra ID: `credential`,
   * or `DefaultAzureCredential` from `@azure/identity` when omitted — over `https://` only (refused when created).
   */
  readonly accountUrl?: string;
  readonly accountName?: string;
  readonly accountKey?: string;
  /** Entra ID credential for `accountUrl`. @defaultValue `DefaultAzureCredential` */
  readonly credential?: StoreCredential;
  /** 3–63 letters and digits, starting with a letter. @defaultValue {@link DEFAULT_TABLE_NAME} */
  readonly tableName?: string;
  /** Create the table on first use when it does not exist. @defaultValue `false` */
  readonly createIfMissing?: boolean;
  /**
   * Allow `http://` endpoints. @defaultValue `true` for a loopback endpoint (Azurite on 127.0.0.1, localhost, ::1),
   * `false` otherwise
   */
  readonly allowInsecureConnection?: boolean;
  /**
   * Timeout of one HTTP attempt, in ms. An attempt that times out is not retried (the SDK's retry policy does not
   * retry its own timeout): a server that stops answering fails the operation after this long.
   * @defaultValue {@link DEFAULT_TABLE_REQUEST_TIMEOUT_MS}
   */
  readonly requestTimeoutMs?: number;
  /**
   * Retries of a failed attempt (throttling, 5xx, refused or reset connections; not a timed-out attempt).
   * @defaultValue {@link DEFAULT_TABLE_MAX_RETRIES}
   */
  readonly maxRetries?: number;
  /**
   * Deadline of one store operation including retries, in ms. @defaultValue {@link DEFAULT_TABLE_OPERATION_TIMEOUT_MS}
   */
  readonly operationTimeoutMs?: number;
}

/** Default {@link TableStoreOptions.tableName}. */
export const DEFAULT_TABLE_NAME = 'msalcache';
/** Default {@link TableStoreOptions.requestTimeoutMs}: one HTTP attempt (the SDK has no timeout of its own). */
export const DEFAULT_TABLE_REQUEST_TIMEOUT_MS = 5_000;
/** Default {@link TableStoreOptions.maxRetries}. */
export const DEFAULT_TABLE_MAX_RETRIES = 2;
/** Default {@link TableStoreOptions.operationTimeoutMs}: one store operation, retries included. */
export const DEFAULT_TABLE_OPERATION_TIMEOUT_MS = 10_000;
/** Azure Table storage's entity limit: 1 MiB, counted as the service counts it (keys, property names and values). */
export const TABLE_MAX_ENTITY_BYTES = 1024 * 1024;
/** Azure Table storage's limit for one binary property. */
export const TABLE_MAX_BINARY_PROPERTY_BYTES = 64 * 1024;
const ROW_KEY = 'cache';
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9]{2,62}$/;
const STORE = 'Table store';

const loadTables = () => importPeer(STORE, '@azure/data-tables', () => import('@azure/data-tables'));

type PipelinePolicy = NonNullable<TableServiceClientOptions['additionalPolicies']>[number]['policy'];

/** The entity as written: the metadata, then `chunks` binary properties `d0…`. */
interface CacheEntity extends TableEntity {
  key: string;
  updatedAt: Date;
  expiresAt?: Date;
  chunks: number;
  [chunk: `d${number}`]: Uint8Array;
}

/**
 * Creates an Azure Table storage store. Validates the options now; connects on first use (`@azure/data-tables` must
 * be installed; `@azure/identity` too for the default credential).
 *
 * @example
 * ```ts
 * // Managed identity (DefaultAzureCredential) with the "Storage Table Data Contributor" role:
 * const store = createTableStore({ accountUrl: 'https://myaccount.table.core.windows.net' });
 * // Azurite, or an account key:
 * const local = createTableStore({ connectionString: 'UseDevelopmentStorage=true', createIfMissing: true });
 * ```
 */
export function createTableStore(options: TableStoreOptions): CacheStore {
  const tableName = options.tableName ?? DEFAULT_TABLE_NAME;
  if (!TABLE_NAME.test(tableName)) {
    throw new StoreError(
      'store_misconfigured',
      `Table store: tableName "${tableName}" must be 3-63 letters and digits, starting with a letter`,
    );
  }
  const usesConnectionString = options.connectionString !== undefined;
  if (usesConnectionString === (options.accountUrl !== undefined)) {
    throw new StoreError('store_misconfigured', 'Table store: give exactly one of connectionString or accountUrl');
  }
  if ((options.accountName === undefined) !== (options.accountKey === undefined)) {
    throw new StoreError('store_misconfigured', 'Table store: accountName and accountKey go together');
  }
  if (options.accountUrl !== undefined && options.accountKey === undefined) requireHttps(STORE, options.accountUrl);
  const operationTimeoutMs = timeoutOption(
    STORE,
    'operationTimeoutMs',
    options.operationTimeoutMs,
    DEFAULT_TABLE_OPERATION_TIMEOUT_MS,
  );
  const requestTimeoutMs = timeoutOption(
    STORE,
    'requestTimeoutMs',
    options.requestTimeoutMs,
    DEFAULT_TABLE_REQUEST_TIMEOUT_MS,
  );

  async function connect(): Promise<TableClient> {
    const tables = await loadTables();
    const clientOptions: TableServiceClientOptions = {
      allowInsecureConnection: options.allowInsecureConnection ?? isLoopback(endpointOf(options)),
      retryOptions: {
        maxRetries: options.maxRetries ?? DEFAULT_TABLE_MAX_RETRIES,
        retryDelayInMs: 200,
        maxRetryDelayInMs: 2_000,
      },
      additionalPolicies: [
        {
          policy: attemptTimeoutPolicy(requestTimeoutMs),
          position: 'perRetry',
        },
      ],
    };
    let client: TableClient;
    if (options.connectionString !== undefined) {
      client = tables.TableClient.fromConnectionString(options.connectionString, tableName, clientOptions);
    } else {
      const url = options.accountUrl ?? '';
      if (options.accountName !== undefined && options.accountKey !== undefined) {
        const credential = new tables.AzureNamedKeyCredential(options.accountName, options.accountKey);
        client = new tables.TableClient(url, tableName, credential, clientOptions);
      } else {
        const credential = options.credential ?? (await defaultAzureCredential(STORE));
        client = new tables.TableClient(url, tableName, credential, clientOptions);
      }
    }
    if (options.createIfMissing) await client.createTable({ abortSignal: AbortSignal.timeout(operationTimeoutMs) });
    return client;
  }

  const sdkClient = lazy(connect);

  /** Runs one operation with the deadline, mapping SDK errors to store errors. */
  const run = sdkOperations(sdkClient, operationTimeoutMs, `Table "${tableName}"`, (error, key) =>
    toStoreError(error, key, tableName),
  );

  return {
    kind: 'table',

    async read(partitionKey: string): Promise<StoredDocument | undefined> {
      const encoded = encodeKey(partitionKey, TABLE_KEY_MAX_LENGTH);
      return run(partitionKey, async (client, abortSignal) => {
        let entity: TableEntityResult<Record<string, unknown>>;
        try {
          entity = await client.getEntity(encoded, ROW_KEY, { abortSignal });
        } catch (error) {
          if (statusOf(error) === 404 && odataCode(error) !== 'TableNotFound') return undefined;
          throw error;
        }
        if (entity.etag === undefined)
          throw new StoreCorruptError('Table storage returned an entity without ETag', undefined);
        return { data: joinChunks(entity, partitionKey, entity.etag), etag: entity.etag };
      });
    },

    async readVersion(partitionKey: string): Promise<string | undefined> {
      const encoded = encodeKey(partitionKey, TABLE_KEY_MAX_LENGTH);
      return run(partitionKey, async (client, abortSignal) => {
        try {
          // A point query selecting only the key: the answer is the ETag, none of the document's chunks.
          const entity = await client.getEntity(encoded, ROW_KEY, {
            abortSignal,
            queryOptions: { select: ['PartitionKey'] },
          });
          if (entity.etag === undefined)
            throw new StoreCorruptError('Table storage returned an entity without ETag', undefined);
          return entity.etag;
        } catch (error) {
          if (statusOf(error) === 404 && odataCode(error) !== 'TableNotFound') return undefined;
          throw error;
        }
      });
    },

    async write(partitionKey: string, data: Uint8Array, writeOptions: WriteOptions = {}): Promise<string> {
      const entity = toEntity(
        encodeKey(partitionKey, TABLE_KEY_MAX_LENGTH),
        partitionKey,
        data,
        writeOptions.expiresAt,
      );
      const size = tableEntitySize(entity);
      if (size > TABLE_MAX_ENTITY_BYTES)
        throw new StoreTooLargeError(partitionKey, size, TABLE_MAX_ENTITY_BYTES, 'bytes');
      const { ifMatch } = writeOptions;
      return run(partitionKey, async (client, abortSignal) => {
        try {
          // Replace (not Merge) drops properties the new entity lacks, so a shrinking write leaves no stale chunks.
          const response =
            ifMatch === undefined
              ? await client.createEntity(entity, { abortSignal })
              : await client.updateEntity(entity, 'Replace', { etag: ifMatch, abortSignal });
          if (response.etag === undefined) throw new StoreCorruptError('Table storage returned no ETag', undefined);
          return response.etag;
        } catch (error) {
          const status = statusOf(error);
          if (isWriteConflict(status, odataCode(error) !== 'TableNotFound', ifMatch)) {
            throw StoreConflictError.of(partitionKey, ifMatch, error);
          }
          // Azurite rejects entities whose JSON is over 1 MiB, before Azure's limit (binary counts as base64 there).
          if (status === 413 || odataCode(error) === 'EntityTooLarge' || odataCode(error) === 'RequestBodyTooLarge') {
            throw new StoreTooLargeError(partitionKey, size, TABLE_MAX_ENTITY_BYTES, 'bytes', { cause: error });
          }
          throw error;
        }
      });
    },

    async delete(partitionKey: string, deleteOptions: { readonly ifMatch?: string } = {}): Promise<boolean> {
      const encoded = encodeKey(partitionKey, TABLE_KEY_MAX_LENGTH);
      const { ifMatch } = deleteOptions;
      return run(partitionKey, async (client, abortSignal) => {
        try {
          await client.deleteEntity(encoded, ROW_KEY, { etag: ifMatch ?? '*', abortSignal });
          return true;
        } catch (error) {
          return deleteFailure(error, statusOf(error), odataCode(error) !== 'TableNotFound', partitionKey, ifMatch);
        }
      });
    },

    async list(listOptions: ListOptions = {}): Promise<ListPage> {
      const { prefix, expiredBefore, pageSize = DEFAULT_LIST_PAGE_SIZE, continuationToken } = listOptions;
      const range = prefix ? encodedPrefixRange(prefix, TABLE_KEY_MAX_LENGTH) : undefined;
      return run(undefined, async (client, abortSignal) => {
        const { odata } = await loadTables();
        const conditions: string[] = [];
        if (range) conditions.push(odata`PartitionKey ge ${range.start} and PartitionKey lt ${range.end}`);
        if (expiredBefore) conditions.push(odata`expiresAt lt ${expiredBefore}`);
        const pages = client
          .listEntities<Record<string, unknown>>({
            queryOptions: {
              ...(conditions.length > 0 ? { filter: conditions.join(' and ') } : {}),
              select: ['key', 'updatedAt', 'expiresAt'],
            },
            abortSignal,
          })
          .byPage({ maxPageSize: Math.max(1, pageSize), ...(continuationToken ? { continuationToken } : {}) });
        const result = await pages.next();
        if (result.done) return { entries: [] };
        const page = result.value;
        const entries = page.flatMap((entity): ListEntry[] => {
          const { key, updatedAt, expiresAt, etag } = entity;
          // Hashed keys share a range with their head only: filter on the original key too.
          if (typeof key !== 'string' || (prefix && !key.startsWith(prefix))) return [];
          return [
            {
              partitionKey: key,
              etag,
              ...(updatedAt instanceof Date ? { updatedAt } : {}),
              ...(expiresAt instanceof Date ? { expiresAt } : {}),
            },
          ];
        });
        return { entries, ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}) };
      });
    },

    close(): Promise<void> {
      // TableClient holds no resources of its own beyond pooled sockets.
      sdkClient.reset();
      return Promise.resolve();
    },
  };
}

/**
 * The size Azure Table storage counts for an entity: 4 bytes, plus the keys (UTF-16, 2 bytes a character), plus
 * per property 8 bytes + its name (UTF-16) + its value: strings 2 bytes a character + 4, binary its length + 4,
 * DateTime and numbers 8. The service-set `Timestamp` is counted too.
 */
function tableEntitySize(entity: TableEntity<Record<string, unknown>>): number {
  let size = 4 + 2 * (entity.partitionKey.length + entity.rowKey.length);
  size += 8 + 2 * 'Timestamp'.length + 8;
  for (const [name, value] of Object.entries(entity)) {
    if (name === 'partitionKey' || name === 'rowKey' || value === undefined) continue;
    size += 8 + 2 * name.length;
    if (typeof value === 'string') size += 2 * value.length + 4;
    else if (value instanceof Uint8Array) size += value.byteLength + 4;
    else if (typeof value === 'boolean') size += 1;
    else size += 8; // number, bigint, Date
  }
  return size;
}

function toEntity(
  encodedKey: string,
  partitionKey: string,
  data: Uint8Array,
  expiresAt: Date | undefined,
): CacheEntity {
  const entity: CacheEntity = {
    partitionKey: encodedKey,
    rowKey: ROW_KEY,
    key: partitionKey,
    updatedAt: new Date(),
    chunks: Math.ceil(data.byteLength / TABLE_MAX_BINARY_PROPERTY_BYTES),
  };
  if (expiresAt) entity.expiresAt = expiresAt;
  for (let i = 0; i < entity.chunks; i++) {
    const start = i * TABLE_MAX_BINARY_PROPERTY_BYTES;
    const length = Math.min(TABLE_MAX_BINARY_PROPERTY_BYTES, data.byteLength - start);
    // A Buffer view, not a Uint8Array view: the SDK base64-encodes a plain Uint8Array's whole `.buffer`,
    // ignoring its offset and length.
    entity[`d${i}`] = Buffer.from(data.buffer, data.byteOffset + start, length);
  }
  return entity;
}

/** The entity's bytes; `StoreCorruptError` with the entity's ETag when its chunk count or a chunk is malformed. */
function joinChunks(entity: Record<string, unknown>, partitionKey: string, etag: string): Uint8Array {
  const { chunks } = entity;
  if (typeof chunks !== 'number' || !Number.isInteger(chunks) || chunks < 0) {
    throw new StoreCorruptError(`cache entity for partition "${partitionKey}" has no valid chunk count`, etag);
  }
  const parts: Uint8Array[] = [];
  for (let i = 0; i < chunks; i++) {
    const part = entity[`d${i}`];
    if (!(part instanceof Uint8Array)) {
      throw new StoreCorruptError(`cache entity for partition "${partitionKey}" lacks chunk d${i} of ${chunks}`, etag);
    }
    parts.push(part);
  }
  const data = new Uint8Array(parts.reduce((total, part) => total + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    data.set(part, offset);
    offset += part.byteLength;
  }
  return data;
}

/** The table endpoint the options name (`TableEndpoint=` of a connection string, or the account URL). */
function endpointOf(options: TableStoreOptions): string | undefined {
  if (options.accountUrl !== undefined) return options.accountUrl;
  const connectionString = options.connectionString ?? '';
  if (/UseDevelopmentStorage=true/i.test(connectionString)) return 'http://127.0.0.1:10002';
  return /TableEndpoint=([^;]+)/i.exec(connectionString)?.[1];
}

function isLoopback(endpoint: string | undefined): boolean {
  if (endpoint === undefined) return false;
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(endpoint).hostname);
  } catch {
    return false;
  }
}

/** Sets a timeout on each HTTP attempt (the SDK has none by default). */
function attemptTimeoutPolicy(timeoutMs: number): PipelinePolicy {
  return {
    name: 'cacheStoreAttemptTimeout',
    sendRequest(request, next) {
      if (!request.timeout) request.timeout = timeoutMs;
      return next(request);
    },
  };
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The OData error code (`err.code` is not it: the SDK leaves that undefined for service errors). */
function odataCode(error: unknown): string | undefined {
  const code = (error as { details?: { odataError?: { code?: unknown } } } | undefined)?.details?.odataError?.code;
  return typeof code === 'string' ? code : undefined;
}

function toStoreError(error: unknown, partitionKey: string | undefined, tableName: string): StoreError {
  if (error instanceof StoreError) return error;
  const status = statusOf(error);
  const subject =
    partitionKey === undefined ? `Table "${tableName}"` : `Table "${tableName}" (partition "${partitionKey}")`;
  if (status === 408 || status === 429 || (status !== undefined && status >= 500)) {
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
  // The SDK refuses http:// endpoints before sending anything, with a plain Error.
  if (error instanceof Error && error.message.includes('allowInsecureConnection')) {
    return new StoreError('store_misconfigured', `${subject}: ${error.message}`, { cause: error });
  }
  if (odataCode(error) === 'TableNotFound') {
    return new StoreError('store_misconfigured', `${subject}: the table does not exist (see createIfMissing)`, {
      cause: error,
    });
  }
  if (error instanceof Error && (error.name === 'CredentialUnavailableError' || error.name === 'AuthenticationError')) {
    return new StoreError('store_misconfigured', `${subject}: no Entra ID credential: ${describe(error)}`, {
      cause: error,
    });
  }
  return new StoreError('store_unavailable', `${subject} failed: ${describe(error)}`, { cause: error });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
