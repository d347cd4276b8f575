/**
 * Emulator addresses for tests. Today each test file starts its own (in-process, free ports); once a vitest
 * globalSetup starts them once per run, `getEmulators()` will read what it provides instead (e.g. `inject(...)`)
 * and `releaseEmulators()` becomes a no-op — test files do not change.
 */
import { createServer } from 'node:net';
import { startAzuriteTable, startCosmosServer } from '../../dev/emulators.js';

export interface EmulatorAddresses {
  readonly table: {
    readonly url: string;
    readonly accountName: string;
    readonly accountKey: string;
    readonly connectionString: string;
  };
  readonly cosmos: { readonly endpoint: string; readonly key: string };
}

let started: Promise<{ addresses: EmulatorAddresses; close(): Promise<void> }> | undefined;

/** Starts the emulators on first call (once per test file / worker) and returns their addresses. */
export async function getEmulators(): Promise<EmulatorAddresses> {
  started ??= (async () => {
    const [table, cosmos] = await Promise.all([startAzuriteTable(), startCosmosServer()]);
    return {
      addresses: {
        table: {
          url: table.url,
          accountName: table.accountName,
          accountKey: table.accountKey,
          connectionString: table.connectionString,
        },
        cosmos: { endpoint: cosmos.endpoint, key: cosmos.key },
      },
      close: async () => {
        await Promise.all([table.close(), cosmos.close()]);
      },
    };
  })();
  return (await started).addresses;
}

/** Stops the emulators this file started (call from afterAll). */
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
