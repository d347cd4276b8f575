import type {
  AuthenticationResult,
  AuthorizationCodePayload,
  AuthorizationCodeRequest,
  AuthorizationUrlRequest,
  ConfidentialClientApplication,
  INetworkModule,
} from '@azure/msal-node';
import { decodeJwt } from 'jose';
import { createHash, randomUUID } from 'node:crypto';
import { checkClaims } from './auth/claims-challenge.js';
import { abortable, throwIfAborted } from './abort.js';
import { ClientFactory } from './auth/clients.js';
import { Coalescer } from './auth/coalesce.js';
import { classifyTokenError } from './auth/token-errors.js';
import { createNetworkClient } from './auth/network.js';
import { isObject } from './cache/document.js';
import { independentCopy, servedAnswer } from './cache/answers.js';
import { assertionHashOf } from './cache/obo.js';
import { type AccessTokenFilter, accessTokensFor } from './cache/withhold.js';
import type { WarmTierUsage } from './cache/warm-tier.js';
import { appPartitionKey, partitionKeyOfAccount, userPartitionKey } from './cache/partitions.js';
import { type CacheStats, emptyStats, sameCounts, type StatsCounts } from './cache/stats.js';
import { PartitionNotSavedError, TokenCacheError } from './errors.js';
import type { TokenCacheLogger } from './log.js';
import {
  resolveOptions,
  type CallerIdentity,
  type InvocationOptions,
  type PartitionClient,
  type PartitionedTokenCacheOptions,
  type TokenOutcome,
} from './options.js';
import type { CacheStore } from './stores/store.js';
import { logTokenTelemetry, telemetryHead } from './telemetry.js';
import { WhileWaiting } from './while-waiting.js';

/**
 * MSAL token caches for a serverless app, one per partition (a user: `{oid}.{tid}`; the app: `{clientId}.{tenantId}`),
 * kept in a store, encrypted, written back only when they changed, conditionally on the ETag read, merged on a
 * conflict. Create one per process; every call builds a fresh MSAL client bound to one partition, so users never
 * share an in-memory cache.
 *
 * @example
 * ```ts
 * const tokens = new PartitionedTokenCache({
 *   auth: { clientId, tenantId, clientSecret },
 *   cache: { store: createTableStore({ accountUrl }), keyRing: parseKeyRing(cacheKeys) },
 * });
 * ```
 */
export class PartitionedTokenCache {
  /** The network client MSAL uses; share it with `createBearerValidator` so one keep-alive pool serves both. */
  readonly networkClient: INetworkModule;
  private readonly factory: ClientFactory;
  private readonly store: CacheStore;
  private readonly logger: TokenCacheLogger;
  private readonly telemetry: boolean;
  /** Whether a warm call makes its answer while the store answers (see {@link CacheStore.sendsInImmediate}). */
  private readonly prepareWhileReading: boolean;
  private readonly inFlight = new Coalescer<Acquired>();
  /** `{partitionKey}|{assertion hash}` pairs already checked to go together (see `callerMismatch`), bounded. */
  private readonly matchedCallers = new Set<string>();
  private readonly closeNetwork: (() => void) | undefined;
  /** The app's partition, checked once (on first use: an invalid id fails the call, as before, not the constructor). */
  private appPartition: string | undefined;

  constructor(options: PartitionedTokenCacheOptions) {
    const { identity, plugins, warmTierBytes } = resolveOptions(options);
    const system = options.system ?? {};
    if (system.networkClient) {
      this.networkClient = system.networkClient;
    } else {
      const created = createNetworkClient({
        ...(system.ca ? { ca: system.ca } : {}),
        ...(system.networkTimeoutMs ? { timeoutMs: system.networkTimeoutMs } : {}),
      });
      this.networkClient = created;
      this.closeNetwork = () => created.close();
    }
    this.store = plugins.store;
    this.prepareWhileReading = plugins.store.sendsInImmediate === true;
    this.logger = system.logger ?? console;
    this.telemetry = system.telemetry ?? true;
    this.factory = new ClientFactory(identity, plugins, this.networkClient, warmTierBytes);
  }

