import { TokenCacheError, type TokenCacheErrorCode } from '../errors.js';
import { MAX_TIMEOUT_MS, isTimeoutMs } from '../timeouts.js';

/**
 * The one small interface every cache store implements (Cosmos DB, Azure Table storage, memory, ...).
 *
 * A store keeps opaque bytes per partition key, with an ETag for optimistic concurrency. It knows nothing about
 * MSAL, encryption or merging: that lives in the plugin.
 */
export interface StoredDocument {
  /** The document exactly as it was written. */
  readonly data: Uint8Array;
  /** Opaque version tag; pass it back to `write` to make the write conditional. Never parse it. */
  readonly etag: string;
}

export interface WriteOptions {
  /**
   * `undefined` / omitted: create-only — fails with a conflict when a document already exists.
   * A string: replace only if the stored document still has this ETag — fails with a conflict otherwise
   * (including when it was deleted meanwhile).
   */
  readonly ifMatch?: string;
  /** When the document may be removed by the store (Cosmos `ttl`) or a sweeper. Metadata only. */
  readonly expiresAt?: Date;
}

export interface ListOptions {
  /** Only partitions whose (original, unencoded) key starts with this; all when omitted or empty. */
  readonly prefix?: string;
  /** Only documents whose `expiresAt` is before this instant (documents without `expiresAt` never match). */
  readonly expiredBefore?: Date;
  /** Most entries per page (default 100). A page may hold fewer, even none, and still have a continuation. */
  readonly pageSize?: number;
  /** `continuationToken` of the previous page (listed with the same options); omit for the first page. */
  readonly continuationToken?: string;
}

/** Metadata of one stored document, as listed (no data). */
export interface ListEntry {
  /** The original partition key, as passed to `write`. */
  readonly partitionKey: string;
  readonly etag: string;
  readonly expiresAt?: Date;
  readonly updatedAt?: Date;
}

export interface ListPage {
  readonly entries: ListEntry[];
  /** Present when there may be more entries: pass it back in {@link ListOptions.continuationToken}. */
  readonly continuationToken?: string;
}

/** Default {@link ListOptions.pageSize}. */
export const DEFAULT_LIST_PAGE_SIZE = 100;

export interface CacheStore {
  /** A short name for logs and telemetry, e.g. `cosmos`, `table`, `memory`. */
  readonly kind: string;
  /** Reads one partition; `undefined` when there is no document. */
  read(partitionKey: string): Promise<StoredDocument | undefined>;
  /**
   * Optional: a conditional read (`If-None-Match`) — `'unchanged'` when the stored ETag still equals `etag`, without
   * the document; the document (or `undefined` when there is none) otherwise. The warm tier revalidates with it.
   */
  readIfChanged?(partitionKey: string, etag: string): Promise<StoredDocument | 'unchanged' | undefined>;
  /**
   * Optional: the stored document's ETag alone (`undefined` when there is none), without its data — for stores where
   * that is cheaper than a conditional read, or that have none (Table, Redis). The warm tier revalidates with it when
   * present (in preference to `readIfChanged`) and reads the document in full when the ETag changed.
   */
  readVersion?(partitionKey: string): Promise<string | undefined>;
  /**
   * Optional: `true` when the store's client writes a read's request in an immediate of its own (node-redis does, to
   * pipeline commands). A warm call then makes its answer in an immediate set behind that one: after the request is
   * written, while the store answers, at the cost of one more callback in a check phase the client runs anyway. Leave
   * it unset for a client that writes within the call's promise reactions (the HTTP SDKs of Table and Cosmos DB): an
   * immediate of the call's own costs it more there than the overlap saves (see the README's troubleshooting).
   */
  readonly sendsInImmediate?: boolean;
  /** Conditional write (see {@link WriteOptions}); returns the new ETag. Throws {@link StoreConflictError}. */
  write(partitionKey: string, data: Uint8Array, options?: WriteOptions): Promise<string>;
  /** Deletes the partition's document; resolves `false` when there was none. Unconditional unless `ifMatch`. */
  delete(partitionKey: string, options?: { readonly ifMatch?: string }): Promise<boolean>;
  /**
   * Pages through documents whose partition key starts with `prefix` (all when omitted), optionally only those
   * with `expiresAt < expiredBefore`. Order is store-defined; a key written or deleted while paging may or may
   * not appear.
   */
  list(options?: ListOptions): Promise<ListPage>;
  /** Releases network resources (tests, shutdown). */
  close?(): Promise<void>;
}

