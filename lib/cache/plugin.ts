import type { AuthenticationResult, ICachePlugin, ISerializableTokenCache, TokenCacheContext } from '@azure/msal-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { type TokenCacheLogger, describeError } from '../log.js';
import {
  type CacheDocument,
  type JsonObject,
  EMPTY_MSAL,
  OpenedDocument,
  emptyDocument,
  isObject,
  jsonEqual,
} from './document.js';
import { DEFAULT_COMPRESS, isForeignSeal, open, seal } from './envelope.js';
import type { KeyRing } from './keyring.js';
import { mergeDocuments, pruneDocument, stampChanges } from './merge.js';
import { assertionHashOf, visibleEntries, withHiddenEntries } from './obo.js';
import { type AccessTokenFilter, withoutAccessTokens } from './withhold.js';
import { type CacheStats, emptyStats } from './stats.js';
import { type CacheStore, type StoredDocument, StoreCorruptError, StoreError } from '../stores/store.js';
import { keptAnswer } from './answers.js';
import { estimateAnswerBytes, estimateHeldBytes } from './warm-tier.js';

export interface PartitionCachePluginOptions {
  readonly store: CacheStore;
  /** The partition this plugin may touch — from validated claims or app configuration only. */
  readonly partitionKey: string;
  readonly keyRing: KeyRing;
  readonly logger: TokenCacheLogger;
  /** Write attempts before giving up on a contended partition (each conflict re-reads and merges). @defaultValue 20 */
  readonly maxWriteAttempts?: number;
  /** Deflate the cache before encrypting it. @defaultValue {@link DEFAULT_COMPRESS} (true) */
  readonly compress?: boolean;
  /** How long an untouched document lives before a store TTL or sweeper may remove it. @defaultValue 90 days */
  readonly lifetimeMs?: number;
  /** Clock in epoch milliseconds, for tests. @defaultValue the wall clock with sub-millisecond precision */
  readonly now?: () => number;
}

const DAY_MS = 86_400_000;

interface Loaded {
  /** What the store held when we last read or wrote it; empty when there was nothing usable. */
  document: OpenedDocument;
  /** ETag of that document; undefined when the partition has no document (next write is create-only). */
  etag: string | undefined;
  /** The document was sealed with an older key of the ring: rewrite it under the current key on this invocation. */
  rewrite: boolean;
  /**
   * The store could not be read, or holds a document this instance cannot open and must not replace (see
   * `CacheStats.foreign`): behave as an empty cache and do not write.
   */
  unavailable: boolean;
  /** Sealed under a key id the ring lacks, or in an unknown format version: not ours to replace. */
  foreign?: boolean;
  /** The store confirmed the ETag of what the (reused) client holds: that document, as the client holds it. */
  confirmed?: Held;
}

/** What a client kept in the warm tier holds: the stored document at this ETag, as shown to MSAL for `view`. */
interface Held {
  readonly document: OpenedDocument;
  readonly etag: string;
  /** The incoming token whose on-behalf-of access tokens MSAL was shown (see obo.ts); undefined: none of them. */
  readonly view: string | undefined;
}

/** What the plugin needs of its MSAL client. */
export interface PluginClient {
  /** Empties the client's in-memory cache (`ClientApplication.clearCache`; keeps the authority's metadata). */
  clearCache(): void;
}

const SILENT: TokenCacheLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * An MSAL `ICachePlugin` bound to ONE partition and to one MSAL client, used by one invocation at a time: the
 * invocation that creates it, then (when the warm tier keeps the client) the partition's next invocations, one after
 * another, each started with {@link reuse}. Reads the store at most once per invocation however often MSAL calls it —
 * for a kept client, the store's cheapest read of the current ETag, and nothing is opened or deserialized when it is
 * unchanged; writes only when MSAL reports a change and the content differs from what was read, conditionally on
 * the ETag read; on a conflict re-reads, merges per entry and retries. Store failures never fail the MSAL call.
 */