  /** `{authorityHost}/{tenantId}`. */
  get authority(): string {
    return this.factory.authority;
  }

  get clientId(): string {
    return this.factory.identity.clientId;
  }

  get tenantId(): string {
    return this.factory.identity.tenantId;
  }

  /** The warm tier of this process now: partitions held, their estimated bytes, and the bound (0: off). */
  get warmTierUsage(): WarmTierUsage {
    return this.factory.warmTier;
  }

  /**
   * A token for the app itself (client credentials), from the app's partition `{clientId}.{tenantId}`.
   *
   * With `claims` (a resource's claims challenge, decoded: see `parseClaimsChallenge`) the cached token is not
   * served: a new one is requested with those claims, and the cached tokens of these scopes leave the partition in
   * the same conditional write, whether or not a new one comes back. Calls with different claims never share a run.
   *
   * @example
   * ```ts
   * const { result } = await tokens.acquireTokenByClientCredential(
   *   { scopes: ['https://graph.microsoft.com/.default'] },
   *   { logger: context },
   * );
   * ```
   */
  acquireTokenByClientCredential(
    request: { readonly scopes: readonly string[]; readonly claims?: string },
    options: InvocationOptions = {},
  ): Promise<TokenOutcome> {
    const partitionKey = (this.appPartition ??= appPartitionKey(this.clientId, this.tenantId));
    const claims = this.claimsOf(request);
    const key = [scopeKey(request.scopes), claims.key];
    const run = { flow: 'client_credentials', partitionKey, key, claims, answerable: true };
    return this.acquire(run, options, async ({ client, load }) => {
      // With claims msal-node skips its cache without calling the plugin: load it, so that the rejected token
      // leaves the partition even when no new token comes back.
      if (claims.withhold) await load();
      return client.acquireTokenByClientCredential({ scopes: [...request.scopes], ...claims.request });
    });
  }

  /**
   * A token for a downstream API on behalf of a web API's caller, from the caller's partition `{oid}.{tid}`.
   * `caller` must come from the VALIDATED incoming token (see `createBearerValidator`), `assertion` is that token:
   * a `caller` whose `oid` or `tid` is not the assertion's is refused with code `invalid_options` (and an assertion
   * that is not a JWT with `bearer_invalid`) before any partition is read. The assertion is decoded for that, not
   * validated again.
   *
   * With `claims` (a downstream API's claims challenge, decoded): a new token is requested with them, and the cached
   * tokens of this incoming token for these scopes leave the partition in the same conditional write, whether or not
   * a new one comes back (other devices' tokens of the user stay). When the identity provider needs the user (a
   * revoked session), the call fails with `interaction_required`: hand the challenge to the caller.
   *
   * @example
   * ```ts
   * const caller = await bearer.validate(request.headers.get('authorization'));
   * const { result } = await tokens.acquireTokenOnBehalfOf(
   *   { caller: caller.claims, assertion: caller.token, scopes: ['https://graph.microsoft.com/User.Read'] },
   *   { logger: context },
   * );
   * ```
   */
  acquireTokenOnBehalfOf(
    request: {
      readonly caller: CallerIdentity;
      readonly assertion: string;
      readonly scopes: readonly string[];
      readonly claims?: string;
    },
    options: InvocationOptions = {},
  ): Promise<TokenOutcome> {
    const partitionKey = userPartitionKey(request.caller);
    // An incoming token the partition's warm client served was hashed and checked against this partition then.
    const known = this.factory.knownAssertionHash(partitionKey, request.assertion);
    const assertionHash = known ?? assertionHashOf(request.assertion);
    const mismatch = known
      ? undefined
      : this.callerMismatch(partitionKey, assertionHash, request.caller, request.assertion);
    const claims = this.claimsOf(request);
    const checked = mismatch ? { ...claims, invalid: mismatch } : claims;
    const key = [assertionHash, scopeKey(request.scopes), claims.key];
    // A known token stays known: the client that knows it is the one this call takes (or the call joins a run).
    const incoming = known ? undefined : { assertion: request.assertion, hash: assertionHash };
    const run = { flow: 'on_behalf_of', partitionKey, key, claims: checked, answerable: true, incoming };
    return this.acquire(run, options, async ({ client, load }) => {
      // msal-node's OBO looks its cache up without calling the plugin first: load the partition before the call.
      await load({ oboAssertion: request.assertion });
      return client.acquireTokenOnBehalfOf({
        oboAssertion: request.assertion,
        scopes: [...request.scopes],
        ...claims.request,
      });
    });
  }

