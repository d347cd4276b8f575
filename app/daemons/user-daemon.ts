import type { InvocationContext, Timer } from '@azure/functions';
import { classifyTokenError, describeError } from '../../lib/index.js';
import { ClaimsRetryFailed, callWithClaimsRetry } from '../claims-retry.js';
import type { AppRuntime } from '../runtime.js';
import { listOptIns, partitionOfOptInKey, pauseBackground, readOptIn, renewIfOld } from './optin.js';
import { renewLinks } from '../people.js';

/** Default {@link UserDaemonOptions.pageSize}. */
export const DEFAULT_USER_DAEMON_PAGE_SIZE = 100;

export interface UserDaemonOptions {
  /** Users worked on at once. */
  readonly concurrency: number;
  /** Most users per run. */
  readonly budget: number;
  /** Users listed per store page. Default {@link DEFAULT_USER_DAEMON_PAGE_SIZE}. */
  readonly pageSize?: number;
  /** Continue from a previous run's cursor (so a budget smaller than the user count still reaches everyone). */
  readonly cursor?: string;
}

export interface UserDaemonResult {
  readonly processed: number;
  readonly succeeded: number;
  /** Users whose refresh was rejected, or whose claims challenge needs them: paused until they sign in again. */
  readonly paused: number;
  /** Other failures (identity provider, downstream or store unavailable): retried next run. */
  readonly failed: number;
  /**
   * Listed but not worked on: paused, gone since the listing, or a record that does not open (logged); and people
   * whose opt-in changed while the daemon worked, so that the pause it decided did not apply.
   */
  readonly skipped: number;
  /** Where the next run continues; undefined when this run reached the end of the list. */
  readonly cursor: string | undefined;
  /** Highest number of users in flight at once (≤ concurrency). */
  readonly peakConcurrency: number;
}

/**
 * One run of the user daemon: pages through users who opted in, and for each — with bounded concurrency and a
 * per-run budget — opens their sealed opt-in record (one read), gets a token silently from their own partition
 * (refreshing when needed) and calls the downstream API on their behalf. A user whose refresh token is rejected is
 * paused (conditionally on the record read), not retried forever. A claims challenge of the downstream API
 * (Continuous Access Evaluation) is answered once, silently with its claims; a user the identity provider needs for
 * them (a revoked session) is paused the same way, with reason `insufficient_claims:{code}`.
 */
