import type { InvocationContext, Timer } from '@azure/functions';
import { StoreConflictError, type CacheStore } from '../cache/stores/store.js';
import { describeError } from '../log.js';

export interface SweepResult {
  readonly removed: number;
  /** Listed as expired but rewritten since (a user came back): left alone. */
  readonly skipped: number;
  readonly pages: number;
  /** The budget ran out before the last page: the next run continues. */
  readonly budgetReached: boolean;
}

/**
 * Deletes documents whose expiry has passed, page by page, at most `budget` per run — for stores without native
 * expiry (Table storage; Cosmos has per-item `ttl`, Redis key expiry). Each delete is conditional on the ETag it was
 * listed with, so a document refreshed meanwhile is never removed.
 */
export async function sweepExpired(
  store: CacheStore,
  context: InvocationContext,
  options: { readonly budget: number; readonly pageSize?: number; readonly now?: Date },
): Promise<SweepResult> {
  const now = options.now ?? new Date();
  let removed = 0;
  let skipped = 0;
  let pages = 0;
  let continuationToken: string | undefined;
  do {
    const remaining = options.budget - removed - skipped;
    if (remaining <= 0) break;
    const page = await store.list({
      expiredBefore: now,
      pageSize: Math.min(options.pageSize ?? 100, remaining),
      ...(continuationToken ? { continuationToken } : {}),
    });
    pages++;
    continuationToken = page.continuationToken;
    for (const entry of page.entries) {
      try {
        if (await store.delete(entry.partitionKey, { ifMatch: entry.etag })) removed++;
      } catch (error) {
        if (!(error instanceof StoreConflictError)) throw error;
        skipped++;
      }
    }
  } while (continuationToken);
  const result = { removed, skipped, pages, budgetReached: continuationToken !== undefined };
  context.info(
    `cache sweeper: removed ${removed} expired document(s), skipped ${skipped} refreshed meanwhile, ${pages} page(s)` +
      (result.budgetReached ? '; budget reached, the next run continues' : ''),
  );
  return result;
}

export async function runSweeper(
  timer: Timer,
  context: InvocationContext,
  store: CacheStore,
  budget: number,
): Promise<void> {
  if (timer.isPastDue) context.warn('cache sweeper: this run is past due');
  try {
    await sweepExpired(store, context, { budget });
  } catch (error) {
    context.error(`cache sweeper: run failed, retried on the next schedule: ${describeError(error)}`);
  }
}
