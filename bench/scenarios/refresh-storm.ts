/**
 * The refresh storm: 50 invocations of ONE signed-in user redeem the user's refresh token at the same moment, each
 * for a resource not cached yet (so each gets an access token of its own and a rotated refresh token). The local
 * authority runs in strict rotation for the app (every redemption supersedes all older refresh tokens of the user:
 * only the one issued last still works) and holds the 50 token requests until all have arrived, so they are truly
 * simultaneous at the authority; then they are answered in the order they were decided.
 *
 * Afterwards, what the partition holds is checked against the authority:
 * - refresh token lost: the partition's refresh token is not the newest the authority issued (so it is superseded);
 * - invalid_grant after: redeeming the partition's refresh token (a silent call for one more resource) fails;
 * - access tokens missing: tokens returned to an invocation that are not in the partition (its write was lost).
 *
 * Contenders: this library in one instance (one PartitionedTokenCache), this library across 50 instances (50
 * PartitionedTokenCache objects sharing the store, as 50 Functions instances would; nothing in-process shared), and
 * the peer (a new msal-node client per invocation, which shares nothing in-process anyway).
 */
import { hasErrorCode, type CacheStore, type PartitionedTokenCache } from '../../lib/index.js';
import { delta, snapshot, type CountingStore } from '../../dev/counting-store.js';
import { scaled } from '../support/config.js';
import { measuredOn, type MeasuredOn } from '../support/environment.js';
import type { PeerApp } from '../support/peer.js';
import { readStoredCache, isObject, type JsonObject } from '../support/stored.js';
import {
  authorityTokenRequests,
  newPeer,
  quietLogger,
  suffix,
  type BenchApp,
  type BenchStack,
  type BenchStoreKind,
} from '../support/stack.js';
import { round } from '../support/stats.js';
import { signIn, signInPeer } from '../support/users.js';

export const STORM_INVOCATIONS = 50;
const TRIALS = scaled(3, 1);

export type StormContender = 'ours' | 'ours, 50 instances' | 'peer';

export interface StormFigures {
  readonly on: MeasuredOn;
  readonly contender: StormContender;
  readonly trials: number;
  /** Per trial. */
  readonly invocations: number;
  /** Totals over the trials from here on. */
  readonly succeeded: number;
  readonly failed: number;
  /** Invocations that failed with invalid_grant during the storm. */
  readonly invalidGrantsDuringStorm: number;
  readonly authorityTokenRequests: number;
  /** Refresh tokens the authority issued during the storms (one per successful redemption). */
  readonly refreshTokensIssued: number;
  readonly storeReads: number;
  readonly storeWrites: number;
  /**
   * Conditional writes the store rejected because another writer landed first: this library's as its invocations
   * count them (then merged); the peer's as the store answered its `set`'s replace (or create) with a conflict.
   */
  readonly conflicts: number;
  /** This library: attempts after an invocation's first (its stats); the peer: read-and-replace rounds `set` ran again. */
  readonly retries: number;
  /** Trials whose partition kept a refresh token that is not the newest issued (superseded under strict rotation). */
  readonly refreshTokensLost: number;
  /** Trials whose redemption of the partition's refresh token, afterwards, answered invalid_grant. */
  readonly invalidGrantsAfter: number;
  readonly accessTokensReturned: number;
  /** Access tokens returned to an invocation and missing from the partition afterwards. */
  readonly accessTokensMissing: number;
  readonly seconds: number;
  readonly warnings: number;
}

interface Trial {
  succeeded: number;
  failed: number;
  invalidGrants: number;
  conflicts: number;
  retries: number;
  returned: string[];
  seconds: number;
}

/** The MSAL cache of the partition as stored, and the oid the authority knows the user by. */
interface Probe {
  readonly storedCache: () => Promise<JsonObject | undefined>;
  /** One more silent call, for a resource not cached: redeems the partition's refresh token. */
  readonly redeemAfter: () => Promise<void>;
}

const resource = (i: number | string) => [`api://storm-${i}/.default`];

function isInvalidGrant(error: unknown): boolean {
  return (error as { errorCode?: unknown } | undefined)?.errorCode === 'invalid_grant';
}

