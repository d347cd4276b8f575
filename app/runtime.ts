import {
  PartitionedTokenCache,
  createBearerValidator,
  parseKeyRing,
  type BearerValidator,
  type CacheStore,
  type KeyRing,
  type TokenCacheLogger,
} from '../lib/index.js';
import type { AppSettings } from './settings.js';
import { createStores } from './stores.js';

/**
 * What one Functions process shares across invocations: the settings, the token cache (its store client, network
 * client and authority metadata), the bearer validator (its JWKS cache) and the app's record store. Never a token
 * cache's contents: each call of the token cache binds a fresh MSAL client to one partition.
 */
export interface AppRuntime {
  readonly settings: AppSettings;
  readonly tokens: PartitionedTokenCache;
  /** The store of the token caches (the sweeper lists it). */
  readonly tokenStore: CacheStore;
  /** The store of the app's own records: background opt-ins, identity links and the user daemon's cursor. */
  readonly recordStore: CacheStore;
  /** Seals the app's records (`sealRecord`): the cache key ring (CACHE_KEYS). */
  readonly recordKeys: KeyRing;
  readonly bearer: BearerValidator;
  /** Keys of the web app's cookies; undefined when SESSION_KEYS is not set (web app sign-in then answers 500). */
  readonly sessionKeys: KeyRing | undefined;
  /** Releases the stores' and the network client's connections. */
  close(): Promise<void>;
}

export interface RuntimeOverrides {
  /** Stores to use instead of those the settings name (tests wrap them to count operations). */
  readonly stores?: { readonly tokens: CacheStore; readonly records: CacheStore };
  /** Where the token cache logs when a call passes no logger. Default `console`. */
  readonly logger?: TokenCacheLogger;
}

export function createAppRuntime(settings: AppSettings, overrides: RuntimeOverrides = {}): AppRuntime {
  const stores = overrides.stores ?? createStores(settings.cache);
  const { identity, cache, web } = settings;
  const keyRing = parseKeyRing(cache.keys);
  const tokens = new PartitionedTokenCache({
    auth: {
      clientId: identity.clientId,
      tenantId: identity.tenantId,
      authorityHost: identity.authorityHost,
      ...identity.credential,
      clientCapabilities: identity.clientCapabilities,
    },
    cache: {
      store: stores.tokens,
      keyRing,
      compress: cache.compress,
      lifetimeMs: cache.lifetimeDays * 86_400_000,
      warmTier: { maxBytes: Math.round(cache.warmTierMiB * 1024 * 1024) },
    },
    system: {
      ...(identity.ca ? { ca: identity.ca } : {}),
      ...(overrides.logger ? { logger: overrides.logger } : {}),
    },
  });
  const host = identity.authorityHost;
  return {
    settings,
    tokens,
    tokenStore: stores.tokens,
    recordStore: stores.records,
    recordKeys: keyRing,
    bearer: createBearerValidator({
      audiences: web.audiences,
      allowedTenants: web.allowedTenants,
      issuerFor: (tid) => `${host}/${tid}/v2.0`,
      v1IssuerFor: (tid) => web.v1Issuer.replace('{tenantId}', tid),
      requiredScopes: [web.requiredScope],
      jwksUri: `${tokens.authority}/discovery/v2.0/keys`,
      networkClient: tokens.networkClient,
    }),
    sessionKeys: web.sessionKeys ? parseKeyRing(web.sessionKeys) : undefined,
    close: async () => {
      await Promise.allSettled([tokens.close(), stores.records.close?.()]);
    },
  };
}
