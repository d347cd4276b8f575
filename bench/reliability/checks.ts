/**
 * What must hold after a run under faults, checked against what the store and the authority hold (not against
 * what the app says about itself):
 * - every call answered: a token (200), or a clear refusal with a reason (503 with an error code, 401 / sign-in
 *   redirect only for a revoked person), within the bound;
 * - no refresh token lost: every person not revoked has, in their partition, the newest refresh token the authority
 *   issued them, and it redeems;
 * - nobody's background work paused but the revoked people's, and theirs paused;
 * - no cross-user entry: every partition belongs to a person of the run (or the app), and holds only entries of
 *   that person (account ids, and on-behalf-of tokens of that person's own access tokens only);
 * - bounded store round trips per token acquisition (here, from the telemetry), and store operations per invocation,
 *   token and record store together (invocations.ts, from the stores' counting wrappers).
 */
import { createHash } from 'node:crypto';
import { format } from 'node:util';
import { backgroundStatus, type BackgroundStatus } from '../../app/daemons/optin.js';
import { httpsRequest, trustingAgent } from '../../dev/https-trust.js';
import { appPartitionKey, type CacheStore } from '../../lib/index.js';
import { readStoredCache, isObject, type JsonObject } from '../support/stored.js';
import type { HttpAnswer } from './clients.js';
import { requestsOf, telemetryOf, type TelemetryLine } from './invocations.js';
import type { CallRecord, TimerAnswer } from './load.js';
import type { Person } from './people.js';
import type { FaultStack } from './stack.js';

/**
 * 503 reasons that mean "not now, retry": the store's or the identity provider's, never the person's
 * (`temporarily_unavailable`: the web API could not fetch the signing keys to validate the caller's token).
 */
export const UNAVAILABLE_ERRORS: ReadonlySet<string> = new Set([
  'store_unavailable',
  'identity_provider_unavailable',
  'temporarily_unavailable',
]);

const isTimer = (answer: HttpAnswer | TimerAnswer): answer is TimerAnswer => 'outcome' in answer;

/** A short label of an answer, for the figures: `200`, `503 store_unavailable`, `timer ok`... */
export function labelOf(record: CallRecord): string {
  const { answer } = record;
  if (isTimer(answer)) {
    if (answer.outcome === 'ok') return 'timer ok';
    if (answer.outcome === 'unanswered') return 'timer unanswered';
    return `timer failed: ${answer.reason?.replace(/ \(.*$/, '') ?? '?'}`;
  }
  if (answer.status === 0) return 'no answer';
  if (answer.status >= 300 && answer.status < 400) return `${answer.status} → ${answer.location ?? '?'}`;
  return answer.error ? `${answer.status} ${answer.error}` : String(answer.status);
}

/** Why an answer is not acceptable for this call, or undefined when it is. */
export function unacceptable(record: CallRecord, boundMs: number): string | undefined {
  const { answer, kind, revoked } = record;
  if (isTimer(answer)) {
    if (answer.outcome === 'unanswered') return answer.reason ?? 'timer run did not end';
    if (answer.outcome === 'failed' && !answer.unavailable) return `timer run failed: ${answer.reason ?? '?'}`;
    return undefined;
  }
  if (answer.status === 0) return answer.failure ?? 'no answer';
  if (record.ms > boundMs) return `answered after ${Math.round(record.ms)} ms`;
  const unavailable = answer.status === 503 && answer.error !== undefined && UNAVAILABLE_ERRORS.has(answer.error);
  switch (kind) {
    case 'web API':
      if (answer.status === 200) return undefined;
      if (unavailable && answer.retryAfter) return undefined;
      if (answer.status === 401 && revoked) return undefined;
      break;
    case 'web app':
      if (answer.status === 200) return undefined;
      if (unavailable && answer.retryAfter) return undefined;
      if (answer.status === 302 && answer.location === '/api/auth/login' && revoked) return undefined;
      break;
    case 'sign-in':
      if (answer.status === 302 && answer.location === '/api/profile') return undefined;
      if (answer.status === 503 && (answer.error === 'sign_in_not_saved' || unavailable)) return undefined;
      break;
    default:
      break;
  }
  const why = answer.description ? `: ${answer.description}` : '';
  return `${kind} answered ${labelOf(record)}${revoked ? ' (revoked person)' : ''}${why}`;
}

export interface RoundTrips {
  readonly acquisitions: number;
  /** Most store requests one acquisition made (reads, writes, conflicting writes, failed requests). */
  readonly max: number;
  /** Most conflicting writes one acquisition met. */
  readonly maxConflicts: number;
  /**
   * Acquisitions over the bound: 2 reads (the warm tier's version check, then the document when it changed) and 1
   * write, plus a write and a re-read per conflict; conflicts ≤ the write attempts (20).
   */
  readonly overBound: string[];
}

/** The store requests of each token acquisition, from the telemetry lines the functions logged. */
export function roundTrips(logs: readonly string[], maxWriteAttempts = 20): RoundTrips {
  const lines = logs.map(telemetryOf).filter((line): line is TelemetryLine => line !== undefined);
  let max = 0;
  let maxConflicts = 0;
  const overBound: string[] = [];
  for (const line of lines) {
    const requests = requestsOf(line);
    max = Math.max(max, requests);
    maxConflicts = Math.max(maxConflicts, line.conflicts);
    if (
      line.reads > 2 + line.conflicts ||
      line.writes > 1 ||
      requests > 3 + 2 * line.conflicts ||
      line.conflicts > maxWriteAttempts
    ) {
      overBound.push(`${line.op} ${line.partition}: ${JSON.stringify(line)}`);
    }
  }
  return { acquisitions: lines.length, max, maxConflicts, overBound };
}