/** Runs the invocations with the authority holding their token requests until all have arrived. */
async function storm(
  stack: BenchStack,
  clientId: string,
  invoke: (i: number) => Promise<{ accessToken: string; conflicts: number; retries: number }>,
): Promise<Trial> {
  const hold = stack.authority.holdTokenRequests(clientId);
  const trial: Trial = {
    succeeded: 0,
    failed: 0,
    invalidGrants: 0,
    conflicts: 0,
    retries: 0,
    returned: [],
    seconds: 0,
  };
  const started = performance.now();
  const settled = Promise.allSettled(
    Array.from({ length: STORM_INVOCATIONS }, async (_, i) => {
      try {
        const outcome = await invoke(i);
        trial.succeeded++;
        trial.conflicts += outcome.conflicts;
        trial.retries += outcome.retries;
        trial.returned.push(outcome.accessToken);
      } catch (error) {
        trial.failed++;
        if (isInvalidGrant(error)) trial.invalidGrants++;
        throw error;
      }
    }),
  );
  // Release once every request is held, or once every invocation is over (some may fail before asking).
  await Promise.race([hold.whenHeld(STORM_INVOCATIONS), settled]);
  hold.release();
  await settled;
  trial.seconds = (performance.now() - started) / 1000;
  return trial;
}

function entries(cache: JsonObject | undefined, section: string): JsonObject[] {
  const values = cache && isObject(cache[section]) ? Object.values(cache[section]) : [];
  return values.filter(isObject);
}

async function check(stack: BenchStack, clientId: string, oid: string, probe: Probe, trial: Trial) {
  const cache = await probe.storedCache();
  const storedRefresh = entries(cache, 'RefreshToken').map((e) => e.secret);
  const issued = stack.authority.refreshTokens(clientId, oid);
  const newest = issued.reduce((a, b) => (b.sequence > a.sequence ? b : a));
  const lost = !storedRefresh.includes(newest.token);
  const storedAccess = new Set(entries(cache, 'AccessToken').map((e) => e.secret));
  const missing = trial.returned.filter((token) => !storedAccess.has(token)).length;
  let invalidAfter = false;
  try {
    await probe.redeemAfter();
  } catch (error) {
    if (!isInvalidGrant(error)) throw error;
    invalidAfter = true;
  }
  // The sign-in issued the first; the storm the rest.
  return { lost, missing, invalidAfter, issued: issued.length - 1 };
}

async function oursTrial(stack: BenchStack, app: BenchApp, instances: number) {
  const logger = quietLogger();
  const hint = `storm-${suffix()}@bench.test`;
  const { homeAccountId } = await signIn(stack, app, hint, logger);
  const oid = homeAccountId.split('.')[0]!;
  // Other instances: the same app registration and key ring over the same store, nothing in-process shared.
  const shared: CountingStore = { ...app.store, close: () => Promise.resolve() };
  const same = { AUTH_CLIENT_ID: app.clientId, AUTH_TENANT_ID: app.tenantId, CACHE_KEYS: app.env.CACHE_KEYS! };
  const others = Array.from({ length: instances - 1 }, () => stack.newApp(shared, same, shared));
  const tokensOf = (i: number): PartitionedTokenCache =>
    (i % instances === 0 ? app : others[(i % instances) - 1]!).runtime.tokens;
  const before = snapshot(app.store.counts);
  const authorityBefore = authorityTokenRequests(stack, app.clientId);
  stack.authority.strictRefreshTokenRotation(true, app.clientId);
  try {
    const trial = await storm(stack, app.clientId, async (i) => {
      const { result, stats } = await tokensOf(i).acquireTokenSilent(
        { homeAccountId, scopes: resource(i) },
        { logger },
      );
      return { accessToken: result.accessToken, conflicts: stats.conflicts, retries: stats.retries };
    });
    const ops = delta(app.store.counts, before);
    const authority = authorityTokenRequests(stack, app.clientId) - authorityBefore;
    const fresh = stack.newApp(shared, same, shared);
    const outcome = await check(
      stack,
      app.clientId,
      oid,
      {
        storedCache: async () =>
          (await readStoredCache(app.store.inner, app.keyRing, homeAccountId.toLowerCase()))?.msal,
        redeemAfter: async () => {
          await fresh.runtime.tokens.acquireTokenSilent({ homeAccountId, scopes: resource('after') }, { logger });
        },
      },
      trial,
    );
    await Promise.all([...others, fresh].map((o) => o.runtime.tokens.close()));
    return { trial, ops, authority, outcome, warnings: logger.problems.count };
  } finally {
    stack.authority.strictRefreshTokenRotation(false, app.clientId);
  }
}

/** The peer's store, counting the writes it rejects as conflicts (apart from the retries its `set` counts). */
interface ConflictCountingStore {
  readonly store: CountingStore;
  readonly conflicts: () => number;
}

function countingConflicts(store: CountingStore): ConflictCountingStore {
  let conflicts = 0;
  const write: CacheStore['write'] = async (key, data, options) => {
    try {
      return await store.write(key, data, options);
    } catch (error) {
      if (hasErrorCode(error, 'store_conflict')) conflicts++;
      throw error;
    }
  };
  return { store: { ...store, write }, conflicts: () => conflicts };
}

