/** Options of the warm tier (see {@link WarmTier}). */
export interface WarmTierOptions {
  /**
   * Bytes of partitions kept, as estimated by {@link estimateHeldBytes}; the least recently used go first. `0`
   * turns the tier off. @defaultValue {@link DEFAULT_WARM_TIER_BYTES}
   */
  readonly maxBytes?: number;
}

/** What the warm tier holds now. */
export interface WarmTierUsage {
  /** Partitions whose client is kept (clients in use by an invocation are not counted). */
  readonly partitions: number;
  /** Their estimated bytes (see {@link estimateHeldBytes}). */
  readonly bytes: number;
  /** The bound; 0 when the tier is off. */
  readonly maxBytes: number;
}

/** Default {@link WarmTierOptions.maxBytes}: 32 MiB. */
export const DEFAULT_WARM_TIER_BYTES = 32 * 1024 * 1024;

/**
 * What one kept partition costs, estimated from its document's plaintext length — the MSAL client and its in-memory
 * cache, the document text kept for the next merge, and MSAL's own copy of it. Measured (live heap retained per
 * partition after full GCs, 400 partitions each, silent flow): 14.9 KB for a 5.7 KB plaintext, 56 KB for 27 KB,
 * 437 KB for 216 KB — about 3.4 KB plus 2 bytes per character; the estimate rounds both up so that the bound is
 * never exceeded by more than the estimate's error. `npm run bench` (scenario 7) reports both for 10,000 partitions.
 */
const PER_CLIENT_BYTES = 6 * 1024;
const BYTES_PER_CHARACTER = 2.5;

export function estimateHeldBytes(plaintextLength: number): number {
  return Math.ceil(PER_CLIENT_BYTES + BYTES_PER_CHARACTER * plaintextLength);
}

/**
 * What one answer the client keeps costs (see `keptAnswer`): a deep copy holding its own access token and two copies
 * of the ID token (msal-node also puts it in the account). Measured (5,000 copies, live heap after full GCs): 2.0 KB
 * plus 1 byte per character of each; rounded up to 3 KiB for accounts with more claims.
 */
const PER_ANSWER_BYTES = 3 * 1024;

export function estimateAnswerBytes(answer: { readonly accessToken: string; readonly idToken: string }): number {
  return PER_ANSWER_BYTES + answer.accessToken.length + 2 * answer.idToken.length;
}

/**
 * The warm tier: per process, per partition, the last MSAL client with its in-memory cache (`T`), bounded by bytes,
 * least recently used evicted first. An entry is TAKEN by the invocation that uses it — it is out of the tier while
 * in use, so two invocations never share a client, and the invocations that find none meanwhile load as usual —
 * and PUT back by that invocation when it ends holding exactly the stored document at a known ETag. The tier itself
 * never answers anything: every invocation still revalidates the ETag with the store (see PartitionCachePlugin).
 */
export class WarmTier<T> {
  readonly maxBytes: number;
  private readonly entries = new Map<string, { readonly value: T; readonly bytes: number }>();
  private total = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Removes and returns the partition's entry, for one invocation's exclusive use. */
  take(partitionKey: string): T | undefined {
    const entry = this.entries.get(partitionKey);
    if (!entry) return undefined;
    this.remove(partitionKey, entry.bytes);
    return entry.value;
  }

  /**
   * Keeps `value` as the partition's most recent entry (replacing one a concurrent invocation put back meanwhile),
   * then evicts the least recently used until the tier is within its bound. An entry over the bound is not kept.
   */
  put(partitionKey: string, value: T, bytes: number): boolean {
    this.drop(partitionKey);
    if (bytes > this.maxBytes) return false;
    this.entries.set(partitionKey, { value, bytes });
    this.total += bytes;
    if (this.total <= this.maxBytes) return true;
    for (const [key, entry] of this.entries) {
      if (this.total <= this.maxBytes) break;
      this.remove(key, entry.bytes);
    }
    return true;
  }

  /** The partition's entry, left in the tier and in its LRU place: to read what it knows, never to use it (see {@link take}). */
  peek(partitionKey: string): T | undefined {
    return this.entries.get(partitionKey)?.value;
  }

  drop(partitionKey: string): void {
    const entry = this.entries.get(partitionKey);
    if (entry) this.remove(partitionKey, entry.bytes);
  }

  has(partitionKey: string): boolean {
    return this.entries.has(partitionKey);
  }

  /** Estimated bytes held. */
  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.entries.size;
  }

  private remove(partitionKey: string, bytes: number): void {
    this.entries.delete(partitionKey);
    this.total -= bytes;
  }
}