export async function runUserDaemon(
  timer: Timer | undefined,
  context: InvocationContext,
  runtime: AppRuntime,
  options: UserDaemonOptions,
): Promise<UserDaemonResult> {
  if (timer?.isPastDue) context.warn('user daemon: this run is past due');
  const counts = { processed: 0, succeeded: 0, paused: 0, failed: 0, skipped: 0 };
  let inFlight = 0;
  let peakConcurrency = 0;
  let cursor = options.cursor;
  let reachedEnd = false;

  const work = async (partitionKey: string): Promise<void> => {
    inFlight++;
    peakConcurrency = Math.max(peakConcurrency, inFlight);
    try {
      // The listing only names candidates: act on what the sealed record says now, and change it only over this
      // version of it.
      const optIn = await readOptIn(runtime, partitionKey, context).catch((error: unknown) => {
        counts.failed++;
        context.warn(`user daemon: opt-in of partition ${partitionKey} unreadable now: ${describeError(error)}`);
        return null;
      });
      if (optIn === null) return;
      if (optIn?.status !== 'active') {
        counts.skipped++;
        return;
      }
      try {
        await callWithClaimsRetry(runtime.settings.web.downstreamUrl, (claims) =>
          runtime.tokens.acquireTokenSilent(
            {
              homeAccountId: partitionKey,
              scopes: runtime.settings.web.downstreamScopes,
              ...(claims ? { claims } : {}),
            },
            { logger: context, operation: claims ? 'user-daemon-claims' : 'user-daemon' },
          ),
        );
        counts.succeeded++;
        // The person's links (a B2B guest's other partition) are renewed with their opt-in: erasure follows them.
        await renewIfOld(runtime, optIn)
          .then((renewed) => (renewed ? renewLinks(runtime, partitionKey, context) : undefined))
          .catch((e: unknown) =>
            context.warn(`user daemon: could not renew the opt-in of partition ${partitionKey}: ${describeError(e)}`),
          );
      } catch (thrown) {
        const retry = thrown instanceof ClaimsRetryFailed ? thrown : undefined;
        const error = retry ? retry.cause : thrown;
        const failure = classifyTokenError(error);
        // Paused only when sign-in is needed: the identity provider rejected the refresh (invalid_grant, interaction
        // required) or the partition was read and holds no account. A store that could not read the partition
        // (`store_unavailable`) says nothing about the user: a failure for now, retried next run.
        if (failure.kind === 'interaction_required') {
          const reason = retry ? `insufficient_claims:${failure.code}` : failure.code;
          const paused = await pauseBackground(runtime, optIn, reason).catch((e: unknown) => {
            context.warn(`user daemon: could not pause partition ${partitionKey}: ${describeError(e)}`);
            return undefined;
          });
          if (paused) {
            counts.paused++;
            context.warn(`user daemon: partition ${partitionKey} needs sign-in (${reason}); paused`);
          } else if (paused === false) {
            counts.skipped++;
            context.info(`user daemon: partition ${partitionKey} changed its opt-in meanwhile; not paused`);
          } else {
            counts.failed++;
          }
        } else {
          counts.failed++;
          context.warn(`user daemon: partition ${partitionKey} failed (${failure.kind}): ${describeError(error)}`);
        }
      }
    } finally {
      inFlight--;
    }
  };

  const queue: string[] = [];
  const workers: Promise<void>[] = [];
  let listingDone = false;
  const nextPartition = async (): Promise<string | undefined> => {
    while (queue.length === 0 && !listingDone) {
      const remaining = options.budget - counts.processed;
      if (remaining <= 0) {
        listingDone = true;
        break;
      }
      const page = await listOptIns(
        runtime,
        Math.min(options.pageSize ?? DEFAULT_USER_DAEMON_PAGE_SIZE, remaining),
        cursor,
      );
      cursor = page.continuationToken;
      if (!cursor) {
        reachedEnd = true;
        listingDone = true;
      }
      queue.push(...page.entries.map((entry) => partitionOfOptInKey(entry.partitionKey)));
    }
    return queue.shift();
  };
  let listing: Promise<string | undefined> = Promise.resolve(undefined);
  const take = (): Promise<string | undefined> => {
    // Serialise listing so two workers never fetch the same page.
    listing = listing.then(async () => {
      if (counts.processed >= options.budget) return undefined;
      const partitionKey = await nextPartition();
      if (partitionKey !== undefined) counts.processed++;
      return partitionKey;
    });
    return listing;
  };
  for (let i = 0; i < options.concurrency; i++) {
    workers.push(
      (async () => {
        for (let partitionKey = await take(); partitionKey !== undefined; partitionKey = await take()) {
          await work(partitionKey);
        }
      })(),
    );
  }
  await Promise.all(workers);
  const result = { ...counts, cursor: reachedEnd && queue.length === 0 ? undefined : cursor, peakConcurrency };
  context.info(
    `user daemon: processed ${result.processed}, succeeded ${result.succeeded}, paused ${result.paused}, failed ${result.failed}, skipped ${result.skipped}` +
      (result.cursor ? ' (budget reached; the next run continues)' : ''),
  );
  return result;
}

const CURSOR_KEY = 'state.user-daemon';

/** A timer run: continues from where the previous run's budget stopped, and records where to continue next. */
export async function runScheduledUserDaemon(
  timer: Timer,
  context: InvocationContext,
  runtime: AppRuntime,
): Promise<UserDaemonResult> {
  const stored = await runtime.recordStore.read(CURSOR_KEY).catch((error: unknown) => {
    context.warn(`user daemon: cursor unreadable, starting from the first user: ${describeError(error)}`);
    return undefined;
  });
  const cursor = stored ? Buffer.from(stored.data).toString('utf8') : undefined;
  const { userConcurrency, userBudget } = runtime.settings.daemons;
  let result: UserDaemonResult;
  try {
    result = await runUserDaemon(timer, context, runtime, { concurrency: userConcurrency, budget: userBudget, cursor });
  } catch (error) {
    if (!cursor) throw error;
    // A continuation token the store no longer accepts: start over rather than stall forever.
    context.warn(`user daemon: stored cursor rejected, starting from the first user: ${describeError(error)}`);
    result = await runUserDaemon(timer, context, runtime, { concurrency: userConcurrency, budget: userBudget });
  }
  try {
    if (result.cursor) {
      await runtime.recordStore.write(CURSOR_KEY, Buffer.from(result.cursor), stored ? { ifMatch: stored.etag } : {});
    } else if (stored) {
      await runtime.recordStore.delete(CURSOR_KEY);
    }
  } catch (error) {
    context.warn(`user daemon: could not save the cursor: ${describeError(error)}`);
  }
  return result;
}
