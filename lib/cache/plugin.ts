import type { ICachePlugin, ISerializableTokenCache, TokenCacheContext } from '@azure/msal-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { type TokenCacheLogger, describeError } from '../log.js';
import {
  type CacheDocument,
  type JsonObject,
  EMPTY_DOCUMENT,
  decodeDocument,
  encodeDocument,
  isObject,
  jsonEqual,
} from './document.js';
import { open, seal } from './envelope.js';
import { hasErrorCode } from '../errors.js';
import type { KeyRing } from './keyring.js';
import type { L1Cache } from './l1.js';
import { mergeDocuments, pruneDocument, stampChanges } from './merge.js';
import { assertionHashOf, visibleEntries, withHiddenEntries } from './obo.js';
import { type AccessTokenFilter, withoutAccessTokens } from './withhold.js';
import { type CacheStats, emptyStats } from './stats.js';
import { type CacheStore, type StoredDocument, StoreError } from '../stores/store.js';

export interface PartitionCachePluginOptions {
  readonly store: CacheStore;
  /** The partition this invocation may touch — from validated claims or app configuration only. */
  readonly partitionKey: string;
  readonly keyRing: KeyRing;
  readonly logger: TokenCacheLogger;
  /** Write attempts before giving up on a contended partition (each conflict re-reads and merges). @defaultValue 20 */
  readonly maxWriteAttempts?: number;
  /** Deflate the cache before encrypting it. @defaultValue false */
  readonly compress?: boolean;
  /** How long an untouched document lives before a store TTL or sweeper may remove it. @defaultValue 90 days */
  readonly lifetimeMs?: number;
  /** Optional per-instance L1 tier shared by the invocations of this process (see {@link L1Cache}). */
  readonly l1?: L1Cache;
  /** Clock in epoch milliseconds, for tests. @defaultValue the wall clock with sub-millisecond precision */
  readonly now?: () => number;
}

const DAY_MS = 86_400_000;

interface Loaded {
  /** What the store held when we last read or wrote it; empty when there was nothing usable. */
  doc: CacheDocument;
  /** ETag of that document; undefined when the partition has no document (next write is create-only). */
  etag: string | undefined;
  /** The document was sealed with an older key of the ring: rewrite it under the current key on this invocation. */
  rewrite: boolean;
  /**
   * The store could not be read, or holds a document this instance cannot open and must not replace (see
   * `CacheStats.foreign`): behave as an empty cache and do not write.
   */
  unavailable: boolean;
}

interface Read {
  doc: CacheDocument;
  etag: string | undefined;
  rewrite: boolean;
  /** Sealed under a key id the ring lacks, or in an unknown format version: not ours to replace. */
  foreign?: boolean;
}

/**
 * An MSAL `ICachePlugin` bound to ONE partition for ONE invocation. Reads the store at most once however often MSAL
 * calls it; writes only when MSAL reports a change and the content differs from what was read, conditionally on the
 * ETag read; on a conflict re-reads, merges per entry and retries. Store failures never fail the MSAL call.
 */
export class PartitionCachePlugin implements ICachePlugin {
  readonly stats: CacheStats = emptyStats();
  readonly partitionKey: string;
  private readonly options: PartitionCachePluginOptions;
  private loading: Promise<Loaded> | undefined;
  private loaded: Loaded | undefined;
  private deserialized = false;
  /** The invocation's incoming token (on-behalf-of): MSAL is shown only its access tokens. See obo.ts. */
  private ownAssertionHash: string | undefined;
  private unsaved = false;
  /** Access tokens MSAL is not shown this invocation; the partition's next write leaves them out. */
  private withheld: AccessTokenFilter | undefined;
  /** Some were withheld and no write has left them out yet. */
  private removalPending = false;
  /** MSAL's in-memory cache this invocation loaded the partition into. */
  private tokenCache: ISerializableTokenCache | undefined;

  constructor(options: PartitionCachePluginOptions) {
    this.options = options;
    this.partitionKey = options.partitionKey;
  }

  async beforeCacheAccess(context: TokenCacheContext): Promise<void> {
    await this.preload(context.tokenCache);
  }

