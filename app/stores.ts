import {
  createCosmosStore,
  createMemoryStore,
  createRedisStore,
  createTableStore,
  type CacheStore,
} from '../lib/index.js';
import { SettingsError, type AppSettings } from './settings.js';

/**
 * The two stores the settings name: `tokens` holds the token caches (the library's), `records` the app's own
 * records — background opt-ins and the user daemon's cursor — in their own table, container or key prefix, so
 * nothing of the app's lives among the token documents. Each SDK loads on first use.
 */
export function createStores(cache: AppSettings['cache']): { tokens: CacheStore; records: CacheStore } {
  switch (cache.store) {
    case 'memory':
      return { tokens: createMemoryStore(), records: createMemoryStore() };
    case 'cosmos': {
      const cosmos = cache.cosmos!;
      const base = {
        endpoint: cosmos.endpoint,
        ...(cosmos.key ? { key: cosmos.key } : {}),
        databaseId: cosmos.databaseId,
        createIfMissing: cache.createIfMissing,
        // Plain-http endpoints are local emulators, which have no regional endpoints to discover.
        ...(cosmos.endpoint.startsWith('http:') ? { connectionPolicy: { enableEndpointDiscovery: false } } : {}),
      };
      distinct('COSMOS_CONTAINER', cosmos.containerId, 'COSMOS_RECORDS_CONTAINER', cosmos.recordsContainerId);
      return {
        tokens: createCosmosStore({ ...base, containerId: cosmos.containerId }),
        records: createCosmosStore({ ...base, containerId: cosmos.recordsContainerId }),
      };
    }
    case 'table': {
      const table = cache.table!;
      const endpoint = table.accountUrl ?? /TableEndpoint=([^;]+)/i.exec(table.connectionString ?? '')?.[1] ?? '';
      const base = {
        ...(table.connectionString ? { connectionString: table.connectionString } : { accountUrl: table.accountUrl }),
        createIfMissing: cache.createIfMissing,
        allowInsecureConnection: endpoint.startsWith('http:'),
      };
      distinct('TABLE_NAME', table.tableName, 'TABLE_RECORDS_NAME', table.recordsTableName);
      return {
        tokens: createTableStore({ ...base, tableName: table.tableName }),
        records: createTableStore({ ...base, tableName: table.recordsTableName }),
      };
    }
    case 'redis': {
      const redis = cache.redis!;
      // No password: Microsoft Entra ID for Azure hosts (managed identity; the user name is the token's oid).
      const base = {
        url: redis.url,
        ...(redis.password ? { password: redis.password } : {}),
        ...(redis.username ? { username: redis.username } : {}),
      };
      distinct('REDIS_KEY_PREFIX', redis.keyPrefix, 'REDIS_RECORDS_KEY_PREFIX', redis.recordsKeyPrefix);
      return {
        tokens: createRedisStore({ ...base, keyPrefix: redis.keyPrefix }),
        records: createRedisStore({ ...base, keyPrefix: redis.recordsKeyPrefix }),
      };
    }
  }
}

function distinct(name: string, value: string, otherName: string, other: string): void {
  if (value.toLowerCase() === other.toLowerCase())
    throw new SettingsError(`settings ${name} and ${otherName} must differ`);
}
