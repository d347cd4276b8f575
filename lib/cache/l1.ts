import type { CacheDocument } from './document.js';

export interface L1Options {
  /** How long an entry may be used without asking the store. @defaultValue 5 seconds */
  readonly maxAgeMs?: number;
  /** Partitions kept; the least recently used goes first. @defaultValue 1,000 */
  readonly maxEntries?: number;
}

interface Entry {
  readonly doc: CacheDocument;
  readonly etag: string;
  readonly storedAt: number;
}

/**
 * An optional per-instance tier in front of the store: the last document (already decrypted and parsed) and its
 * ETag per partition. Safe by construction: the plugin's writes stay conditional on the ETag, so a stale entry
 * can only cause a conflict (then re-read and merge), never overwrite newer tokens; a conflict or a failed write
 * drops the entry. Within `maxAgeMs` it may serve a document another instance has changed meanwhile — keep it short.
 */
export class L1Cache {
  readonly maxAgeMs: number;
  private readonly maxEntries: number;
  private readonly entries = new Map<string, Entry>();

  constructor(options: L1Options = {}) {
    this.maxAgeMs = options.maxAgeMs ?? 5000;
    this.maxEntries = options.maxEntries ?? 1000;
  }

  /** The entry, whatever its age (the caller decides whether to revalidate). */
  peek(partitionKey: string): (Entry & { fresh: boolean }) | undefined {
    const entry = this.entries.get(partitionKey);
    if (!entry) return undefined;
    return { ...entry, fresh: Date.now() - entry.storedAt <= this.maxAgeMs };
  }

  set(partitionKey: string, doc: CacheDocument, etag: string): void {
    this.entries.delete(partitionKey);
    this.entries.set(partitionKey, { doc, etag, storedAt: Date.now() });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  /** Marks an entry as just confirmed by the store. */
  touch(partitionKey: string): void {
    const entry = this.entries.get(partitionKey);
    if (entry) this.set(partitionKey, entry.doc, entry.etag);
  }

  drop(partitionKey: string): void {
    this.entries.delete(partitionKey);
  }

  get size(): number {
    return this.entries.size;
  }
}
