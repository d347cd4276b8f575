import type { AuthenticationResult, ConfidentialClientApplication, INetworkModule } from '@azure/msal-node';
import type { ClientCredential, ClientIdentity, SharedPluginOptions } from './auth/clients.js';
import { DEFAULT_COMPRESS } from './cache/envelope.js';
import type { KeyRing } from './cache/keyring.js';
import type { CacheStats } from './cache/stats.js';
import { DEFAULT_WARM_TIER_BYTES, type WarmTierOptions } from './cache/warm-tier.js';
import { TokenCacheError } from './errors.js';
import type { TokenCacheLogger } from './log.js';
import type { CacheStore } from './stores/store.js';

/*
 * The options of a PartitionedTokenCache, what its calls answer, and the checks that turn the options into what the
 * cache runs with.
 */

/** Microsoft Entra ID's public cloud. */
export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';
/** How long a partition untouched by any write is kept (the store's TTL or the sweeper then removes it). */
export const DEFAULT_CACHE_LIFETIME_MS = 90 * 86_400_000;
/** Conditional write attempts on a contended partition before the write is given up (the token is still returned). */
export const DEFAULT_MAX_WRITE_ATTEMPTS = 20;

const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Who the app is. Exactly one of `clientSecret` and `clientCertificate`. */
export interface TokenCacheAuthOptions {
  /** The app registration's application (client) id. */
  readonly clientId: string;
  /**
   * The app registration's home tenant id (a GUID, not a domain name): its partition for app tokens and the
   * authority's path.
   */
  readonly tenantId: string;
  /** The identity provider. @defaultValue {@link DEFAULT_AUTHORITY_HOST} */
  readonly authorityHost?: string;
  readonly clientSecret?: string;
  /** A certificate credential: its SHA-256 thumbprint (hex), the PEM private key and, optionally, the PEM chain. */
  readonly clientCertificate?: {
    readonly thumbprintSha256: string;
    readonly privateKey: string;
    readonly x5c?: string;
  };
  /**
   * Client capabilities declared on every token request (msal-node's `clientCapabilities`). `['cp1']` declares that
   * the app handles claims challenges: Microsoft Entra then issues Continuous Access Evaluation tokens (living up to
   * 28 hours) that CAE-enabled APIs such as Microsoft Graph may reject before they expire, with a `401` claims
   * challenge. Declare it only when every call of the app to such an API recognises that challenge
   * (`parseClaimsChallenge`) and asks again with its `claims`; otherwise a rejected token stays in use until it
   * expires. Hence no default: the library cannot know what the app does with its tokens.
   * @defaultValue none
   */
  readonly clientCapabilities?: readonly string[];
}

/** Where and how the token caches are kept. */
export interface TokenCacheStorageOptions {
  /** One of `createTableStore`, `createCosmosStore`, `createRedisStore`, `createMemoryStore`, or your own. */
  readonly store: CacheStore;
  /** Encrypts every document at rest; the first key writes, all keys read. See `parseKeyRing`. */
  readonly keyRing: KeyRing;
  /** Deflate documents before encrypting them. @defaultValue {@link DEFAULT_COMPRESS} (true) */
  readonly compress?: boolean;
  /** Lifetime of a document after its last write. @defaultValue {@link DEFAULT_CACHE_LIFETIME_MS} */
  readonly lifetimeMs?: number;
  /** Conditional write attempts per invocation. @defaultValue {@link DEFAULT_MAX_WRITE_ATTEMPTS} */
  readonly maxWriteAttempts?: number;
  /**
   * The warm tier: per process, the last MSAL client of each recent partition with its in-memory cache, bounded by
   * bytes. Every invocation still revalidates the partition's ETag with the store's cheapest read (as consistent as
   * a full read); when it is unchanged the client is reused and nothing is decrypted, parsed or deserialized.
   * @defaultValue on, {@link DEFAULT_WARM_TIER_BYTES}; `{ maxBytes: 0 }` turns it off
   */
  readonly warmTier?: WarmTierOptions;
}

/** Process-wide plumbing. */
export interface TokenCacheSystemOptions {
  /**
   * Where warnings (store failures, unusable documents) and one telemetry line per acquisition go when an
   * invocation passes no logger of its own. @defaultValue `console`
   */
  readonly logger?: TokenCacheLogger;
  /** Log one `token-cache-telemetry {json}` line per acquisition. @defaultValue true */
  readonly telemetry?: boolean;
  /** MSAL's network module. @defaultValue a keep-alive `node:https` client shared by the process */
  readonly networkClient?: INetworkModule;
  /** Extra CA certificates (PEM) the default network client trusts, e.g. a local development authority. */
  readonly ca?: string;
  /** Timeout of one request of the default network client, in ms. @defaultValue `DEFAULT_NETWORK_TIMEOUT_MS` */
  readonly networkTimeoutMs?: number;
}

/** One nested bag, as msal-node's `Configuration`. */
export interface PartitionedTokenCacheOptions {
  readonly auth: TokenCacheAuthOptions;
  readonly cache: TokenCacheStorageOptions;
  readonly system?: TokenCacheSystemOptions;
}

/** Per call. */
export interface InvocationOptions {
  /** The invocation's logger (an Azure Functions `InvocationContext` is one). @defaultValue the system logger */
  readonly logger?: TokenCacheLogger;
  /**
   * Stops waiting: the call rejects with code `aborted`. Work already sent (a store write, a token request) may
   * still complete in the background and is kept consistent.
   */
  readonly abortSignal?: AbortSignal;
  /** The `op` of the telemetry line. @defaultValue the flow: `client_credentials`, `on_behalf_of`, `silent`, `code` */
  readonly operation?: string;
}