  /**
   * A token for a signed-in user from their partition (`homeAccountId`), refreshed with the cached refresh token
   * when needed. Throws code `account_not_cached` when the partition was read and holds no such account (the user
   * must sign in), and code `partition_unavailable` when it could not be read now (retry later: it says nothing about
   * the user).
   *
   * With `claims` (a resource's claims challenge, decoded) the cached access token is not served: the refresh token
   * is redeemed with those claims, and the cached access tokens for these scopes leave the partition in the same
   * conditional write, whether or not a new one comes back. When the identity provider needs the person (a revoked
   * session), the call fails with `interaction_required`: send them to sign in with the same `claims`
   * (`getAuthCodeUrl`).
   *
   * @example
   * ```ts
   * const { result } = await tokens.acquireTokenSilent(
   *   { homeAccountId: session.homeAccountId, scopes: ['https://graph.microsoft.com/User.Read'] },
   *   { logger: context },
   * );
   * ```
   */
  acquireTokenSilent(
    request: {
      readonly homeAccountId: string;
      readonly scopes: readonly string[];
      readonly forceRefresh?: boolean;
      readonly claims?: string;
    },
    options: InvocationOptions = {},
  ): Promise<TokenOutcome> {
    const partitionKey = partitionKeyOfAccount(request.homeAccountId);
    const forceRefresh = request.forceRefresh ?? false;
    const claims = this.claimsOf(request);
    const key = [scopeKey(request.scopes), String(forceRefresh), claims.key];
    const run = { flow: 'silent', partitionKey, key, claims, answerable: !forceRefresh };
    return this.acquire(run, options, async ({ client, unavailable }) => {
      // Partition keys are lower-cased; account ids from the authority may not be.
      const wanted = request.homeAccountId.toLowerCase();
      const accounts = await client.getTokenCache().getAllAccounts();
      const account = accounts.find((a) => a.homeAccountId.toLowerCase() === wanted);
      if (!account && unavailable()) {
        throw new TokenCacheError(
          'partition_unavailable',
          `partition ${partitionKey} could not be read now (see the warning or error before): retry later`,
        );
      }
      if (!account) {
        throw new TokenCacheError(
          'account_not_cached',
          `no cached account in partition ${partitionKey}: sign-in required`,
        );
      }
      return client.acquireTokenSilent({ account, scopes: [...request.scopes], forceRefresh, ...claims.request });
    });
  }

  /**
   * The sign-in URL of the authorization code flow (add PKCE: msal-node's `CryptoProvider.generatePkceCodes`).
   *
   * @example
   * ```ts
   * const url = await tokens.getAuthCodeUrl({ scopes, redirectUri, codeChallenge, codeChallengeMethod: 'S256', state });
   * ```
   */
  async getAuthCodeUrl(request: AuthorizationUrlRequest, options: InvocationOptions = {}): Promise<string> {
    const client = await this.factory.withoutPersistence(options.logger ?? this.logger);
    return abortable(client.getAuthCodeUrl(request), options.abortSignal);
  }