/**
 * The codes a store throws. `store_corrupt` ({@link StoreCorruptError}): the stored record is malformed at the store
 * level (e.g. a Table entity missing one of its chunks) — treat it like an unreadable document, and replace it when
 * its ETag is known.
 */
export type StoreErrorCode = Extract<
  TokenCacheErrorCode,
  | 'store_conflict'
  | 'store_too_large'
  | 'store_unavailable'
  | 'invalid_partition_key'
  | 'store_misconfigured'
  | 'store_corrupt'
  | 'invalid_options'
>;

/**
 * Refuses (`store_misconfigured`) an endpoint that is not https for Microsoft Entra ID sign-in: the Azure SDKs send a
 * bearer token only over https, and would fail every operation instead, as if the store were unavailable.
 */
export function requireHttps(store: string, endpoint: string): void {
  if (/^https:\/\//i.test(endpoint)) return;
  throw new StoreError(
    'store_misconfigured',
    `${store}: Microsoft Entra ID sign-in needs an https:// endpoint (the SDK sends no token over http); with an ` +
      `http:// emulator, give its key`,
  );
}

/**
 * A store's timeout option: `fallback` when not given; refused (`store_misconfigured`, naming the option) unless a
 * positive, finite number of milliseconds that Node can wait.
 */
export function timeoutOption(store: string, name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!isTimeoutMs(value)) {
    throw new StoreError(
      'store_misconfigured',
      `${store}: ${name} must be a positive number of ms up to ${MAX_TIMEOUT_MS}, got ${value}`,
    );
  }
  return value;
}

/** Every store throws this (never a raw SDK error): the SDK's error, if any, is its `cause`. */
export class StoreError extends TokenCacheError {
  declare readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'StoreError';
  }
}

/**
 * The stored record is malformed at the store level: a field missing or of the wrong type, a chunk missing. `etag` is
 * the record's ETag when the store could read it: a write with `ifMatch` of it replaces the record (and fails with a
 * conflict if the record changed meanwhile). Without it the record cannot be replaced safely.
 *
 * The plugin replaces such a record, so a store's record layout (field names, chunking) is fixed: a later version
 * that changes it must write under another key prefix, table or container, or instances of this one would replace
 * its records during a rolling upgrade. What changes inside a document is versioned by its envelope instead, and a
 * document of a newer envelope format is left alone.
 */
export class StoreCorruptError extends StoreError {
  readonly etag: string | undefined;
  constructor(message: string, etag: string | undefined, options?: { cause?: unknown }) {
    super('store_corrupt', message, options);
    this.name = 'StoreCorruptError';
    this.etag = etag;
  }
}

/** The document changed (or appeared, or vanished) since it was read: re-read, merge, retry. */
export class StoreConflictError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store_conflict', message, options);
    this.name = 'StoreConflictError';
  }

  /** The conflict of a conditional write or delete: create-only (`ifMatch` undefined) or on a stale ETag. */
  static of(partitionKey: string, ifMatch: string | undefined, cause?: unknown): StoreConflictError {
    return new StoreConflictError(
      ifMatch === undefined
        ? `a cache document for partition "${partitionKey}" already exists`
        : `the cache document for partition "${partitionKey}" changed or was deleted since it was read`,
      cause === undefined ? undefined : { cause },
    );
  }
}

/**
 * Whether a failed conditional write lost to another writer, from the HTTP status the SDK reported: a create-only
 * write (`ifMatch` undefined) finds the document there (409); a replace finds it changed (412) or gone (a 404 of
 * the item — `itemMissing` — not of its table or container).
 */
export function isWriteConflict(
  status: number | undefined,
  itemMissing: boolean,
  ifMatch: string | undefined,
): boolean {
  return ifMatch === undefined ? status === 409 : status === 412 || (status === 404 && itemMissing);
}

/**
 * What a failed delete means, from the HTTP status the SDK reported: the document is not there (`itemMissing`: a
 * 404 of the item, not of its table or container) — `false`, or a conflict when the delete was conditional — or it
 * changed since it was read (412, a conflict). Anything else is thrown on.
 */