/** A token and what getting it cost. */
export interface TokenOutcome {
  readonly result: AuthenticationResult;
  /** The partition the token came from or went to. */
  readonly partitionKey: string;
  /** This invocation's store traffic; all zero when it joined an identical acquisition already in flight. */
  readonly stats: CacheStats;
  /** The result of an identical concurrent acquisition in this process was shared. */
  readonly joined: boolean;
  /**
   * Every change to the partition reached the store (true as well when there was nothing to write). False when the
   * token came from the identity provider but could not be kept: the store failed or timed out, the write gave up
   * on a contended partition, or the partition holds a document this instance must not replace
   * (`stats.foreign`). The token is valid either way; the next call asks the identity provider again.
   * `acquireTokenByCode` throws {@link PartitionNotSavedError} instead of answering `false`.
   */
  readonly saved: boolean;
}

/** The validated identity of a web API's caller: `oid` and `tid` of its access token. */
export interface CallerIdentity {
  readonly oid: string;
  readonly tid: string;
}

/** An MSAL client bound to one partition for one invocation, for flows the cache does not wrap. */
export interface PartitionClient {
  readonly client: ConfidentialClientApplication;
  readonly partitionKey: string;
  /** The store traffic of this client so far. */
  readonly stats: CacheStats;
  /**
   * Loads the partition into the client's cache now (once). Needed before flows that look up the cache without
   * calling the plugin first, such as msal-node's `acquireTokenOnBehalfOf` — pass its incoming token as
   * `oboAssertion`: the client is shown the on-behalf-of access tokens of that token only (without it, none of them),
   * and the others are kept in the partition.
   */
  readonly load: (options?: { readonly oboAssertion?: string }) => Promise<void>;
  /**
   * The partition could not be read (the store failed or timed out), or holds a document this instance must not
   * replace: an empty cache then says nothing about the user. Known after the first load.
   */
  readonly unavailable: boolean;
}

/** What a PartitionedTokenCache runs with, from its options (validated). */
export interface ResolvedOptions {
  readonly identity: ClientIdentity;
  readonly plugins: SharedPluginOptions;
  readonly warmTierBytes: number;
}

/** Checks the options and fills in the defaults. Throws `TokenCacheError` code `invalid_options`. */
export function resolveOptions(options: PartitionedTokenCacheOptions): ResolvedOptions {
  const { auth, cache } = options;
  if (!auth?.clientId || !auth.tenantId) {
    throw new TokenCacheError('invalid_options', 'auth.clientId and auth.tenantId are required');
  }
  if (!TENANT_ID.test(auth.tenantId)) {
    // A domain or alias would name the app's partition and the authority differently from every token's tid.
    throw new TokenCacheError(
      'invalid_options',
      "auth.tenantId must be the tenant's id (a GUID), not a domain name or an alias such as organizations",
    );
  }
  if (!cache?.store || !cache.keyRing) {
    throw new TokenCacheError('invalid_options', 'cache.store and cache.keyRing are required');
  }
  return {
    identity: {
      clientId: auth.clientId,
      tenantId: auth.tenantId.toLowerCase(),
      authorityHost: (auth.authorityHost ?? DEFAULT_AUTHORITY_HOST).replace(/\/+$/, ''),
      credential: credentialOf(auth),
      clientCapabilities: capabilitiesOf(auth),
    },
    plugins: {
      store: cache.store,
      keyRing: cache.keyRing,
      compress: cache.compress ?? DEFAULT_COMPRESS,
      lifetimeMs: cache.lifetimeMs ?? DEFAULT_CACHE_LIFETIME_MS,
      maxWriteAttempts: cache.maxWriteAttempts ?? DEFAULT_MAX_WRITE_ATTEMPTS,
    },
    warmTierBytes: warmTierBytes(cache.warmTier),
  };
}

function warmTierBytes(options: WarmTierOptions | undefined): number {
  const bytes = options?.maxBytes ?? DEFAULT_WARM_TIER_BYTES;
  if (!Number.isFinite(bytes) || bytes < 0) {
    throw new TokenCacheError('invalid_options', 'cache.warmTier.maxBytes must be a non-negative number of bytes');
  }
  return bytes;
}

function credentialOf(auth: TokenCacheAuthOptions): ClientCredential {
  if (auth.clientSecret !== undefined && auth.clientCertificate !== undefined) {
    throw new TokenCacheError('invalid_options', 'give only one of auth.clientSecret and auth.clientCertificate');
  }
  if (auth.clientSecret) return { clientSecret: auth.clientSecret };
  if (auth.clientCertificate) return { clientCertificate: auth.clientCertificate };
  throw new TokenCacheError('invalid_options', 'auth.clientSecret or auth.clientCertificate is required');
}

function capabilitiesOf(auth: TokenCacheAuthOptions): string[] {
  const capabilities: unknown = auth.clientCapabilities ?? [];
  const names = Array.isArray(capabilities) ? (capabilities as unknown[]) : undefined;
  if (!names?.every((c): c is string => typeof c === 'string' && /^[A-Za-z0-9_-]{1,32}$/.test(c))) {
    throw new TokenCacheError('invalid_options', 'auth.clientCapabilities must be an array of names such as "cp1"');
  }
  return [...names];
}
