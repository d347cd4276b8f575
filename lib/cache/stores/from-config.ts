import type { AppConfig } from '../../config.js';
import { createCosmosStore } from './cosmos.js';
import { createMemoryStore } from './memory.js';
import { createRedisStore } from './redis.js';
import type { CacheStore } from './store.js';
import { createTableStore } from './table.js';

/** The store the settings name. Its SDK loads on first use, so only the configured store's SDK is ever imported. */
export function createStore(cache: AppConfig['cache']): CacheStore {
  switch (cache.store) {
    case 'memory':
      return createMemoryStore();
    case 'cosmos': {
      const cosmos = cache.cosmos!;
      return createCosmosStore({
        endpoint: cosmos.endpoint,
        ...(cosmos.key ? { key: cosmos.key } : {}),
        databaseId: cosmos.databaseId,
        containerId: cosmos.containerId,
        createIfMissing: cache.createIfMissing,
        // Plain-http endpoints are local emulators, which have no regional endpoints to discover.
        ...(cosmos.endpoint.startsWith('http:') ? { connectionPolicy: { enableEndpointDiscovery: false } } : {}),
      });
    }
    case 'table': {
      const table = cache.table!;
      const endpoint = table.accountUrl ?? /TableEndpoint=([^;]+)/i.exec(table.connectionString ?? '')?.[1] ?? '';
      return createTableStore({
        ...(table.connectionString ? { connectionString: table.connectionString } : { accountUrl: table.accountUrl }),
        tableName: table.tableName,
        createIfMissing: cache.createIfMissing,
        allowInsecureConnection: endpoint.startsWith('http:'),
      });
    }
    case 'redis': {
      const redis = cache.redis!;
      // No password: Microsoft Entra ID for Azure hosts (managed identity; the user name is the token's oid).
      return createRedisStore({
        url: redis.url,
        ...(redis.password ? { password: redis.password } : {}),
        ...(redis.username ? { username: redis.username } : {}),
        keyPrefix: redis.keyPrefix,
      });
    }
  }
}
