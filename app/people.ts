import { StoreConflictError, describeError, userPartitionKey, type TokenCacheLogger } from '../lib/index.js';
import { disableBackground } from './daemons/optin.js';
import { dueForRenewal, readRecord, writeRecord, type RecordContext } from './records.js';
import type { AppRuntime } from './runtime.js';

/**
 * One person, one or two partitions. The web app keys a person's cache on MSAL's homeAccountId — client_info's
 * `uid.utid`, their account in their HOME tenant — and the web API on the validated access token's `oid.tid`, their
 * account in the tenant that issued the token. For a member of the app's tenant the two are equal; for a B2B guest
 * they are not. The web app sees both at sign-in (the homeAccountId and the id token's `oid`/`tid`) and records a
 * sealed link each way, `link.{partition}` → the person's other partitions; erasure from either side follows them.
 * Links are renewed like opt-ins (see `dueForRenewal`) by the person's sign-ins and by the user daemon's renewal of
 * their opt-in, so they live as long as the web app partition they lead to.
 */
export const LINK_PREFIX = 'link.';
/** Most partitions one person's link record names (a guest re-invited over the years gets a new resource oid). */
const MAX_LINKED = 16;

interface LinkContent {
  readonly partitions: readonly string[];
  /** When it was last written; undefined in links of earlier versions (renewed at the next chance). */
  readonly updatedAt: Date | undefined;
}

function parseLinks(json: unknown): LinkContent | undefined {
  const { partitions, updatedAt } = (json ?? {}) as { partitions?: unknown; updatedAt?: unknown };
  if (!Array.isArray(partitions) || !partitions.every((p) => typeof p === 'string')) return undefined;
  const written = typeof updatedAt === 'string' ? new Date(updatedAt) : undefined;
  return { partitions, updatedAt: written && !Number.isNaN(written.getTime()) ? written : undefined };
}

function readLinks(records: RecordContext, partitionKey: string, logger: TokenCacheLogger) {
  return readRecord(records, `${LINK_PREFIX}${partitionKey}`, parseLinks, logger);
}

async function linksOf(records: RecordContext, partitionKey: string, logger: TokenCacheLogger): Promise<string[]> {
  return [...((await readLinks(records, partitionKey, logger))?.value?.partitions ?? [])];
}

/** Whether a link record needs no write to name `to` now: it names it and is not due for renewal. */
function current(records: RecordContext, links: LinkContent | undefined, to: string, now: Date): boolean {
  return links !== undefined && links.partitions.includes(to) && !dueForRenewal(records, links.updatedAt, now);
}

/** The partition the web API would use for the person an id token names (its `oid.tid`); undefined without them. */
export function partitionOfIdToken(claims: object | undefined, logger: TokenCacheLogger): string | undefined {
  try {
    return userPartitionKey(claims ?? {});
  } catch (error) {
    logger.warn(`the id token names no oid and tid, so no web API partition is linked: ${describeError(error)}`);
    return undefined;
  }
}

/**
 * Records that `a` and `b` are partitions of one person (nothing when equal), renewing links due for it. One read
 * when the link is current; the reverse link is written first, so a forward link present means both are. Store
 * errors propagate, and so does a link this instance lacks the key of (never replaced).
 */
export async function linkPartitions(
  records: RecordContext,
  a: string,
  b: string | undefined,
  logger: TokenCacheLogger,
  now = new Date(),
): Promise<void> {
  if (b === undefined || a === b || current(records, (await readLinks(records, a, logger))?.value, b, now)) return;
  await linkBothWays(records, a, b, logger, now);
}

/**
 * Renews the links of `partitionKey` both ways, when due (after the user daemon renewed the person's opt-in): one
 * read when none is.
 */
export async function renewLinks(
  records: RecordContext,
  partitionKey: string,
  logger: TokenCacheLogger,
  now = new Date(),
): Promise<void> {
  const links = (await readLinks(records, partitionKey, logger))?.value;
  for (const linked of links?.partitions ?? []) {
    if (!current(records, links, linked, now)) await linkBothWays(records, partitionKey, linked, logger, now);
  }
}

/** The reverse link first: a forward link present means both are. */
async function linkBothWays(records: RecordContext, a: string, b: string, logger: TokenCacheLogger, now: Date) {
  await addLink(records, b, a, logger, now);
  await addLink(records, a, b, logger, now);
}

async function addLink(
  records: RecordContext,
  from: string,
  to: string,
  logger: TokenCacheLogger,
  now: Date,
): Promise<void> {
  const key = `${LINK_PREFIX}${from}`;
  for (let attempt = 1; ; attempt++) {
    const stored = await readRecord(records, key, parseLinks, logger);
    if (current(records, stored?.value, to, now)) return;
    const others = (stored?.value?.partitions ?? []).filter((p) => p !== to);
    try {
      // A record that does not open is replaced: it is this app's key, and a forged link must not stand.
      await writeRecord(
        records,
        key,
        { partitions: [to, ...others].slice(0, MAX_LINKED), updatedAt: now.toISOString() },
        { ifMatch: stored?.etag, now },
      );
      return;
    } catch (error) {
      if (!(error instanceof StoreConflictError) || attempt === 3) throw error;
    }
  }
}

/** Every partition of the person behind `partitionKey`, it first, following links (bounded). */
async function partitionsOfPerson(
  records: RecordContext,
  partitionKey: string,
  logger: TokenCacheLogger,
): Promise<string[]> {
  const found = [partitionKey];
  for (let i = 0; i < found.length && found.length < MAX_LINKED; i++) {
    for (const linked of await linksOf(records, found[i]!, logger)) {
      if (!found.includes(linked)) found.push(linked);
    }
  }
  return found.slice(0, MAX_LINKED);
}

/**
 * Removes everything the app keeps for the person behind `partitionKey` (sign-out, `DELETE /api/me/cache`): every
 * linked partition's background opt-in first (nothing may work on a half-erased person), then its tokens, then the
 * links themselves — last, so that a failure part-way can be retried from either side. Store errors propagate.
 * Resolves the partitions removed.
 */
export async function erasePerson(
  runtime: AppRuntime,
  partitionKey: string,
  logger: TokenCacheLogger,
): Promise<string[]> {
  const partitions = await partitionsOfPerson(runtime, partitionKey, logger);
  await Promise.all(partitions.map((p) => disableBackground(runtime, p)));
  await Promise.all(partitions.map((p) => runtime.tokens.removePartition(p, { logger })));
  await Promise.all(partitions.map((p) => runtime.recordStore.delete(`${LINK_PREFIX}${p}`)));
  return partitions;
}
