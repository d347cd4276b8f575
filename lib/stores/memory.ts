/**
 * An in-process store: a Map. For tests and CPU benchmarks; one process only, nothing persisted.
 */
import { randomUUID } from 'node:crypto';
import { assertValidPartitionKey } from './keys.js';
import {
  DEFAULT_LIST_PAGE_SIZE,
  StoreConflictError,
  StoreTooLargeError,
  type CacheStore,
  type ListEntry,
  type ListOptions,
  type ListPage,
  type StoredDocument,
  type WriteOptions,
} from './store.js';

export interface MemoryStoreOptions {
  /** Rejects documents over this many bytes with `StoreTooLargeError`, to exercise that path. @defaultValue no limit */
  readonly maxDocumentBytes?: number;
}

interface MemoryDocument {
  readonly data: Uint8Array;
  readonly etag: string;
  readonly updatedAt: Date;
  readonly expiresAt: Date | undefined;
}

/**
 * Creates an empty in-memory store. Bytes are copied in and out, so callers may reuse their buffers. Per process:
 * for tests and local development, not for several instances.
 *
 * @example
 * ```ts
 * const tokens = new PartitionedTokenCache({
 *   auth: { clientId, tenantId, clientSecret },
 *   cache: { store: createMemoryStore(), keyRing: parseKeyRing(generateKeySetting()) },
 * });
 * ```
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): CacheStore {
  const documents = new Map<string, MemoryDocument>();

  return {
    kind: 'memory',

    read(partitionKey: string): Promise<StoredDocument | undefined> {
      return settle(() => {
        assertValidPartitionKey(partitionKey);
        const document = documents.get(partitionKey);
        return document && { data: document.data.slice(), etag: document.etag };
      });
    },

    readIfChanged(partitionKey: string, etag: string): Promise<StoredDocument | 'unchanged' | undefined> {
      return settle(() => {
        assertValidPartitionKey(partitionKey);
        const document = documents.get(partitionKey);
        if (document?.etag === etag) return 'unchanged';
        return document && { data: document.data.slice(), etag: document.etag };
      });
    },

    write(partitionKey: string, data: Uint8Array, writeOptions: WriteOptions = {}): Promise<string> {
      return settle(() => {
        assertValidPartitionKey(partitionKey);
        const limit = options.maxDocumentBytes;
        if (limit !== undefined && data.byteLength > limit) {
          throw new StoreTooLargeError(partitionKey, data.byteLength, limit, 'bytes');
        }
        const current = documents.get(partitionKey);
        if (writeOptions.ifMatch === undefined ? current : current?.etag !== writeOptions.ifMatch) {
          throw StoreConflictError.of(partitionKey, writeOptions.ifMatch);
        }
        const etag = randomUUID();
        documents.set(partitionKey, {
          data: data.slice(),
          etag,
          updatedAt: new Date(),
          expiresAt: writeOptions.expiresAt && new Date(writeOptions.expiresAt),
        });
        return etag;
      });
    },

    delete(partitionKey: string, deleteOptions: { readonly ifMatch?: string } = {}): Promise<boolean> {
      return settle(() => {
        assertValidPartitionKey(partitionKey);
        const current = documents.get(partitionKey);
        if (deleteOptions.ifMatch !== undefined && current?.etag !== deleteOptions.ifMatch) {
          throw StoreConflictError.of(partitionKey, deleteOptions.ifMatch);
        }
        return documents.delete(partitionKey);
      });
    },

    list(listOptions: ListOptions = {}): Promise<ListPage> {
      const { prefix = '', expiredBefore, pageSize = DEFAULT_LIST_PAGE_SIZE, continuationToken } = listOptions;
      // The token is the last key of the previous page; keys are listed in code-unit order.
      const after =
        continuationToken === undefined ? undefined : Buffer.from(continuationToken, 'base64url').toString();
      const keys = [...documents.keys()]
        .filter((key) => key.startsWith(prefix) && (after === undefined || key > after))
        .filter((key) => {
          const expiresAt = documents.get(key)?.expiresAt;
          return expiredBefore === undefined || (expiresAt !== undefined && expiresAt < expiredBefore);
        })
        .sort();
      const pageKeys = keys.slice(0, Math.max(1, pageSize));
      const entries = pageKeys.flatMap((key): ListEntry[] => {
        const document = documents.get(key);
        if (!document) return [];
        const { etag, updatedAt, expiresAt } = document;
        return [
          {
            partitionKey: key,
            etag,
            updatedAt: new Date(updatedAt),
            ...(expiresAt && { expiresAt: new Date(expiresAt) }),
          },
        ];
      });
      const last = pageKeys[pageKeys.length - 1];
      return Promise.resolve({
        entries,
        ...(keys.length > pageKeys.length && last !== undefined
          ? { continuationToken: Buffer.from(last).toString('base64url') }
          : {}),
      });
    },

    close(): Promise<void> {
      documents.clear();
      return Promise.resolve();
    },
  };
}

/** Runs synchronous work as a promise, so a throw becomes a rejection like in the network stores. */
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
