import { StoreConflictError, describeError, userPartitionKey, type TokenCacheLogger } from '../lib/index.js';
import { disableBackground } from './daemons/optin.js';
import { readRecord, writeRecord, type RecordContext } from './records.js';
import type { AppRuntime } from './runtime.js';

/**
 * One person, one or two partitions. The web app keys a person's cache on MSAL's homeAccountId — client_info's
 * `uid.utid`, their account in their HOME tenant — and the web API on the validated access token's `oid.tid`, their
 * account in the tenant that issued the token. For a member of the app's tenant the two are equal; for a B2B guest
 * they are not. The web app sees both at sign-in (the homeAccountId and the id token's `oid`/`tid`) and records a
 * sealed link each way, `link.{partition}` → the person's other partitions; erasure from either side follows them.
 */
const LINK_PREFIX = 'link.';
/** Most partitions one person's link record names (a guest re-invited over the years gets a new resource oid). */
const MAX_LINKED = 16;

interface LinkContent {
  readonly partitions: readonly string[];
}

function parseLinks(json: unknown): LinkContent | undefined {
  const { partitions } = (json ?? {}) as { partitions?: unknown };
  if (!Array.isArray(partitions) || !partitions.every((p) => typeof p === 'string')) return undefined;
  return { partitions };
}

async function linksOf(records: RecordContext, partitionKey: string, logger: TokenCacheLogger): Promise<string[]> {
  const record = await readRecord(records, `${LINK_PREFIX}${partitionKey}`, parseLinks, logger);
  return [...(record?.value?.partitions ?? [])];
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
 * Records that `a` and `b` are partitions of one person (nothing when equal). One read when the link exists; the
 * reverse link is written first, so a forward link present means both are. Store errors propagate.
 */
export async function linkPartitions(
  records: RecordContext,
  a: string,
  b: string | undefined,
  logger: TokenCacheLogger,
): Promise<void> {
  if (b === undefined || a === b || (await linksOf(records, a, logger)).includes(b)) return;
  await addLink(records, b, a, logger);
  await addLink(records, a, b, logger);
}

async function addLink(records: RecordContext, from: string, to: string, logger: TokenCacheLogger): Promise<void> {
  const key = `${LINK_PREFIX}${from}`;
  for (let attempt = 1; ; attempt++) {
    const current = await readRecord(records, key, parseLinks, logger);
    const linked = current?.value?.partitions ?? [];
    if (linked.includes(to)) return;
    try {
      // A record that does not open is replaced: it is this app's key, and a forged link must not stand.
      await writeRecord(records, key, { partitions: [to, ...linked].slice(0, MAX_LINKED) }, { ifMatch: current?.etag });
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