  /**
   * Redeems a sign-in's authorization code and writes the tokens to the partition of the account the authority
   * answered with (its homeAccountId): one store read and one conditional write. Throws
   * {@link PartitionNotSavedError} (code `partition_not_saved`, carrying the outcome) when the tokens could not be
   * written: a sign-in that is not kept is not complete, the person has to sign in again.
   *
   * @example
   * ```ts
   * const { result, partitionKey } = await tokens.acquireTokenByCode(
   *   { code, scopes, redirectUri, codeVerifier },
   *   { logger: context },
   * );
   * ```
   */
  async acquireTokenByCode(
    request: AuthorizationCodeRequest,
    options: InvocationOptions & { readonly authCodePayload?: AuthorizationCodePayload } = {},
  ): Promise<TokenOutcome> {
    const logger = options.logger ?? this.logger;
    const operation = options.operation ?? 'code';
    let partitionKey: string | undefined;
    let stats = emptyStats();
    try {
      throwIfAborted(options.abortSignal);
      const client = await this.factory.withoutPersistence(logger);
      throwIfAborted(options.abortSignal);
      const result = await abortable(client.acquireTokenByCode(request, options.authCodePayload), options.abortSignal);
      const homeAccountId = result?.account?.homeAccountId;
      if (!result || !homeAccountId) throw new TokenCacheError('no_token', 'the code redemption returned no account');
      partitionKey = partitionKeyOfAccount(homeAccountId);
      const plugin = this.factory.plugin(partitionKey, logger);
      stats = plugin.stats;
      const entries: unknown = JSON.parse(client.getTokenCache().serialize());
      if (isObject(entries)) await abortable(plugin.importEntries(entries), options.abortSignal);
      const outcome = { result, partitionKey, stats, joined: false, saved: plugin.saved };
      if (!outcome.saved) throw new PartitionNotSavedError(outcome);
      this.report(logger, operation, outcome, 'ok');
      return outcome;
    } catch (error) {
      this.reportFailure(logger, operation, partitionKey, stats, error);
      throw error;
    }
  }

  /**
   * Deletes a partition's whole document (sign-out, erasure). Resolves `false` when there was none. Store errors
   * propagate: the caller must know whether the tokens are gone.
   *
   * @example
   * ```ts
   * await tokens.removePartition(userPartitionKey(caller.claims));
   * ```
   */
  async removePartition(partitionKey: string, options: InvocationOptions = {}): Promise<boolean> {
    throwIfAborted(options.abortSignal);
    this.factory.forget(partitionKey);
    return abortable(this.factory.plugin(partitionKey, options.logger ?? this.logger).purge(), options.abortSignal);
  }

  /**
   * An MSAL client bound to one partition, for flows this class does not wrap. Use it for one invocation only.
   *
   * @example
   * ```ts
   * const { client, load } = await tokens.partitionClient(userPartitionKey(caller.claims), { logger: context });
   * await load();
   * const accounts = await client.getTokenCache().getAllAccounts();
   * ```
   */
  async partitionClient(partitionKey: string, options: InvocationOptions = {}): Promise<PartitionClient> {
    throwIfAborted(options.abortSignal);
    const { client, plugin } = await this.factory.newClient(partitionKey, options.logger ?? this.logger);
    return {
      client,
      partitionKey,
      stats: plugin.stats,
      load: (loadOptions) => plugin.preload(client.getTokenCache(), loadOptions),
      get unavailable() {
        return plugin.unavailable;
      },
    };
  }