async function peerTrial(stack: BenchStack, app: BenchApp, peer: PeerApp, counted: ConflictCountingStore) {
  const { store } = counted;
  const scopes = [...app.runtime.settings.web.downstreamScopes];
  const homeAccountId = await signInPeer(stack, peer, `storm-${suffix()}@bench.test`, scopes);
  const oid = homeAccountId.split('.')[0]!;
  const before = snapshot(store.counts);
  const retriesBefore = peer.options.cacheClient.stats.setRetries;
  const conflictsBefore = counted.conflicts();
  const authorityBefore = authorityTokenRequests(stack, app.clientId);
  stack.authority.strictRefreshTokenRotation(true, app.clientId);
  try {
    const trial = await storm(stack, app.clientId, async (i) => {
      const result = await peer.silent(homeAccountId, resource(i));
      return { accessToken: result.accessToken, conflicts: 0, retries: 0 };
    });
    trial.conflicts = counted.conflicts() - conflictsBefore;
    trial.retries = peer.options.cacheClient.stats.setRetries - retriesBefore;
    const ops = delta(store.counts, before);
    const authority = authorityTokenRequests(stack, app.clientId) - authorityBefore;
    const outcome = await check(
      stack,
      app.clientId,
      oid,
      {
        storedCache: async () => {
          const stored = await store.inner.read(homeAccountId);
          const parsed: unknown = stored ? JSON.parse(Buffer.from(stored.data).toString('utf8')) : undefined;
          return isObject(parsed) ? parsed : undefined;
        },
        redeemAfter: async () => {
          await peer.silent(homeAccountId, resource('after'));
        },
      },
      trial,
    );
    return { trial, ops, authority, outcome, warnings: 0 };
  } finally {
    stack.authority.strictRefreshTokenRotation(false, app.clientId);
  }
}

export async function measureStorm(stack: BenchStack, kind: BenchStoreKind): Promise<StormFigures[]> {
  const store = stack.newStore(kind);
  const app = stack.newApp(store);
  const peerStore = countingConflicts(stack.newStore(kind));
  const peer = await newPeer(app, peerStore.store);
  const runs: [StormContender, () => ReturnType<typeof oursTrial>][] = [
    ['ours', () => oursTrial(stack, app, 1)],
    ['ours, 50 instances', () => oursTrial(stack, app, STORM_INVOCATIONS)],
    ['peer', () => peerTrial(stack, app, peer, peerStore)],
  ];
  const figures: StormFigures[] = [];
  for (const [contender, runTrial] of runs) {
    const totals = {
      succeeded: 0,
      failed: 0,
      invalidGrants: 0,
      authority: 0,
      issued: 0,
      reads: 0,
      writes: 0,
      conflicts: 0,
      retries: 0,
      lost: 0,
      invalidAfter: 0,
      returned: 0,
      missing: 0,
      seconds: 0,
      warnings: 0,
    };
    for (let t = 0; t < TRIALS; t++) {
      const { trial, ops, authority, outcome, warnings } = await runTrial();
      totals.succeeded += trial.succeeded;
      totals.failed += trial.failed;
      totals.invalidGrants += trial.invalidGrants;
      totals.authority += authority;
      totals.issued += outcome.issued;
      totals.reads += ops.read;
      totals.writes += ops.write;
      totals.conflicts += trial.conflicts;
      totals.retries += trial.retries;
      totals.lost += outcome.lost ? 1 : 0;
      totals.invalidAfter += outcome.invalidAfter ? 1 : 0;
      totals.returned += trial.returned.length;
      totals.missing += outcome.missing;
      totals.seconds += trial.seconds;
      totals.warnings += warnings;
    }
    figures.push({
      on: measuredOn(kind),
      contender,
      trials: TRIALS,
      invocations: STORM_INVOCATIONS,
      succeeded: totals.succeeded,
      failed: totals.failed,
      invalidGrantsDuringStorm: totals.invalidGrants,
      authorityTokenRequests: totals.authority,
      refreshTokensIssued: totals.issued,
      storeReads: totals.reads,
      storeWrites: totals.writes,
      conflicts: totals.conflicts,
      retries: totals.retries,
      refreshTokensLost: totals.lost,
      invalidGrantsAfter: totals.invalidAfter,
      accessTokensReturned: totals.returned,
      accessTokensMissing: totals.missing,
      seconds: round(totals.seconds, 2),
      warnings: totals.warnings,
    });
  }
  return figures;
}
