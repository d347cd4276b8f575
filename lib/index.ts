/** The public API of the token-cache library. */
export { PartitionCachePlugin, type PartitionCachePluginOptions } from './cache/plugin.js';
export { type CacheStats } from './cache/stats.js';
export { appPartitionKey, partitionKeyOfAccount, userPartitionKey, PartitionKeyError } from './cache/partitions.js';
export {
  createKeyRing,
  parseKeyRing,
  generateKeySetting,
  KeyRingError,
  type KeyRing,
  type CacheKey,
} from './cache/keyring.js';
export { EnvelopeError } from './cache/envelope.js';
export * from './cache/stores/index.js';
export {
  ClientFactory,
  type IdentityOptions,
  type CacheOptions,
  type InvocationClient,
  type ClientCredential,
} from './auth/clients.js';
export { createNetworkClient, type NetworkClientOptions } from './auth/network.js';
export {
  acquireAppToken,
  acquireTokenOnBehalfOf,
  acquireTokenSilently,
  AccountNotCachedError,
  type TokenOutcome,
} from './auth/tokens.js';
export { validateBearer, createKeyResolver, BearerError, type BearerPolicy, type CallerClaims } from './auth/bearer.js';
export { classifyTokenError, type TokenFailure } from './auth/errors.js';
export { logTokenTelemetry, type TokenTelemetry } from './telemetry.js';
export { type Logger } from './log.js';