  /**
   * Loads the partition into MSAL's in-memory cache now (once per invocation). For flows that look up the cache
   * without calling the plugin first (msal-node's on-behalf-of): pass the incoming token as `oboAssertion`, so MSAL
   * is shown the access tokens of that token only (other flows see none of the on-behalf-of ones; see obo.ts).
   */
  async preload(tokenCache: ISerializableTokenCache, options: { readonly oboAssertion?: string } = {}): Promise<void> {
    if (options.oboAssertion !== undefined && !this.deserialized) {
      this.ownAssertionHash = assertionHashOf(options.oboAssertion);
    }
    const loaded = await this.load();
    if (this.deserialized) return;
    this.deserialized = true;
    this.tokenCache = tokenCache;
    const visible = visibleEntries(loaded.doc.msal, this.ownAssertionHash);
    const shown = this.withheld ? withoutAccessTokens(visible, this.withheld) : visible;
    this.removalPending = shown !== visible;
    if (Object.keys(shown).length > 0) tokenCache.deserialize(JSON.stringify(shown));
  }

  /**
   * Call before the first load: the access tokens `filter` selects are not shown to MSAL (so it cannot serve them),
   * and the invocation removes them from the partition — with the write of MSAL's new token when it gets one,
   * otherwise in {@link settle} (one conditional write either way). For a claims request: the token a resource
   * rejected must not be served again, whether or not a new one comes back.
   */
  withholdAccessTokens(filter: AccessTokenFilter): void {
    this.withheld = filter;
  }

  async afterCacheAccess(context: TokenCacheContext): Promise<void> {
    const loaded = await this.load();
    if (!context.cacheHasChanged && !loaded.rewrite) return;
    await this.persist(context.tokenCache, loaded);
  }

  /** Writes what MSAL holds (plus the entries it was not shown) when it differs from what the store holds. */
  private async persist(tokenCache: ISerializableTokenCache, loaded: Loaded): Promise<void> {
    this.removalPending = false;
    const msal: unknown = JSON.parse(tokenCache.serialize());
    if (!isObject(msal)) return;
    const combined = withHiddenEntries(msal, loaded.doc.msal, this.ownAssertionHash);
    if (!loaded.rewrite && jsonEqual(loaded.doc.msal, combined)) return;
    if (loaded.unavailable) {
      this.unsaved = true;
      return;
    }
    const merged = await this.save(loaded, stampChanges(loaded.doc, combined, this.now()));
    if (merged) tokenCache.deserialize(JSON.stringify(this.shown(merged.msal)));
  }

  /** What MSAL is shown of a stored cache: see obo.ts, less the withheld access tokens. */
  private shown(msal: JsonObject): JsonObject {
    const visible = visibleEntries(msal, this.ownAssertionHash);
    return this.withheld ? withoutAccessTokens(visible, this.withheld) : visible;
  }

  /**
   * Call after the flow: a document read under an older key of the ring that no write has replaced yet (a cache
   * hit — msal-node's on-behalf-of calls no plugin hook on one) is rewritten under the current key now, as it is:
   * one conditional write, during a rotation only.
   */
  async settle(): Promise<void> {
    if (!this.loading) return;
    const loaded = await this.loading;
    await this.flushRemovals();
    if (loaded.rewrite && !loaded.unavailable) await this.save(loaded, loaded.doc);
  }

  /**
   * Removes withheld access tokens (see {@link withholdAccessTokens}) that no write has removed yet — the flow
   * failed, or MSAL saved nothing — together with whatever else MSAL changed in memory (msal-common drops a refresh
   * token the identity provider called `bad_token`, without calling the plugin). Call it also when the flow threw.
   */
  async flushRemovals(): Promise<void> {
    if (!this.removalPending || !this.tokenCache || !this.loaded) return;
    await this.persist(this.tokenCache, this.loaded);
  }

  /**
   * The partition could not be read this invocation (the store failed or timed out), or holds a document this
   * instance must not replace (`stats.foreign`): an empty cache here says nothing about the user.
   */
  get unavailable(): boolean {
    return this.loaded?.unavailable ?? false;
  }

  /** False when a change this invocation made to the cache did not reach the store (the write failed or was skipped). */
  get saved(): boolean {
    return !this.unsaved;
  }