/** Every partition key in the store. */
async function allPartitions(store: CacheStore): Promise<string[]> {
  const keys: string[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await store.list({ pageSize: 500, ...(continuationToken ? { continuationToken } : {}) });
    keys.push(...page.entries.map((e) => e.partitionKey));
    continuationToken = page.continuationToken;
  } while (continuationToken);
  return keys;
}

const sha256url = (text: string) => createHash('sha256').update(text).digest('base64url');

function entries(msal: JsonObject): { section: string; entry: JsonObject }[] {
  return Object.entries(msal).flatMap(([section, value]) =>
    isObject(value)
      ? Object.values(value)
          .filter(isObject)
          .map((entry) => ({ section, entry }))
      : [],
  );
}

export interface CrossUserCheck {
  /** Entries of a partition that are not its owner's, and partitions of nobody in the run. */
  readonly found: string[];
  /** Entries looked at, and how many of them were on-behalf-of tokens (checked against the owner's assertions). */
  readonly entries: number;
  readonly onBehalfOf: number;
}

/** Entries of a partition that are not its owner's: another account id, or another person's on-behalf-of token. */
export async function crossUserEntries(stack: FaultStack, people: readonly Person[]): Promise<CrossUserCheck> {
  const { app, directTokens } = stack;
  const owners = new Map(people.map((p) => [p.partitionKey, p]));
  const appPartition = appPartitionKey(app.clientId, app.tenantId);
  const found: string[] = [];
  let checked = 0;
  let onBehalfOf = 0;
  for (const partitionKey of await allPartitions(directTokens)) {
    const person = owners.get(partitionKey);
    if (!person && partitionKey !== appPartition) {
      found.push(`${partitionKey}: a partition of nobody in this run`);
      continue;
    }
    const doc = await readStoredCache(directTokens, app.keyRing, partitionKey);
    const assertionHashes = new Set(person?.assertions.map(sha256url));
    for (const { section, entry } of entries(doc?.msal ?? {})) {
      checked++;
      const home = typeof entry.home_account_id === 'string' ? entry.home_account_id.toLowerCase() : '';
      if (home !== '' && home !== (person ? partitionKey : '')) {
        found.push(`${partitionKey}: ${section} entry of account ${home}`);
      }
      // msal-node's serialized name of an on-behalf-of token's incoming-token hash.
      const hash = entry.userAssertionHash;
      if (typeof hash !== 'string' || hash === '') continue;
      onBehalfOf++;
      if (!assertionHashes.has(hash)) {
        found.push(`${partitionKey}: ${section} entry of another access token (on-behalf-of)`);
      }
    }
  }
  return { found, entries: checked, onBehalfOf };
}

export interface RefreshTokenCheck {
  /** People (not revoked) whose partition lacks the newest refresh token the authority issued them. */
  readonly notNewest: string[];
  /** People (not revoked) whose stored refresh token the authority does not redeem. */
  readonly notRedeemed: string[];
}

/**
 * For every person not revoked: the partition holds the newest refresh token the authority issued them (for this
 * app), it is neither revoked nor superseded, and the authority redeems it (asked directly, not through the proxy).
 */
export async function refreshTokens(stack: FaultStack, people: readonly Person[]): Promise<RefreshTokenCheck> {
  const { app, authority, directTokens } = stack;
  const agent = trustingAgent(authority.ca);
  const notNewest: string[] = [];
  const notRedeemed: string[] = [];
  try {
    for (const person of people.filter((p) => !p.toRevoke)) {
      const doc = await readStoredCache(directTokens, app.keyRing, person.partitionKey);
      const stored = entries(doc?.msal ?? {})
        .filter(({ section }) => section === 'RefreshToken')
        .map(({ entry }) => entry.secret)
        .filter((secret): secret is string => typeof secret === 'string');
      const issued = authority.refreshTokens(app.clientId, person.oid);
      const newest = issued[issued.length - 1];
      if (!newest || !stored.includes(newest.token) || newest.revoked || newest.superseded) {
        notNewest.push(
          `${person.partitionKey}: ${stored.length} stored, newest of ${issued.length} issued ${newest ? (stored.includes(newest.token) ? 'stored' : 'not stored') : 'none'}`,
        );
      }
      const secret = newest && stored.includes(newest.token) ? newest.token : stored[0];
      if (!secret) {
        notRedeemed.push(`${person.partitionKey}: no refresh token stored`);
        continue;
      }
      const answer = await httpsRequest(agent, `${stack.authorityDirectUrl}/${app.tenantId}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: app.clientId,
          client_secret: 'dev-client-secret',
          refresh_token: secret,
          scope: 'https://graph.microsoft.com/User.Read offline_access',
        }).toString(),
      });
      if (answer.status !== 200) notRedeemed.push(`${person.partitionKey}: redemption answered ${answer.status}`);
    }
  } finally {
    agent.destroy();
  }
  return { notNewest, notRedeemed };
}

/**
 * Whether each person's background work is on, paused (needs sign-in) or off, as the app's record of it says —
 * read once the faults are healed. (The daemon's log lines are not enough: a pause whose write landed but whose
 * answer was lost is logged as not done, and the next run finds it paused.)
 */
export async function backgroundStatuses(
  stack: FaultStack,
  people: readonly Person[],
): Promise<Map<number, BackgroundStatus>> {
  const statuses = new Map<number, BackgroundStatus>();
  const line =
    (level: string) =>
    (...args: unknown[]) =>
      stack.log(level, 'checks', format(...args));
  const logger = { info: line('info'), warn: line('warn'), error: line('error') };
  for (const person of people) {
    statuses.set(person.index, await backgroundStatus(stack.app.runtime, person.partitionKey, logger));
  }
  return statuses;
}
