/**
 * Emulator addresses for tests: those the vitest globalSetup (test/global-setup.ts) started once per run, read with
 * `inject('stack')`; when a run has no such setup (another config), this file starts its own on free ports (Azurite and
 * the Cosmos server in process, a redis-server child process), and `releaseEmulators()` stops them.
 */
import { createServer } from 'node:net';
import { inject } from 'vitest';
import { startAzuriteTable, startCosmosServer, startRedisServer } from '../../dev/emulators.js';
import { createTableStore, type CacheStore } from '../../lib/index.js';
import type { Stack } from '../global-setup.js';

export type EmulatorAddresses = Pick<Stack, 'table' | 'cosmos'> & { readonly redis: { readonly url: string } };

/** False when the run's setup found no redis-server (outside CI only): the Redis suites are then skipped. */
export function redisAvailable(): boolean {
  const provided = inject('stack') as Stack | undefined;
  return provided === undefined || provided.redis !== undefined;
}

let started: Promise<{ addresses: EmulatorAddresses; close(): Promise<void> }> | undefined;

/** The globalSetup's emulators, or (without one) emulators started on first call, once per test file. */
export async function getEmulators(): Promise<EmulatorAddresses> {
  const provided = inject('stack') as Stack | undefined;
  if (provided) {
    return {
      table: provided.table,
      cosmos: provided.cosmos,
      get redis() {
        if (!provided.redis) throw new Error('redis-server is not available in this run');
        return provided.redis;
      },
    };
  }
  started ??= (async () => {
    const [table, cosmos, redis] = await Promise.all([startAzuriteTable(), startCosmosServer(), startRedisServer()]);
    return {
      addresses: {
        table: {
          url: table.url,
          accountName: table.accountName,
          accountKey: table.accountKey,
          connectionString: table.connectionString,
        },
        cosmos: { endpoint: cosmos.endpoint, key: cosmos.key },
        redis: { url: redis.url },
      },
      close: async () => {
        await Promise.all([table.close(), cosmos.close(), redis.close()]);
      },
    };
  })();
  return (await started).addresses;
}

/** Stops the emulators this file started, if any (call from afterAll). */
export async function releaseEmulators(): Promise<void> {
  const current = started;
  started = undefined;
  if (current) await (await current).close();
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago): for "store unreachable" tests. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** A Table store whose endpoint nothing listens on, failing fast (no SDK retries): a real "store unreachable". */
export async function unreachableTableStore(): Promise<CacheStore> {
  const { table } = await getEmulators();
  return createTableStore({
    connectionString: table.connectionString.replace(/:\d+\//, `:${await closedPort()}/`),
    tableName: 'unreachable',
    allowInsecureConnection: true,
    maxRetries: 0,
  });
}