  /**
   * Where to send a browser to end its session at the identity provider (the authority's `end_session_endpoint`),
   * returning to `postLogoutRedirectUri`; that URI itself when the authority has no such endpoint. The authority's
   * metadata is fetched once per process; `abortSignal` stops waiting for it (code `aborted`).
   *
   * @example
   * ```ts
   * return { status: 302, headers: { location: await tokens.getLogoutUrl('https://app.example/home') } };
   * ```
   */
  async getLogoutUrl(
    postLogoutRedirectUri: string,
    options: Pick<InvocationOptions, 'abortSignal'> = {},
  ): Promise<string> {
    throwIfAborted(options.abortSignal);
    const metadata = await abortable(this.factory.authorityMetadata(), options.abortSignal);
    if (typeof metadata.end_session_endpoint !== 'string') return postLogoutRedirectUri;
    const url = new URL(metadata.end_session_endpoint);
    url.searchParams.set('post_logout_redirect_uri', postLogoutRedirectUri);
    return url.toString();
  }

  /**
   * Releases the store's connections and the default network client. Call it when the process ends (the Azure
   * Functions `appTerminate` hook).
   *
   * @example
   * ```ts
   * app.hook.appTerminate(() => tokens.close());
   * ```
   */
  async close(): Promise<void> {
    this.closeNetwork?.();
    await this.store.close?.();
  }

  /**
   * {@link callerMismatch}, decoding each incoming token once per process (while remembered): a warm call of a
   * known caller costs a set lookup.
   */
  private callerMismatch(
    partitionKey: string,
    assertionHash: string,
    caller: CallerIdentity,
    assertion: string,
  ): TokenCacheError | undefined {
    const pair = `${partitionKey}|${assertionHash}`;
    if (this.matchedCallers.has(pair)) return undefined;
    const mismatch = callerMismatch(caller, assertion);
    if (mismatch) return mismatch;
    if (this.matchedCallers.size >= MAX_MATCHED_CALLERS) this.matchedCallers.clear();
    this.matchedCallers.add(pair);
    return undefined;
  }

  /** Coalescing, abort, telemetry: what every wrapped flow shares. */
  private async acquire(
    { flow, partitionKey, key, claims, answerable, incoming }: Acquisition,
    options: InvocationOptions,
    work: (bound: BoundClient) => Promise<AuthenticationResult | null>,
  ): Promise<TokenOutcome> {
    const logger = options.logger ?? this.logger;
    const operation = options.operation ?? flow;
    let stats: CacheStats | undefined;
    try {
      throwIfAborted(options.abortSignal);
      if (claims.invalid) throw claims.invalid;
      const runKey = `${flow}|${partitionKey}|${key.join('|')}`;
      // Taking the warm client starts its revalidating read (the invocation's one store read). A call that will join
      // a run in flight reads nothing.
      const warm = this.inFlight.has(runKey) ? undefined : this.factory.takeWarm(partitionKey, logger);
      // A warm client's earlier answer serves again only for a request without claims that MSAL would answer from
      // its cache (a forced refresh would not).
      const answerKey = answerable && claims.request.claims === undefined ? runKey : undefined;
      const run = this.inFlight.run(runKey, async () => {
        const bound = warm ?? (await this.factory.newClient(partitionKey, logger));
        const { client, plugin } = bound;
        stats = plugin.stats;
        if (answerKey) {
          // The answer the warm client would serve again, made ready while the store confirms its document (over a
          // store whose client sends in an immediate; over others the answer is made once the store has answered).
          const kept = this.prepareWhileReading && warm && plugin.keptAnswerFor(answerKey);
          const ready = kept ? new WhileWaiting(() => this.answerAgain(kept, operation, partitionKey)) : undefined;
          await plugin.load();
          const held = plugin.heldAnswer(answerKey, servableNow);
          const again =
            held && (held === kept && ready ? ready.take() : this.answerAgain(held, operation, partitionKey));
          ready?.drop();
          if (again) {
            this.factory.release(bound, incoming);
            return { ...again, stats: plugin.stats, saved: true };
          }
        }
        if (claims.withhold) plugin.withholdAccessTokens(claims.withhold);
        const result = await work({
          client,
          load: (loadOptions) => plugin.preload(client.getTokenCache(), loadOptions),
          unavailable: () => plugin.unavailable,
        }).catch(async (error: unknown) => {
          await plugin.flushRemovals();
          throw error;
        });
        if (!result) throw new TokenCacheError('no_token', `${flow} returned no token`);
        await plugin.settle();
        if (answerKey) plugin.remember(answerKey, result);
        const saved = plugin.saved;
        this.factory.release(bound, incoming);
        return { result, stats: plugin.stats, saved };
      });
      const value = await abortable(run.value, options.abortSignal);
      const { joined } = run;
      const outcome = {
        // Calls that shared a run each get their own copy: what one of them changes in its result, the others keep.
        result: run.shared() ? independentCopy(value.result) : value.result,
        partitionKey,
        stats: joined ? emptyStats() : value.stats,
        joined,
        saved: value.saved,
      };
      this.report(logger, operation, outcome, 'ok', joined ? undefined : value.telemetry);
      return outcome;
    } catch (error) {
      this.reportFailure(logger, operation, partitionKey, stats ?? emptyStats(), error);
      throw error;
    }
  }