  /**
   * Adds the entries of another MSAL cache (e.g. one that redeemed a sign-in code before the user's partition was
   * known) to this partition and writes it: one read, one conditional write, merged on conflict.
   */
  async importEntries(msal: JsonObject): Promise<void> {
    const loaded = await this.load();
    if (loaded.unavailable) {
      this.unsaved = true;
      return;
    }
    const combined: JsonObject = { ...loaded.doc.msal };
    for (const [section, entries] of Object.entries(msal)) {
      const existing = combined[section];
      combined[section] = isObject(entries) && isObject(existing) ? { ...existing, ...entries } : entries;
    }
    if (!loaded.rewrite && jsonEqual(loaded.doc.msal, combined)) return;
    await this.save(loaded, stampChanges(loaded.doc, combined, this.now()));
  }

  /** Deletes the partition's whole document (sign-out, purge). Store errors propagate: the caller must know. */
  async purge(): Promise<boolean> {
    this.options.l1?.drop(this.partitionKey);
    const started = performance.now();
    try {
      return await this.options.store.delete(this.partitionKey);
    } finally {
      this.stats.storeMs += performance.now() - started;
    }
  }

  /** Loads the partition (at most one store read per invocation). */
  load(): Promise<Loaded> {
    this.loading ??= this.initialRead().then(
      ({ doc, etag, rewrite, foreign }): Loaded =>
        (this.loaded = { doc, etag, rewrite, unavailable: foreign ?? false }),
      (error: unknown): Loaded => {
        this.stats.failures++;
        this.options.logger.warn(
          `token cache: store read failed for partition ${this.partitionKey}; continuing without the cache: ${describeError(error)}`,
        );
        return (this.loaded = { doc: EMPTY_DOCUMENT, etag: undefined, rewrite: false, unavailable: true });
      },
    );
    return this.loading;
  }

