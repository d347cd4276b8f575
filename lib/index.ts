/**
 * MSAL Node token caches for serverless apps: one cache per user and per app, kept in Cosmos DB, Azure Table
 * storage, Redis or memory; encrypted at rest; written back only when changed, conditionally on the ETag read.
 *
 * The public API is exactly what this file exports.
 */

// The token cache: create one per process.
export { PartitionedTokenCache } from './token-cache.js';
export {
  DEFAULT_AUTHORITY_HOST,
  DEFAULT_CACHE_LIFETIME_MS,
  DEFAULT_MAX_WRITE_ATTEMPTS,
  type PartitionedTokenCacheOptions,
  type TokenCacheAuthOptions,
  type TokenCacheStorageOptions,
  type TokenCacheSystemOptions,
  type InvocationOptions,
  type TokenOutcome,
  type CallerIdentity,
  type PartitionClient,
} from './options.js';
export { createNetworkClient, DEFAULT_NETWORK_TIMEOUT_MS, type NetworkClientOptions } from './auth/network.js';
export { type CacheStats } from './cache/stats.js';
export { MAX_OBO_TOKENS_PER_TARGET } from './cache/merge.js';
export { DEFAULT_WARM_TIER_BYTES, type WarmTierOptions, type WarmTierUsage } from './cache/warm-tier.js';

// Partition keys: built only from validated claims or configuration.
export { userPartitionKey, appPartitionKey, partitionKeyOfAccount } from './cache/partitions.js';

// Encryption at rest.
export { parseKeyRing, createKeyRing, generateKeySetting, type KeyRing, type CacheKey } from './cache/keyring.js';
// Your app's own small records (consents, links), sealed the same way, bound to their key.
export { sealRecord, openRecord } from './records.js';
export { DEFAULT_COMPRESS, isForeignSeal } from './cache/envelope.js';

// Stores: one small interface, one factory per store; each store's SDK is imported on first use.
export {
  StoreError,
  StoreConflictError,
  StoreCorruptError,
  StoreTooLargeError,
  DEFAULT_LIST_PAGE_SIZE,
  type CacheStore,
  type StoredDocument,
  type WriteOptions,
  type ListOptions,
  type ListEntry,
  type ListPage,
  type StoreErrorCode,
  type StoreCredential,
} from './stores/store.js';
export { createMemoryStore, type MemoryStoreOptions } from './stores/memory.js';
export {
  createTableStore,
  DEFAULT_TABLE_NAME,
  DEFAULT_TABLE_REQUEST_TIMEOUT_MS,
  DEFAULT_TABLE_MAX_RETRIES,
  DEFAULT_TABLE_OPERATION_TIMEOUT_MS,
  TABLE_MAX_ENTITY_BYTES,
  type TableStoreOptions,
} from './stores/table.js';
export {
  createCosmosStore,
  DEFAULT_COSMOS_DATABASE_ID,
  DEFAULT_COSMOS_CONTAINER_ID,
  DEFAULT_COSMOS_REQUEST_TIMEOUT_MS,
  DEFAULT_COSMOS_OPERATION_TIMEOUT_MS,
  COSMOS_MAX_ITEM_BYTES,
  type CosmosStoreOptions,
  type CosmosConnectionPolicy,
} from './stores/cosmos.js';
export {
  createRedisStore,
  DEFAULT_REDIS_KEY_PREFIX,
  DEFAULT_REDIS_MAX_DOCUMENT_BYTES,
  DEFAULT_REDIS_CONNECT_TIMEOUT_MS,
  DEFAULT_REDIS_OPERATION_TIMEOUT_MS,
  DEFAULT_REDIS_MIN_TTL_MS,
  type RedisStoreOptions,
} from './stores/redis.js';
export { sweepExpired, DEFAULT_SWEEP_BUDGET, type SweepOptions, type SweepResult } from './stores/sweep.js';

// Web APIs: validating the caller's bearer token.
export {
  createBearerValidator,
  entraV1Issuer,
  BearerError,
  DEFAULT_CLOCK_TOLERANCE_SECONDS,
  DEFAULT_JWKS_TIMEOUT_MS,
  type BearerValidator,
  type BearerValidatorOptions,
  type ValidatedCaller,
  type CallerClaims,
} from './auth/bearer.js';

// Errors and what to do about them.
export { TokenCacheError, PartitionNotSavedError, hasErrorCode, type TokenCacheErrorCode } from './errors.js';
export { classifyTokenError, type TokenFailure } from './auth/token-errors.js';

// Claims challenges (Continuous Access Evaluation): read a resource's, hand one to a web API's caller.
export {
  parseClaimsChallenge,
  formatClaimsChallenge,
  hasClientCapability,
  MAX_CLAIMS_LENGTH,
  type ClaimsChallenge,
} from './auth/claims-challenge.js';

// Logging and telemetry.
export { describeError, type TokenCacheLogger } from './log.js';
export { TOKEN_TELEMETRY_PREFIX } from './telemetry.js';