export class PartitionCachePlugin implements ICachePlugin {
  /** This invocation's store traffic (a new object per invocation). */
  stats: CacheStats = emptyStats();
  readonly partitionKey: string;
  private readonly options: PartitionCachePluginOptions;
  private logger: TokenCacheLogger;
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
  /** What the client holds from the previous invocation, when it ended holding exactly the stored document. */
  private held: Held | undefined;
  /** The client served an earlier invocation: its in-memory cache is not empty. */
  private reused = false;
  /**
   * What the client answered, by request, while it held the document at {@link answersEtag}: what MSAL would find
   * in that document again. Kept with the client in the warm tier; see {@link heldAnswer}.
   */
  private readonly answers = new Map<string, AuthenticationResult>();
  private answersEtag: string | undefined;
  /** This invocation's answer, kept by {@link endInvocation} when the client stays warm. */
  private answer: { readonly key: string; readonly result: AuthenticationResult } | undefined;
  private client: PluginClient | undefined;

  constructor(options: PartitionCachePluginOptions) {
    this.options = options;
    this.partitionKey = options.partitionKey;
    this.logger = options.logger;
  }

  /** The MSAL client this plugin is configured in (constructed with the plugin, so bound afterwards). */
  bindClient(client: PluginClient): void {
    this.client = client;
  }

  /** Starts the partition's next invocation on the same client (from the warm tier). */
  reuse(logger: TokenCacheLogger): void {
    this.stats = emptyStats();
    this.logger = logger;
    this.loading = undefined;
    this.loaded = undefined;
    this.deserialized = false;
    this.ownAssertionHash = undefined;
    this.unsaved = false;
    this.withheld = undefined;
    this.removalPending = false;
    this.tokenCache = undefined;
    this.reused = true;
  }

  /**
   * Ends the invocation. Returns the estimated bytes the client holds — the document and the answers kept with it —
   * when the document is exactly the stored one at a known ETag (the warm tier may keep the client for the partition's
   * next invocation, which revalidates that ETag), and undefined when the client must not be reused.
   */
  endInvocation(): number | undefined {
    const loaded = this.loaded;
    const answer = this.answer;
    this.answer = undefined;
    this.logger = SILENT;
    this.held = undefined;
    const kept = this.keep(loaded);
    if (kept === undefined) {
      this.answers.clear();
      this.answersEtag = undefined;
      return undefined;
    }
    if (this.answersEtag !== kept.etag) {
      // The document changed (this invocation wrote it, or read a newer one): earlier answers may not hold.
      this.answers.clear();
      this.answersEtag = kept.etag;
    }
    const keptResult = answer && keptAnswer(answer.result);
    if (keptResult) this.answers.set(answer.key, keptResult);
    let bytes = estimateHeldBytes(kept.document.text.length);
    for (const result of this.answers.values()) bytes += estimateAnswerBytes(result);
    return bytes;
  }

  private keep(loaded: Loaded | undefined): Held | undefined {
    // After a claims request (tokens withheld) the client is not kept: rare, and its view differs.
    if (!loaded || !this.deserialized || this.unsaved || this.stats.discarded || this.withheld) return undefined;
    if (loaded.unavailable || loaded.rewrite || loaded.etag === undefined) return undefined;
    loaded.document.compact();
    this.held = { document: loaded.document, etag: loaded.etag, view: this.ownAssertionHash };
    return this.held;
  }

  /**
   * The answer this client gave to request `key` while it held the document the store still holds — confirmed by
   * this invocation's revalidating read, which must have ended (see {@link load}) — and that `usable` accepts (MSAL
   * would not renew it yet), or undefined. The same document holds the same token, so MSAL would give that answer
   * again. Only a hit changes anything: it leaves the client holding what it held, for the next invocation.
   */
  heldAnswer(key: string, usable: (answer: AuthenticationResult) => boolean): AuthenticationResult | undefined {
    const confirmed = this.loaded?.confirmed;
    if (!confirmed || this.withheld || this.answersEtag !== confirmed.etag) return undefined;
    const answer = this.answers.get(key);
    if (!answer || !usable(answer)) return undefined;
    this.deserialized = true;
    this.ownAssertionHash = confirmed.view;
    this.stats.tierAnswers++;
    return answer;
  }

  /**
   * The answer this client keeps for request `key`, not yet confirmed (see {@link heldAnswer}): to prepare the call's
   * copy of it while the revalidating read is in flight.
   */
  keptAnswerFor(key: string): AuthenticationResult | undefined {
    return this.answers.get(key);
  }

