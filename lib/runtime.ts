import { type AppConfig, getConfig } from './config.js';
import { ClientFactory } from './auth/clients.js';
import { type BearerPolicy, type KeyResolver, createKeyResolver } from './auth/bearer.js';
import { type KeyRing, parseKeyRing } from './cache/keyring.js';
import { L1Cache } from './cache/l1.js';
import type { CacheStore } from './cache/stores/store.js';
import { createStore } from './cache/stores/from-config.js';

/**
 * What one Functions process shares across invocations: configuration, the store client, the MSAL client factory
 * (network client, authority metadata) and the JWKS cache. Never a token cache: each invocation binds its own
 * plugin to one partition.
 */
export interface Runtime {
  readonly config: AppConfig;
  readonly store: CacheStore;
  readonly factory: ClientFactory;
  readonly bearerPolicy: BearerPolicy;
  readonly bearerKeys: KeyResolver;
  /** Keys of the web app's cookies; undefined when SESSION_KEYS is not set (web app sign-in then answers 500). */
  readonly sessionKeys: KeyRing | undefined;
}

let current: Runtime | undefined;

export function getRuntime(): Runtime {
  current ??= createRuntime(getConfig());
  return current;
}

/** Installs the runtime the functions use (an app embedding the library with its own store, or a test). */
export function useRuntime(runtime: Runtime): void {
  current = runtime;
}

export function createRuntime(config: AppConfig, overrides: { readonly store?: CacheStore } = {}): Runtime {
  const store = overrides.store ?? createStore(config.cache);
  const factory = new ClientFactory(config.identity, {
    store,
    keyRing: parseKeyRing(config.cache.keys),
    compress: config.cache.compress,
    lifetimeMs: config.cache.lifetimeDays * 86_400_000,
    ...(config.cache.l1MaxAgeSeconds > 0 ? { l1: new L1Cache({ maxAgeMs: config.cache.l1MaxAgeSeconds * 1000 }) } : {}),
  });
  const host = config.identity.authorityHost;
  return {
    config,
    store,
    factory,
    bearerPolicy: {
      audiences: config.web.audiences,
      allowedTenants: config.web.allowedTenants,
      issuerFor: (tid) => `${host}/${tid}/v2.0`,
      requiredScopes: [config.web.requiredScope],
    },
    bearerKeys: createKeyResolver(`${factory.authority}/discovery/v2.0/keys`, factory.network),
    sessionKeys: config.web.sessionKeys ? parseKeyRing(config.web.sessionKeys) : undefined,
  };
}