  /**
   * Writes `ours`; on conflict merges it with what is stored now and retries. Returns the merged document when the
   * write landed on a merge (so the in-memory cache can take the other writer's entries), otherwise undefined.
   */
  private async save(loaded: Loaded, ours: CacheDocument): Promise<CacheDocument | undefined> {
    const attempts = this.options.maxWriteAttempts ?? 20;
    let merged = false;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const toWrite = pruneDocument(ours, Math.floor(this.now() / 1000));
      try {
        loaded.etag = await this.write(toWrite, loaded.etag);
        loaded.doc = toWrite;
        loaded.rewrite = false;
        this.unsaved = false;
        this.options.l1?.set(this.partitionKey, toWrite, loaded.etag);
        return merged ? toWrite : undefined;
      } catch (error) {
        this.options.l1?.drop(this.partitionKey);
        if (!(error instanceof StoreError) || error.code !== 'store_conflict') {
          this.unsaved = true;
          this.stats.failures++;
          const level = error instanceof StoreError && error.code === 'store_too_large' ? 'error' : 'warn';
          this.options.logger[level](
            `token cache: store write failed for partition ${this.partitionKey}; the token is still returned: ${describeError(error)}`,
          );
          return undefined;
        }
        this.stats.conflicts++;
        if (attempt === attempts) break;
        // Full jitter: contending writers spread out instead of colliding again in lock-step.
        await sleep(Math.random() * Math.min(1000, 10 * 2 ** attempt));
        let theirs: Read;
        try {
          theirs = await this.readDocument();
        } catch (readError) {
          this.unsaved = true;
          this.stats.failures++;
          this.options.logger.warn(
            `token cache: re-read after a write conflict failed for partition ${this.partitionKey}: ${describeError(readError)}`,
          );
          return undefined;
        }
        if (theirs.foreign) {
          // Another instance, with a newer key ring, wrote it meanwhile: not ours to replace.
          loaded.unavailable = true;
          this.unsaved = true;
          return undefined;
        }
        ours = mergeDocuments(loaded.doc, ours, theirs.doc);
        loaded.doc = theirs.doc;
        loaded.etag = theirs.etag;
        merged = true;
      }
    }
    this.unsaved = true;
    this.options.logger.warn(
      `token cache: gave up writing partition ${this.partitionKey} after ${attempts} conflicting attempts; the token is still returned`,
    );
    return undefined;
  }

  /**
   * The invocation's first read. With an L1 tier: a store that can read conditionally is asked whether the L1
   * entry is still current (and nothing is decrypted when it is); with any other store a fresh entry is used as is.
   */
  private async initialRead(): Promise<Read> {
    const { l1, store } = this.options;
    const cached = l1?.peek(this.partitionKey);
    if (l1 && cached) {
      if (store.readIfChanged) {
        const started = performance.now();
        const answer = await store.readIfChanged(this.partitionKey, cached.etag).finally(() => {
          this.stats.storeMs += performance.now() - started;
        });
        this.stats.reads++;
        if (answer === 'unchanged') {
          this.stats.l1Hits++;
          l1.touch(this.partitionKey);
          return { doc: cached.doc, etag: cached.etag, rewrite: false };
        }
        l1.drop(this.partitionKey);
        const opened = answer ? this.openDocument(answer) : { doc: EMPTY_DOCUMENT, etag: undefined, rewrite: false };
        this.remember(opened);
        return opened;
      }
      if (cached.fresh) {
        this.stats.l1Hits++;
        return { doc: cached.doc, etag: cached.etag, rewrite: false };
      }
    }
    const read = await this.readDocument();
    this.remember(read);
    return read;
  }

  private remember(read: Read): void {
    if (!this.options.l1) return;
    if (read.etag !== undefined && !read.rewrite && !this.stats.discarded && !read.foreign) {
      this.options.l1.set(this.partitionKey, read.doc, read.etag);
    } else {
      this.options.l1.drop(this.partitionKey);
    }
  }

  /** One store read, opened and parsed. An unusable document is logged and treated as empty (see openDocument). */
  private async readDocument(): Promise<Read> {
    const started = performance.now();
    const stored = await this.options.store.read(this.partitionKey).finally(() => {
      this.stats.storeMs += performance.now() - started;
    });
    this.stats.reads++;
    if (!stored) return { doc: EMPTY_DOCUMENT, etag: undefined, rewrite: false };
    return this.openDocument(stored);
  }

  /**
   * A document that fails to open under a key we hold (tampered, truncated, copied from another partition) is
   * treated as empty and replaced by the next write. One sealed under a key id the ring lacks, or in an unknown
   * format version, was written by an instance with a newer key ring or library (a rolling rotation or upgrade):
   * it is left alone and the invocation goes on as with an unreadable store.
   *
   * A document whose key-id bytes were tampered with also reads as "key not in the ring" and is left alone: no key
   * can tell it from a newer instance's document. That is acceptable: only someone who can already write (and so
   * delete) the partition can do it, it discloses nothing and makes us accept nothing — the cost is that partition's
   * cache (served from the identity provider, sign-ins there not saved) until it expires or is removed (sign-out,
   * `removePartition`), with an error naming the unknown key id at every access for an operator to act on.
   */
  private openDocument(stored: StoredDocument): Read {
    this.stats.bytesRead += stored.data.byteLength;
    try {
      const { plaintext, keyId } = open(this.options.keyRing, this.partitionKey, stored.data);
      return { doc: decodeDocument(plaintext), etag: stored.etag, rewrite: keyId !== this.options.keyRing.current.id };
    } catch (error) {
      if (hasErrorCode(error, 'key_not_in_ring') || hasErrorCode(error, 'unknown_format_version')) {
        this.stats.foreign = true;
        this.options.logger.error(
          `token cache: stored document for partition ${this.partitionKey} was written by an instance with a newer key ring or library; left as it is, served without the cache (add the key to this instance's ring): ${describeError(error)}`,
        );
        return { doc: EMPTY_DOCUMENT, etag: stored.etag, rewrite: false, foreign: true };
      }
      this.stats.discarded = true;
      this.options.logger.warn(
        `token cache: stored document for partition ${this.partitionKey} is unusable and will be replaced: ${describeError(error)}`,
      );
      // Not rewritten now: the next write (conditional on this ETag) replaces it.
      return { doc: EMPTY_DOCUMENT, etag: stored.etag, rewrite: false };
    }
  }

  private async write(doc: CacheDocument, etag: string | undefined): Promise<string> {
    const sealed = seal(this.options.keyRing, this.partitionKey, encodeDocument(doc), {
      compress: this.options.compress ?? false,
    });
    const started = performance.now();
    try {
      const expiresAt = new Date(this.now() + (this.options.lifetimeMs ?? 90 * DAY_MS));
      const newEtag = await this.options.store.write(this.partitionKey, sealed, { ifMatch: etag, expiresAt });
      this.stats.writes++;
      this.stats.bytesWritten += sealed.byteLength;
      return newEtag;
    } finally {
      this.stats.storeMs += performance.now() - started;
    }
  }

  private now(): number {
    // Sub-millisecond wall clock: the merge's tie-breaker between two writers of the same entry.
    return this.options.now ? this.options.now() : performance.timeOrigin + performance.now();
  }
}