  /** Records this invocation's answer to request `key`: kept with the client if it stays warm. */
  remember(key: string, result: AuthenticationResult): void {
    this.answer = { key, result };
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
    // The client already holds this very document, shown for this same incoming token (or flow).
    if (loaded.confirmed && loaded.confirmed.view === this.ownAssertionHash && !this.withheld) return;
    const view = this.view(loaded);
    this.removalPending = view.withheldSome;
    // A new client is empty already.
    if (this.reused || view.text !== EMPTY_MSAL) this.replaceClientCache(tokenCache, loaded, this.reused, view.text);
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
    const base = this.base(loaded);
    const combined = withHiddenEntries(msal, base.msal, this.ownAssertionHash);
    if (!loaded.rewrite && jsonEqual(base.msal, combined)) return;
    if (loaded.unavailable) {
      this.unsaved = true;
      return;
    }
    // Once written, the client takes exactly what was written (merged, pruned, its on-behalf-of tokens re-keyed).
    if (await this.save(loaded, stampChanges(base, combined, this.now()))) {
      this.replaceClientCache(tokenCache, loaded, true, this.view(loaded).text);
    }
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
    if (loaded.rewrite && !loaded.unavailable) await this.save(loaded, this.base(loaded));
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
    const base = this.base(loaded);
    const combined: JsonObject = { ...base.msal };
    for (const [section, entries] of Object.entries(msal)) {
      const existing = combined[section];
      combined[section] = isObject(entries) && isObject(existing) ? { ...existing, ...entries } : entries;
    }
    if (!loaded.rewrite && jsonEqual(base.msal, combined)) return;
    await this.save(loaded, stampChanges(base, combined, this.now()));
  }

  /** Deletes the partition's whole document (sign-out, purge). Store errors propagate: the caller must know. */
  async purge(): Promise<boolean> {
    const started = performance.now();
    try {
      return await this.options.store.delete(this.partitionKey);
    } finally {
      this.stats.storeMs += performance.now() - started;
    }
  }

  /** Loads the partition (at most one store read per invocation; Table and Redis: one more when the ETag changed). */
  load(): Promise<Loaded> {
    this.loading ??= this.initialRead().then(
      (loaded): Loaded => {
        if (loaded.foreign) loaded.unavailable = true;
        return (this.loaded = loaded);
      },
      (error: unknown): Loaded => {
        if (error instanceof StoreCorruptError && error.etag !== undefined) {
          // Malformed at the store level but answered with its ETag: unusable like a document that fails to open.
          this.stats.reads++;
          const loaded = empty(error.etag);
          this.discard(loaded, error);
          return (this.loaded = loaded);
        }
        this.stats.failures++;
        this.logger.warn(
          `token cache: store read failed for partition ${this.partitionKey}; continuing without the cache: ${describeError(error)}`,
        );
        return (this.loaded = { ...empty(undefined), unavailable: true });
      },
    );
    return this.loading;
  }