export function deleteFailure(
  error: unknown,
  status: number | undefined,
  itemMissing: boolean,
  partitionKey: string,
  ifMatch: string | undefined,
): false {
  if (status === 404 && itemMissing) {
    if (ifMatch === undefined) return false;
    throw StoreConflictError.of(partitionKey, ifMatch, error);
  }
  if (status === 412) throw StoreConflictError.of(partitionKey, ifMatch, error);
  throw error;
}

/** The document is over the store's size limit. The message names the size and the limit. */
export class StoreTooLargeError extends StoreError {
  readonly size: number;
  readonly limit: number;
  constructor(partitionKey: string, size: number, limit: number, unit: string, options?: { cause?: unknown }) {
    super(
      'store_too_large',
      `cache document for partition "${partitionKey}" is ${size} ${unit}, over the store limit of ${limit} ${unit}`,
      options,
    );
    this.name = 'StoreTooLargeError';
    this.size = size;
    this.limit = limit;
  }
}

const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'REQUEST_SEND_ERROR',
  'TimeoutError',
]);

/**
 * True for errors that mean "the store could not be reached in time": refused or reset connections, DNS
 * failures, timeouts and aborts. Looks through `cause` chains, where SDKs often put the system error.
 */
export function isNetworkError(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const { code } = current as Error & { code?: unknown };
    if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return true;
    if (current.name === 'AbortError' || current.name === 'TimeoutError') return true;
    current = current.cause;
  }
  return false;
}

/**
 * Runs `operation` with an `AbortSignal` that fires after `timeoutMs`, and rejects with
 * `StoreError('store_unavailable')` at that time even when the SDK ignores the signal (some SDK retry loops do). The
 * abandoned SDK work is left to finish in the background.
 */
export async function withDeadline<T>(
  timeoutMs: number,
  describeTarget: string,
  operation: (abortSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new StoreError('store_unavailable', `${describeTarget} did not answer within ${timeoutMs} ms`);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([operation(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The runner of an SDK-backed store: each operation gets the (lazily set up) client and an abort signal under the
 * deadline, and any failure is mapped to a store error.
 */
export function sdkOperations<C>(
  client: { get(): Promise<C> },
  timeoutMs: number,
  describeTarget: string,
  toStoreError: (error: unknown, partitionKey: string | undefined) => StoreError,
): <T>(partitionKey: string | undefined, operation: (client: C, abortSignal: AbortSignal) => Promise<T>) => Promise<T> {
  return async (partitionKey, operation) => {
    try {
      return await withDeadline(timeoutMs, describeTarget, async (abortSignal) =>
        operation(await client.get(), abortSignal),
      );
    } catch (error) {
      throw toStoreError(error, partitionKey);
    }
  };
}

/** How Node reports a module that is not installed (ES modules, CommonJS). */
const MODULE_NOT_FOUND = new Set(['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND']);

/**
 * Loads an optional peer SDK of a store (`load` is its `import()`). When it is not installed, throws
 * `StoreError('store_misconfigured')` naming the package: no retry brings a missing package back, so it must not read
 * as `store_unavailable`.
 */
export async function importPeer<T>(store: string, packageName: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown } | undefined)?.code;
    if (typeof code !== 'string' || !MODULE_NOT_FOUND.has(code)) throw error;
    throw new StoreError(
      'store_misconfigured',
      `${store} needs the package ${packageName}, which could not be loaded: npm install ${packageName}`,
      { cause: error },
    );
  }
}

/** `DefaultAzureCredential` of `@azure/identity` (an optional peer), for a store given no credential of its own. */
export async function defaultAzureCredential(store: string): Promise<StoreCredential> {
  const identity = await importPeer(store, '@azure/identity', () => import('@azure/identity'));
  return new identity.DefaultAzureCredential();
}

/**
 * A Microsoft Entra ID credential for a store: what `@azure/identity`'s credentials (`DefaultAzureCredential`,
 * `ManagedIdentityCredential`, …) are. Declared here so the library's types need no optional SDK installed.
 */
export interface StoreCredential {
  getToken(
    scopes: string | string[],
    options?: { readonly abortSignal?: AbortSignal },
  ): Promise<{
    readonly token: string;
    readonly expiresOnTimestamp: number;
    readonly refreshAfterTimestamp?: number;
  } | null>;
}
