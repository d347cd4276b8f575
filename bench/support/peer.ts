/**
 * The peer the benchmark measures this library against: msal-node's own `DistributedCachePlugin`, wired the way
 * msal-node's caching docs and its samples (auth-code-distributed-cache, RedisTestApp) wire it:
 * - a new `ConfidentialClientApplication` per request, with the authority metadata fetched once and passed in;
 * - one partition per user (`getKey()` answers the user's homeAccountId; `extractKey(account)` the account's), the
 *   app's own partition `{clientId}.{tenantId}` for client credentials;
 * - `getTokenCache().getAllAccounts()` before a flow whose cache lookup does not call the plugin (the samples do it
 *   "for triggering beforeCacheAccess"; msal-node's on-behalf-of is such a flow);
 * - its own behaviour: `beforeCacheAccess` reads and deserializes the whole partition every time; `afterCacheAccess`
 *   writes the whole serialized cache whenever MSAL reports a change; no encryption.
 *
 * Its `ICacheClient` runs over the SAME `CacheStore` classes (Table, Cosmos, Redis, memory) as this library, so both
 * pay the same SDK and emulator per round trip. `get` is a point read (`''` for a missing key, as the samples'
 * Redis wrapper answers). `set` is what a user writes for a plain SET: an unconditional overwrite. The store
 * interface has no unconditional write, and nothing is added to the stores for the peer, so `set` reads the current
 * ETag and replaces the document conditionally on it (creates it when there is none), and on a conflict does that
 * again until it lands: last writer wins, as with SET. That costs a read and a write per `set` where SET costs one
 * round trip; only writes pay it, never the warm path.
 */
import {
  ConfidentialClientApplication,
  DistributedCachePlugin,
  LogLevel,
  type AccountInfo,
  type AuthenticationResult,
  type AuthorizationCodePayload,
  type AuthorizationCodeRequest,
  type AuthorizationUrlRequest,
  type ICacheClient,
  type INetworkModule,
  type IPartitionManager,
} from '@azure/msal-node';
import { hasErrorCode, type CacheStore } from '../../lib/index.js';

/** The peer's store traffic, for per-invocation figures. */
export interface PeerStoreStats {
  gets: number;
  sets: number;
  /** Extra read + write pairs of `set` after a conflict (another writer landed between its read and its write). */
  setRetries: number;
  /** Wall-clock milliseconds waiting for the store. */
  storeMs: number;
}

export interface PeerCacheClient extends ICacheClient {
  readonly stats: PeerStoreStats;
}

/** Most read-and-replace rounds of one `set` before it gives up (each lost round means another writer landed). */
const MAX_SET_ROUNDS = 100;

export function storeCacheClient(store: CacheStore): PeerCacheClient {
  const stats: PeerStoreStats = { gets: 0, sets: 0, setRetries: 0, storeMs: 0 };
  const timed = async <T>(work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      stats.storeMs += performance.now() - started;
    }
  };
  return {
    stats,
    async get(key: string): Promise<string> {
      // The samples' partition manager answers '' before a sign-in; the samples' Redis GET of '' answers nothing.
      if (key === '') return '';
      stats.gets++;
      const stored = await timed(() => store.read(key));
      return stored ? Buffer.from(stored.data).toString('utf8') : '';
    },
    async set(key: string, value: string): Promise<string> {
      stats.sets++;
      const data = Buffer.from(value, 'utf8');
      for (let round = 1; ; round++) {
        try {
          await timed(async () => {
            const current = await store.read(key);
            await store.write(key, data, current ? { ifMatch: current.etag } : {});
          });
          return 'OK';
        } catch (error) {
          if (!hasErrorCode(error, 'store_conflict') || round >= MAX_SET_ROUNDS) throw error;
          stats.setRetries++;
        }
      }
    },
  };
}

function partitionManager(key: string): IPartitionManager {
  return {
    getKey: () => Promise.resolve(key),
    extractKey: (account) => Promise.resolve(account.homeAccountId),
  };
}

export interface PeerAppOptions {
  readonly clientId: string;
  readonly tenantId: string;
  /** `{authorityHost}/{tenantId}`. */
  readonly authority: string;
  readonly clientSecret: string;
  /** The authority's openid-configuration JSON, fetched once per process (as the samples cache it). */
  readonly authorityMetadata: string;
  /** The same keep-alive network client this library's token cache uses. */
  readonly networkClient: INetworkModule;
  readonly cacheClient: PeerCacheClient;
}

/** The flows the benchmark runs, the peer's way: a new client and plugin per call. */
export class PeerApp {
  constructor(readonly options: PeerAppOptions) {}

  get appPartitionKey(): string {
    return `${this.options.clientId}.${this.options.tenantId}`.toLowerCase();
  }

  /** A new client bound to `partitionKey` for one request, as the samples' `getMsalInstance(sessionId)`. */
  client(partitionKey: string): ConfidentialClientApplication {
    const { clientId, authority, clientSecret, authorityMetadata, networkClient, cacheClient } = this.options;
    return new ConfidentialClientApplication({
      auth: {
        clientId,
        authority,
        clientSecret,
        knownAuthorities: [new URL(authority).host],
        authorityMetadata,
      },
      cache: { cachePlugin: new DistributedCachePlugin(cacheClient, partitionManager(partitionKey)) },
      // The same logger settings as this library's clients, so neither pays for logging the other skips.
      system: {
        networkClient,
        loggerOptions: { piiLoggingEnabled: false, logLevel: LogLevel.Warning, loggerCallback: () => undefined },
      },
    });
  }

  async onBehalfOf(userPartitionKey: string, assertion: string, scopes: readonly string[]) {
    const client = this.client(userPartitionKey);
    await client.getTokenCache().getAllAccounts(); // loads the partition: msal-node's OBO does not call the plugin
    return required(await client.acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes: [...scopes] }));
  }

  async clientCredential(scopes: readonly string[]): Promise<AuthenticationResult> {
    const client = this.client(this.appPartitionKey);
    return required(await client.acquireTokenByClientCredential({ scopes: [...scopes] }));
  }

  async silent(homeAccountId: string, scopes: readonly string[], forceRefresh = false): Promise<AuthenticationResult> {
    const client = this.client(homeAccountId);
    const account: AccountInfo | null = await client.getTokenCache().getAccountByHomeId(homeAccountId);
    if (!account) throw new Error('peer: the partition holds no such account');
    return client.acquireTokenSilent({ account, scopes: [...scopes], forceRefresh });
  }

  /** The sign-in URL, from a client with no partition yet (its partition manager answers ''). */
  getAuthCodeUrl(request: AuthorizationUrlRequest): Promise<string> {
    return this.client('').getAuthCodeUrl(request);
  }

  /** Redeems a sign-in code; the plugin writes to the partition of the account the authority answered with. */
  async acquireTokenByCode(request: AuthorizationCodeRequest, payload: AuthorizationCodePayload) {
    const client = this.client('');
    await client.getTokenCache().getAllAccounts(); // as the sample does before acquireTokenByCode
    return required(await client.acquireTokenByCode(request, payload));
  }
}

function required(result: AuthenticationResult | null): AuthenticationResult {
  if (!result) throw new Error('peer: msal-node returned no token');
  return result;
}