  /**
   * Writes `ours`; on conflict merges it with what is stored now and retries. Once written, `loaded` is the document
   * written and the answer true; false when nothing was written.
   */
  private async save(loaded: Loaded, ours: CacheDocument): Promise<boolean> {
    const attempts = this.options.maxWriteAttempts ?? 20;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) this.stats.retries++;
      const document = OpenedDocument.of(pruneDocument(ours, Math.floor(this.now() / 1000)));
      try {
        loaded.etag = await this.write(document, loaded.etag);
        loaded.document = document;
        loaded.rewrite = false;
        this.unsaved = false;
        return true;
      } catch (error) {
        if (!(error instanceof StoreError) || error.code !== 'store_conflict') {
          this.unsaved = true;
          this.stats.failures++;
          const level = error instanceof StoreError && error.code === 'store_too_large' ? 'error' : 'warn';
          this.logger[level](
            `token cache: store write failed for partition ${this.partitionKey}; the token is still returned: ${describeError(error)}`,
          );
          return false;
        }
        this.stats.conflicts++;
        if (attempt === attempts) break;
        // Full jitter: contending writers spread out instead of colliding again in lock-step.
        await sleep(Math.random() * Math.min(1000, 10 * 2 ** attempt));
        let theirs: Loaded;
        try {
          theirs = await this.readDocument();
        } catch (readError) {
          this.unsaved = true;
          this.stats.failures++;
          this.logger.warn(
            `token cache: re-read after a write conflict failed for partition ${this.partitionKey}: ${describeError(readError)}`,
          );
          return false;
        }
        if (loaded.etag !== undefined && theirs.etag === undefined) {
          // Removed since this invocation read it (sign-out, erasure, expiry): the removal wins. The token is still
          // returned; nothing of this invocation's is written back.
          this.unsaved = true;
          this.logger.info(
            `token cache: partition ${this.partitionKey} was removed while this invocation ran; its tokens are not kept`,
          );
          return false;
        }
        if (theirs.foreign) {
          // Another instance, with a newer key ring, wrote it meanwhile: not ours to replace.
          loaded.unavailable = true;
          this.unsaved = true;
          return false;
        }
        ours = mergeDocuments(this.base(loaded), ours, this.base(theirs));
        loaded.document = theirs.document;
        loaded.etag = theirs.etag;
      }
    }
    this.unsaved = true;
    this.logger.warn(
      `token cache: gave up writing partition ${this.partitionKey} after ${attempts} conflicting attempts; the token is still returned`,
    );
    return false;
  }

  /**
   * The invocation's first read. A client kept from the previous invocation asks the store only whether its
   * document is still current, the cheapest way the store offers (Cosmos DB: If-None-Match; Table: the ETag
   * alone; Redis: the version field; memory: the version), and opens nothing when it is. Written as one promise
   * reaction on the store's answer, not as awaits through helpers: each of those cost a warm call about a microsecond.
   */
  private initialRead(): Promise<Loaded> {
    const held = this.held;
    this.held = undefined;
    if (!held) return this.readDocument();
    const { store } = this.options;
    const { partitionKey } = this;
    if (store.readVersion) {
      return this.timed(
        () => store.readVersion!(partitionKey),
        (version): Loaded | Promise<Loaded> => {
          if (version === undefined) return empty(undefined);
          return version === held.etag ? this.warmHit(held) : this.readDocument(held);
        },
      );
    }
    if (store.readIfChanged) {
      return this.timed(
        () => store.readIfChanged!(partitionKey, held.etag),
        (answer): Loaded => {
          if (answer === 'unchanged') return this.warmHit(held);
          return answer ? this.openDocument(answer) : empty(undefined);
        },
      );
    }
    return this.readDocument(held);
  }

  private warmHit(held: Held): Loaded {
    this.stats.tierHits++;
    return { document: held.document, etag: held.etag, rewrite: false, unavailable: false, confirmed: held };
  }

  /**
   * One store read, opened. An unusable document is logged and treated as empty (see openDocument). When the client
   * already holds the document read (same ETag), nothing is opened.
   */
  private readDocument(held?: Held): Promise<Loaded> {
    return this.timed(
      () => this.options.store.read(this.partitionKey),
      (stored): Loaded => {
        if (!stored) return empty(undefined);
        if (held && stored.etag === held.etag) return this.warmHit(held);
        return this.openDocument(stored);
      },
    );
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
  private openDocument(stored: StoredDocument): Loaded {
    this.stats.bytesRead += stored.data.byteLength;
    try {
      const { plaintext, keyId } = open(this.options.keyRing, this.partitionKey, stored.data);
      const document = new OpenedDocument(plaintext.toString('utf8'));
      void document.msalText; // checks the document's shape now (throws bad_envelope)
      const rewrite = keyId !== this.options.keyRing.current.id;
      return { document, etag: stored.etag, rewrite, unavailable: false };
    } catch (error) {
      if (isForeignSeal(error)) {
        this.stats.foreign = true;
        this.logger.error(
          `token cache: stored document for partition ${this.partitionKey} was written by an instance with a newer key ring or library; left as it is, served without the cache (add the key to this instance's ring): ${describeError(error)}`,
        );
        return { ...empty(stored.etag), foreign: true };
      }
      const loaded = empty(stored.etag);
      this.discard(loaded, error);
      return loaded;
    }
  }

  /** The stored document is unusable: treated as empty; not rewritten now, the next write (on its ETag) replaces it. */
  private discard(loaded: Loaded, error: unknown): void {
    this.stats.discarded = true;
    loaded.document = emptyDocument();
    loaded.rewrite = false;
    this.logger.warn(
      `token cache: stored document for partition ${this.partitionKey} is unusable and will be replaced: ${describeError(error)}`,
    );
  }

  /** The parsed document, the base of a merge; an unparsable one counts as unusable (and empty). */
  private base(loaded: Loaded): CacheDocument {
    try {
      return loaded.document.doc;
    } catch (error) {
      this.discard(loaded, error);
      return loaded.document.doc;
    }
  }

  /**
   * What MSAL is shown of the document, as JSON text: all of it but the on-behalf-of access tokens of other incoming
   * tokens (obo.ts) and the withheld ones (withhold.ts). For a flow without an incoming token or withheld tokens, on a
   * document naming no incoming token, MSAL's part as it is: nothing parsed here (an on-behalf-of flow always gets a
   * filtered copy: it is shown its own incoming token's tokens only).
   */
  private view(loaded: Loaded): { readonly text: string; readonly withheldSome: boolean } {
    const { document } = loaded;
    if (this.ownAssertionHash === undefined && !this.withheld && !namesIncomingToken(document.text)) {
      return { text: document.msalText, withheldSome: false };
    }
    const visible = visibleEntries(this.base(loaded).msal, this.ownAssertionHash);
    const shown = this.withheld ? withoutAccessTokens(visible, this.withheld) : visible;
    return { text: JSON.stringify(shown), withheldSome: shown !== visible };
  }

  /**
   * Makes the client hold exactly `text`, what MSAL is shown of `loaded`'s document: its in-memory cache, and the
   * snapshot MSAL keeps of the last text deserialized (msal-node's silent flow restores the in-memory cache from that
   * snapshot before every lookup, and serialize() merges with it). MSAL's `deserialize` adds the entries it is given
   * to those in memory and keeps the others, so a client holding other entries is emptied first.
   */
  private replaceClientCache(
    tokenCache: ISerializableTokenCache,
    loaded: Loaded,
    holdsOthers: boolean,
    text: string,
  ): void {
    if (holdsOthers) this.client?.clearCache();
    try {
      tokenCache.deserialize(text);
    } catch (error) {
      this.discard(loaded, error);
      this.client?.clearCache();
      tokenCache.deserialize(EMPTY_MSAL);
    }
  }

  /** One store read, timed and counted (a failed one counts as a failure, by load()), and `then` of its answer. */
  private timed<T, R>(read: () => Promise<T>, then: (answer: T) => R | Promise<R>): Promise<R> {
    const started = performance.now();
    const stop = () => {
      this.stats.storeMs += performance.now() - started;
    };
    let reading: Promise<T>;
    try {
      reading = read();
    } catch (error) {
      // A store that throws instead of rejecting: its error, rejected as it is (load() handles it like any other).
      stop();
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return Promise.reject(error);
    }
    return reading.then(
      (answer) => {
        stop();
        this.stats.reads++;
        return then(answer);
      },
      (error: unknown) => {
        stop();
        throw error;
      },
    );
  }

  private async write(document: OpenedDocument, etag: string | undefined): Promise<string> {
    const sealed = seal(this.options.keyRing, this.partitionKey, Buffer.from(document.text, 'utf8'), {
      compress: this.options.compress ?? DEFAULT_COMPRESS,
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

function empty(etag: string | undefined): Loaded {
  return { document: emptyDocument(), etag, rewrite: false, unavailable: false };
}

const ASSERTION_FIELD = '"userAssertionHash":"';

/**
 * Whether the document text names an incoming token (a non-empty `userAssertionHash`). The field's quoted name can
 * only be a key of the JSON: inside a JSON string a quote is escaped.
 */
function namesIncomingToken(text: string): boolean {
  for (let at = text.indexOf(ASSERTION_FIELD); at >= 0; at = text.indexOf(ASSERTION_FIELD, at + 1)) {
    if (text[at + ASSERTION_FIELD.length] !== '"') return true;
  }
  return false;
}