  /**
   * A request's `claims`: checked, what MSAL is given, the coalescing key (calls with other claims, or none, never
   * share a run), and the cached tokens to withhold and remove.
   */
  private claimsOf(request: { readonly scopes: readonly string[]; readonly claims?: string }): RequestClaims {
    if (request.claims === undefined) return NO_CLAIMS;
    let invalid: TokenCacheError | undefined;
    try {
      checkClaims(request.claims);
    } catch (error) {
      if (!(error instanceof TokenCacheError)) throw error;
      invalid = error;
    }
    return {
      request: { claims: request.claims },
      key: `claims:${createHash('sha256').update(request.claims).digest('base64url')}`,
      withhold: accessTokensFor(this.clientId, request.scopes),
      ...(invalid ? { invalid } : {}),
    };
  }

  /**
   * A warm client's kept answer served again: the call's copy, and the head of its telemetry line as it will be when
   * the invocation counted what {@link ANSWERED_AGAIN} counts.
   */
  private answerAgain(kept: AuthenticationResult, operation: string, partitionKey: string): AnsweredAgain {
    const result = servedAnswer(kept, randomUUID());
    if (!this.telemetry) return { result };
    const telemetry = { operation, partitionKey, fromCache: true, saved: true, stats: ANSWERED_AGAIN, outcome: 'ok' };
    return { result, telemetry: { counts: ANSWERED_AGAIN, head: telemetryHead(telemetry) } };
  }

  private report(
    logger: TokenCacheLogger,
    operation: string,
    outcome: TokenOutcome,
    result: string,
    prepared?: PreparedTelemetry,
  ): void {
    if (!this.telemetry) return;
    const telemetry = {
      operation,
      partitionKey: outcome.partitionKey,
      fromCache: outcome.result.fromCache,
      saved: outcome.saved,
      stats: outcome.stats,
      outcome: result,
    };
    const ready = prepared && result === 'ok' && outcome.result.fromCache && outcome.saved;
    logTokenTelemetry(
      logger,
      telemetry,
      ready && sameCounts(prepared.counts, outcome.stats) ? prepared.head : undefined,
    );
  }

  private reportFailure(
    logger: TokenCacheLogger,
    operation: string,
    partitionKey: string | undefined,
    stats: CacheStats,
    error: unknown,
  ): void {
    if (!this.telemetry) return;
    logTokenTelemetry(logger, {
      operation,
      partitionKey: partitionKey ?? '',
      fromCache: undefined,
      saved: undefined,
      stats,
      outcome: classifyTokenError(error).code,
    });
  }
}

/** What {@link PartitionedTokenCache.acquire} runs: a flow's request, keyed for coalescing. */
interface Acquisition {
  readonly flow: string;
  readonly partitionKey: string;
  /** With the flow and partition: the coalescing key (and the warm client's answer key). */
  readonly key: readonly string[];
  readonly claims: RequestClaims;
  /** Whether a warm client's earlier answer may serve it (see `heldAnswer`). */
  readonly answerable: boolean;
  /** On-behalf-of, a token no warm client knew: checked against the partition, for the client to remember. */
  readonly incoming?: { readonly assertion: string; readonly hash: string };
}

