/**
 * The SDKs' own clients on the test emulators, for tests that write or break a record the way a store never would.
 * Each is closed after its use.
 */
import { CosmosClient, type Container } from '@azure/cosmos';
import { TableClient } from '@azure/data-tables';
import { createClient } from 'redis';

/** The Cosmos DB server answers on its own address only: no endpoint discovery. */
export const EMULATOR_POLICY = { enableEndpointDiscovery: false };

export async function withRawCosmos<T>(
  cosmos: { readonly endpoint: string; readonly key: string },
  databaseId: string,
  containerId: string,
  use: (container: Container) => Promise<T>,
): Promise<T> {
  const client = new CosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, connectionPolicy: EMULATOR_POLICY });
  try {
    return await use(client.database(databaseId).container(containerId));
  } finally {
    client.dispose();
  }
}

export function rawTable(table: { readonly connectionString: string }, tableName: string): TableClient {
  return TableClient.fromConnectionString(table.connectionString, tableName, { allowInsecureConnection: true });
}

const rawRedisClient = (url: string) => createClient({ url });

export async function withRawRedis<T>(
  url: string,
  use: (client: ReturnType<typeof rawRedisClient>) => Promise<T>,
): Promise<T> {
  const client = rawRedisClient(url);
  await client.connect();
  try {
    return await use(client);
  } finally {
    client.destroy();
  }
}
