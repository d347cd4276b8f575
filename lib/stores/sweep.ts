import { abortable, throwIfAborted } from '../abort.js';
import type { TokenCacheLogger } from '../log.js';
import { DEFAULT_LIST_PAGE_SIZE, StoreConflictError, type CacheStore } from './store.js';

/** Most expired documents one sweep removes (or skips) before it stops; the next sweep continues. */
export const DEFAULT_SWEEP_BUDGET = 1000;

export interface SweepOptions {
  /** Most documents examined for deletion in this run. @defaultValue {@link DEFAULT_SWEEP_BUDGET} */
  readonly budget?: number;
  /** Documents listed per store page. @defaultValue {@link DEFAULT_LIST_PAGE_SIZE} */
  readonly pageSize?: number;
  /** What counts as expired: `expiresAt` before this instant. @defaultValue now */
  readonly now?: Date;
  /** Where the one summary line goes. @defaultValue no logging */
  readonly logger?: TokenCacheLogger;
  /**
   * Stops the sweep (a timer's time limit): it rejects with code `aborted`, checked before each store call. What it
   * removed stays removed; the next sweep continues.
   */
  readonly abortSignal?: AbortSignal;
}

export interface SweepResult {
  readonly removed: number;
  /** Listed as expired but rewritten since (a user came back): left alone. */
  readonly skipped: number;
  readonly pages: number;
  /** The budget ran out before the last page: the next run continues. */
  readonly budgetReached: boolean;
}

/**
 * Deletes documents whose expiry has passed, page by page, within a budget — for stores without native expiry
 * (Table storage; Cosmos DB has per-item `ttl`, Redis key expiry). Each delete is conditional on the ETag the
 * document was listed with, so a document refreshed meanwhile is never removed. Store errors propagate.
 *
 * @example
 * ```ts
 * const { removed } = await sweepExpired(store, { budget: 500, logger: context, abortSignal: AbortSignal.timeout(60_000) });
 * ```
 */
export async function sweepExpired(store: CacheStore, options: SweepOptions = {}): Promise<SweepResult> {
  const now = options.now ?? new Date();
  const budget = options.budget ?? DEFAULT_SWEEP_BUDGET;
  let removed = 0;
  let skipped = 0;
  let pages = 0;
  let continuationToken: string | undefined;
  const { abortSignal } = options;
  do {
    const remaining = budget - removed - skipped;
    if (remaining <= 0) break;
    throwIfAborted(abortSignal);
    const listing = store.list({
      expiredBefore: now,
      pageSize: Math.min(options.pageSize ?? DEFAULT_LIST_PAGE_SIZE, remaining),
      ...(continuationToken ? { continuationToken } : {}),
    });
    const page = await abortable(listing, abortSignal);
    pages++;
    continuationToken = page.continuationToken;
    for (const entry of page.entries) {
      throwIfAborted(abortSignal);
      try {
        if (await abortable(store.delete(entry.partitionKey, { ifMatch: entry.etag }), abortSignal)) removed++;
      } catch (error) {
        if (!(error instanceof StoreConflictError)) throw error;
        skipped++;
      }
    }
  } while (continuationToken);
  const result = { removed, skipped, pages, budgetReached: continuationToken !== undefined };
  options.logger?.info(
    `token cache sweep (${store.kind}): removed ${removed} expired document(s), skipped ${skipped} refreshed meanwhile, ${pages} page(s)` +
      (result.budgetReached ? '; budget reached, the next run continues' : ''),
  );
  return result;
}