/** A request's `claims`, prepared by `claimsOf`. */
interface RequestClaims {
  /** What MSAL's request gets. */
  readonly request: { readonly claims?: string };
  /** Part of the coalescing key: calls with other claims, or none, never share a run. */
  readonly key: string;
  /** The cached access tokens to withhold from MSAL and remove from the partition. */
  readonly withhold?: AccessTokenFilter;
  /** Thrown inside the acquisition (so it is reported like any other failure). */
  readonly invalid?: TokenCacheError;
}

interface Acquired {
  readonly result: AuthenticationResult;
  readonly stats: CacheStats;
  readonly saved: boolean;
  readonly telemetry?: PreparedTelemetry;
}

/** The head of a telemetry line made beforehand (see `telemetryHead`), for an invocation with these counts. */
interface PreparedTelemetry {
  readonly counts: StatsCounts;
  readonly head: string;
}

/** A kept answer served again (see `answerAgain`). */
interface AnsweredAgain {
  readonly result: AuthenticationResult;
  readonly telemetry?: PreparedTelemetry;
}

/** What an invocation counts when the store confirmed the warm client's document and its kept answer was served. */
const ANSWERED_AGAIN: StatsCounts = Object.freeze({ ...emptyStats(), reads: 1, tierHits: 1, tierAnswers: 1 });

/** The invocation's MSAL client, the load of its partition, and whether that partition could be read. */
interface BoundClient {
  readonly client: ConfidentialClientApplication;
  readonly load: PartitionClient['load'];
  readonly unavailable: () => boolean;
}

/** msal-node's default `tokenRenewalOffsetSeconds`: a token expiring sooner is not served from its cache. */
const MSAL_RENEWAL_OFFSET_MS = 300_000;

/** A request without `claims`. */
const NO_CLAIMS: RequestClaims = Object.freeze({ request: Object.freeze({}), key: '' });

/** Whether MSAL would still serve this token from its cache now: outside the renewal window and its `refreshOn`. */
function servable(result: AuthenticationResult, now: number): boolean {
  const expiresOn = result.expiresOn?.getTime();
  if (expiresOn === undefined || expiresOn - now <= MSAL_RENEWAL_OFFSET_MS) return false;
  return result.refreshOn === undefined || result.refreshOn.getTime() > now;
}

function servableNow(result: AuthenticationResult): boolean {
  return servable(result, Date.now());
}

/** Most caller and incoming-token pairs remembered as checked; the set starts over when full. */
const MAX_MATCHED_CALLERS = 10_000;

/**
 * Why an on-behalf-of `caller` does not go with its `assertion`, if it does not: a mix-up would keep one user's
 * tokens in another user's partition. The assertion was validated by the caller; here it is only decoded.
 */
function callerMismatch(caller: CallerIdentity, assertion: string): TokenCacheError | undefined {
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(assertion);
  } catch {
    return new TokenCacheError('bearer_invalid', 'the on-behalf-of assertion is not a JWT');
  }
  const same = (claim: unknown, value: string) =>
    typeof claim === 'string' && claim.toLowerCase() === value.toLowerCase();
  if (same(claims.oid, caller.oid) && same(claims.tid, caller.tid)) return undefined;
  return new TokenCacheError(
    'invalid_options',
    "the on-behalf-of caller's oid and tid are not those of its assertion: pass the claims validated from it",
  );
}

function scopeKey(scopes: readonly string[]): string {
  if (scopes.length === 1) return scopes[0]!.toLowerCase();
  return [...scopes]
    .map((s) => s.toLowerCase())
    .sort()
    .join(' ');
}
