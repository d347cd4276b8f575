export * from './store.js';
export * from './keys.js';
export { createMemoryStore, type MemoryStoreOptions } from './memory.js';
export { createCosmosStore, COSMOS_MAX_ITEM_BYTES, type CosmosStoreOptions } from './cosmos.js';
export {
  createTableStore,
  tableEntitySize,
  TABLE_MAX_BINARY_PROPERTY_BYTES,
  TABLE_MAX_ENTITY_BYTES,
  type TableStoreOptions,
} from './table.js';
export {
  createRedisStore,
  isAzureRedisHost,
  REDIS_DEFAULT_KEY_PREFIX,
  REDIS_DEFAULT_MAX_DOCUMENT_BYTES,
  REDIS_ENTRA_SCOPE,
  type RedisStoreOptions,
} from './redis.js';
