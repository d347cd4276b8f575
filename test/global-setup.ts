import type { TestProject } from 'vitest/node';
import { startLocalAuthority } from '../dev/authority/server.js';
import { startDownstreamApi } from '../dev/downstream.js';
import { startAzuriteTable, startCosmosServer, startRedisServer } from '../dev/emulators.js';

/**
 * Starts, once per test run, everything the tests talk to — on free loopback ports, all in this process but
 * redis-server (a child process): Azurite's Table service, the Cosmos DB-compatible server, Redis, the local HTTPS
 * authority and the downstream API.
 * Test files get the addresses with `inject(...)` (see test/support/stack.ts) and isolate themselves with their own
 * table/container names, client ids and tenant ids.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [table, cosmos, redis, authority] = await Promise.all([
    startAzuriteTable(),
    startCosmosServer(),
    startRedisServer().catch((error: unknown) => {
      // CI installs redis-server (.ci/run) and must run the Redis suites; a newcomer's machine may lack it.
      if (process.env.CI) throw error;
      console.warn(`\n*** Redis suites SKIPPED: ${error instanceof Error ? error.message : String(error)} ***\n`);
      return undefined;
    }),
    // Every secret of the run is listed to the log audit (test/support/log-audit-setup.ts): keep them all (a whole
    // run sighted about 9,000 here).
    startLocalAuthority({ secretLogLimit: 50_000 }),
  ]);
  const downstream = await startDownstreamApi({
    jwks: authority.jwks,
    issuers: (iss) => iss.startsWith(`${authority.url}/`),
    criticalEvents: authority.cae,
    audience: ['https://graph.microsoft.com', 'api://downstream'],
  });
  project.provide('stack', {
    table: {
      url: table.url,
      accountName: table.accountName,
      accountKey: table.accountKey,
      connectionString: table.connectionString,
    },
    cosmos: { endpoint: cosmos.endpoint, key: cosmos.key },
    ...(redis ? { redis: { url: redis.url } } : {}),
    authority: { url: authority.url, ca: authority.ca, host: authority.host },
    downstream: { url: downstream.url },
  });
  return async () => {
    await Promise.allSettled([table.close(), cosmos.close(), redis?.close(), authority.close(), downstream.close()]);
  };
}

export interface Stack {
  readonly table: {
    readonly url: string;
    readonly accountName: string;
    readonly accountKey: string;
    readonly connectionString: string;
  };
  readonly cosmos: { readonly endpoint: string; readonly key: string };
  readonly redis?: { readonly url: string };
  readonly authority: { readonly url: string; readonly ca: string; readonly host: string };
  readonly downstream: { readonly url: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: Stack;
  }
}
