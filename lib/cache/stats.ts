/** What one invocation's cache did, for telemetry. Counts, sizes and times only — never contents. */
export interface CacheStats {
  /** Store point reads (the first load plus one per conflict). */
  reads: number;
  /** Successful store writes. */
  writes: number;
  /** Writes rejected because the document changed since it was read (each followed by re-read and merge). */
  conflicts: number;
  /** Write attempts after the first (each follows a conflict; a write given up after a conflict has none). */
  retries: number;
  /** Reads or writes that failed (store unreachable, throttled, over its limit). */
  failures: number;
  /**
   * The invocation reused the partition's warm client (warm tier) after the store confirmed its document's ETag:
   * nothing was decrypted, parsed or deserialized.
   */
  tierHits: number;
  /** The stored document could not be opened (corrupt, foreign, unknown key or version) and was treated as empty. */
  discarded: boolean;
  bytesRead: number;
  bytesWritten: number;
  /** Wall-clock milliseconds spent waiting for the store. */
  storeMs: number;
}

export function emptyStats(): CacheStats {
  return {
    reads: 0,
    writes: 0,
    conflicts: 0,
    retries: 0,
    failures: 0,
    tierHits: 0,
    discarded: false,
    bytesRead: 0,
    bytesWritten: 0,
    storeMs: 0,
  };
}
