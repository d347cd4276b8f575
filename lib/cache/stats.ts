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
   * The store confirmed the ETag of the document the partition's warm client (warm tier) holds: nothing was
   * decrypted, and nothing deserialized when the client was shown it for the same incoming token (or flow) before.
   */
  tierHits: number;
  /**
   * The warm client's answer to the same request, given for the document the store confirmed unchanged, was served
   * again without asking MSAL (the token still outside MSAL's renewal window).
   */
  tierAnswers: number;
  /**
   * The stored document failed to open under a key of the ring (tampered, truncated, copied from another partition):
   * it was treated as empty and is replaced by the next write.
   */
  discarded: boolean;
  /**
   * The stored document is sealed under a key id the ring lacks, or in a format version this library does not know —
   * written by an instance with a newer key ring or library. It is not ours to replace: the invocation went on as
   * with an unreadable store (served from the identity provider, nothing written) and logged an error naming the key
   * id or version.
   */
  foreign: boolean;
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
    tierAnswers: 0,
    discarded: false,
    foreign: false,
    bytesRead: 0,
    bytesWritten: 0,
    storeMs: 0,
  };
}

/** The stats but the time: what `telemetryHead` writes before it. */
export type StatsCounts = Omit<CacheStats, 'storeMs'>;

/** Whether two invocations' stats count the same (their times aside). */
export function sameCounts(a: StatsCounts, b: StatsCounts): boolean {
  return (
    a.reads === b.reads &&
    a.writes === b.writes &&
    a.conflicts === b.conflicts &&
    a.retries === b.retries &&
    a.failures === b.failures &&
    a.tierHits === b.tierHits &&
    a.tierAnswers === b.tierAnswers &&
    a.discarded === b.discarded &&
    a.foreign === b.foreign &&
    a.bytesRead === b.bytesRead &&
    a.bytesWritten === b.bytesWritten
  );
}
