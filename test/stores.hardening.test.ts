/**
 * The stores against malformed records, awkward keys, failing setups and bad options — on the real emulators
 * (in-process Cosmos server and Azurite, a real redis-server).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import {
  StoreCorruptError,
  StoreError,
  createCosmosStore,
  createRedisStore,
  createTableStore,
  sweepExpired,
  type CacheStore,
} from '../lib/index.js';
import { getEmulators, redisAvailable, redisSkipNote, releaseEmulators } from './support/emulators.js';
import { EMULATOR_POLICY, rawTable, withRawCosmos, withRawRedis } from './support/raw-sdk.js';

const bytes = (text: string) => new Uint8Array(Buffer.from(text));
const text = (data: Uint8Array | undefined) => (data ? Buffer.from(data).toString() : undefined);

afterAll(async () => {
  await releaseEmulators();
});

/** A store over a fresh Cosmos container, and a way to create items in that container through the SDK. */
async function freshCosmos() {
  const { cosmos } = await getEmulators();
  const containerId = `h-${randomUUID()}`;
  const store = createCosmosStore({
    endpoint: cosmos.endpoint,
    key: cosmos.key,
    databaseId: 'hardening',
    containerId,
    createIfMissing: true,
    connectionPolicy: EMULATOR_POLICY,
  });
  // Creates the database and container.
  await store.read('setup');
  const createItems = (...items: Record<string, unknown>[]) =>
    withRawCosmos(cosmos, 'hardening', containerId, async (container) => {
      const created = [];
      for (const item of items) created.push(await container.items.create(item));
      return created;
    });
  return { store, createItems };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('cosmos store: malformed items', () => {
  it('reads an item without string data as StoreCorruptError with its ETag, which a write can replace', async () => {
    const { store, createItems } = await freshCosmos();
    const [missing, numeric] = await createItems(
      { id: 'bad.1', key: 'bad.1', updatedAt: 'x' },
      { id: 'bad.2', key: 'bad.2', data: 42 },
    );
    for (const [key, created] of [
      ['bad.1', missing!],
      ['bad.2', numeric!],
    ] as const) {
      for (const read of [() => store.read(key), () => store.readIfChanged!(key, 'some-other-etag')]) {
        const error = await rejection(read());
        expect(error).toBeInstanceOf(StoreCorruptError);
        expect(error).toMatchObject({ code: 'store_corrupt', etag: created.etag });
      }
      const etag = await store.write(key, bytes('replaced'), { ifMatch: created.etag });
      expect(await store.read(key)).toEqual({ data: bytes('replaced'), etag });
    }
    await store.close?.();
  });

  it('lists past an item without a key: a sweep removes the good expired items', async () => {
    const { store, createItems } = await freshCosmos();
    const past = new Date(Date.now() - 60_000);
    await createItems(
      { id: 'nokey.1', data: '', expiresAt: past.toISOString() },
      { id: 'numkey.1', key: 7, data: '', expiresAt: past.toISOString() },
    );
    await store.write('good.1', bytes('x'), { expiresAt: past });
    await store.write('good.2', bytes('x'), { expiresAt: past });
    const listed = await store.list({ expiredBefore: new Date() });
    expect(listed.entries.map((entry) => entry.partitionKey).sort()).toEqual(['good.1', 'good.2']);
    const result = await sweepExpired(store, { pageSize: 1 });
    expect(result.removed).toBe(2);
    expect(await store.read('good.1')).toBeUndefined();
    await store.close?.();
  });
});

describe('cosmos store: the ids "." and ".."', () => {
  it('writes, reads and deletes them without touching the container', async () => {
    const { store } = await freshCosmos();
    await store.write('victim.1', bytes('keep me'));
    for (const key of ['.', '..']) {
      const etag = await store.write(key, bytes(`doc ${key}`));
      expect(await store.read(key)).toEqual({ data: bytes(`doc ${key}`), etag });
    }
    expect(text((await store.read('.'))?.data)).toBe('doc .');
    expect((await store.list({ prefix: '.' })).entries.map((entry) => entry.partitionKey).sort()).toEqual(['.', '..']);
    expect(await store.delete('..')).toBe(true);
    expect(await store.read('..')).toBeUndefined();
    expect(text((await store.read('victim.1'))?.data)).toBe('keep me');
    expect(text((await store.read('.'))?.data)).toBe('doc .');
    expect(await store.delete('.')).toBe(true);
    expect(text((await store.read('victim.1'))?.data)).toBe('keep me');
    await store.close?.();
  });
});

describe('cosmos store: a setup that fails', () => {
  /** A Cosmos endpoint that answers the account read but refuses every create (403), as Azure does a data-plane role. */
  async function refusingEndpoint(): Promise<{ endpoint: string; accountReads: () => number; server: Server }> {
    let accountReads = 0;
    const server = createServer((request, response) => {
      response.setHeader('content-type', 'application/json');
      if (request.method === 'GET' && request.url === '/') {
        accountReads++;
        response.end(
          JSON.stringify({
            id: 'account',
            writableLocations: [],
            readableLocations: [],
            userConsistencyPolicy: { defaultConsistencyLevel: 'Session' },
          }),
        );
        return;
      }
      response.statusCode = 403;
      response.end(JSON.stringify({ code: 'Forbidden', message: 'no control plane' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      accountReads: () => accountReads,
      server,
    };
  }

  it('leaves no SDK client refreshing the endpoint behind, per failed attempt or after close()', async () => {
    const { endpoint, accountReads, server } = await refusingEndpoint();
    try {
      const store = createCosmosStore({
        endpoint,
        key: 'a2V5',
        createIfMissing: true,
        connectionPolicy: { endpointRefreshRateInMs: 100 },
      });
      for (let i = 0; i < 5; i++) {
        await expect(store.read(`user.${i}`)).rejects.toMatchObject({ code: 'store_misconfigured' });
      }
      // Each client left undisposed reads the account every 100 ms in the background.
      const readsMeanwhile = async () => {
        const before = accountReads();
        await new Promise((resolve) => setTimeout(resolve, 700));
        return accountReads() - before;
      };
      expect(await readsMeanwhile()).toBe(0);
      await store.close?.();
      expect(await readsMeanwhile()).toBe(0);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('table store: malformed entities', () => {
  it('reads an entity with a missing or malformed chunk as StoreCorruptError with its ETag', async () => {
    const { table } = await getEmulators();
    const tableName = `t${randomUUID().replaceAll('-', '')}`;
    const store = createTableStore({
      connectionString: table.connectionString,
      tableName,
      createIfMissing: true,
      allowInsecureConnection: true,
    });
    await store.read('setup');
    const raw = rawTable(table, tableName);
    const entities = {
      'bad.1': { key: 'bad.1', chunks: 2, d0: new Uint8Array([1]) },
      'bad.2': { key: 'bad.2', chunks: 1, d0: 'not binary' },
      'bad.3': { key: 'bad.3', chunks: { value: '1', type: 'Int64' }, d0: new Uint8Array([1]) },
      'bad.4': { key: 'bad.4', d0: new Uint8Array([1]) },
    };
    for (const [key, entity] of Object.entries(entities)) {
      const created = await raw.createEntity({
        // These keys encode as themselves.
        partitionKey: key,
        rowKey: 'cache',
        ...entity,
      });
      const error = await rejection(store.read(key));
      expect(error).toBeInstanceOf(StoreCorruptError);
      expect(error).toMatchObject({ code: 'store_corrupt', etag: created.etag });
      expect((error as Error).message).not.toContain('not binary');
      const etag = await store.write(key, bytes('replaced'), { ifMatch: created.etag });
      expect(await store.read(key)).toEqual({ data: bytes('replaced'), etag });
    }
    await store.close?.();
  });
});

describe.skipIf(!redisAvailable())(`redis store: malformed documents${redisSkipNote()}`, () => {
  it('reads a document hash without data as StoreCorruptError with its ETag, which a write can replace', async () => {
    const { redis } = await getEmulators();
    const keyPrefix = `hardening-${randomUUID()}:`;
    const store = createRedisStore({ url: redis.url, keyPrefix });
    try {
      await withRawRedis(redis.url, (admin) =>
        admin.sendCommand(['HSET', `{${keyPrefix}}d:bad.1`, 'etag', 'etag-1', 'key', 'bad.1']),
      );
      for (const read of [() => store.read('bad.1'), () => store.readIfChanged!('bad.1', 'etag-0')]) {
        const error = await rejection(read());
        expect(error).toBeInstanceOf(StoreCorruptError);
        expect(error).toMatchObject({ code: 'store_corrupt', etag: 'etag-1' });
      }
      const etag = await store.write('bad.1', bytes('replaced'), { ifMatch: 'etag-1' });
      expect(await store.read('bad.1')).toEqual({ data: bytes('replaced'), etag });
    } finally {
      await store.close?.();
    }
  });
});

describe.skipIf(!redisAvailable())(`redis store: when a command leaves${redisSkipNote()}`, () => {
  // node-redis writes queued commands in an immediate. Over a store that says so (`sendsInImmediate`), a warm call
  // prepares its answer in an immediate set after its read (lib/while-waiting.ts), so that work overlaps the round
  // trip only if the read was queued before that immediate was set: on an open connection, in the caller's
  // synchronous step.
  it('declares sendsInImmediate', async () => {
    const { redis } = await getEmulators();
    const store = createRedisStore({ url: redis.url });
    expect(store.sendsInImmediate).toBe(true);
    await store.close?.();
  });

  it('on an open connection, an operation is written before an immediate set right after the call runs', async () => {
    const { redis } = await getEmulators();
    const port = Number(new URL(redis.url).port);
    const store = createRedisStore({ url: redis.url, keyPrefix: `sending-${randomUUID()}:` });
    let written = 0;
    const own = Object.getOwnPropertyDescriptor(Socket.prototype, 'write');
    const socketWrite = Reflect.get(Socket.prototype, 'write') as (...args: unknown[]) => boolean;
    try {
      await store.write('send.1', bytes('document'));
      Object.defineProperty(Socket.prototype, 'write', {
        configurable: true,
        writable: true,
        value: function (this: Socket, ...args: unknown[]): boolean {
          if (this.remotePort === port) written++;
          return socketWrite.apply(this, args);
        },
      });
      const operations = {
        read: () => store.read('send.1'),
        readVersion: () => store.readVersion!('send.1'),
        readIfChanged: () => store.readIfChanged!('send.1', 'another-etag'),
      };
      for (const [name, operation] of Object.entries(operations)) {
        const before = written;
        const pending = operation();
        const writtenBeforeImmediate = await new Promise<number>((resolve) =>
          setImmediate(() => resolve(written - before)),
        );
        await pending;
        expect(writtenBeforeImmediate, name).toBeGreaterThanOrEqual(1);
      }
    } finally {
      if (own) Object.defineProperty(Socket.prototype, 'write', own);
      else Reflect.deleteProperty(Socket.prototype, 'write');
      await store.close?.();
    }
  });
});

describe('timeout options', () => {
  const bad = [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, 3e9];

  it('are refused at construction unless positive, finite and at most 2^31-1 ms', () => {
    const stores: Record<string, { make: (option: string, value: number) => CacheStore; options: string[] }> = {
      cosmos: {
        make: (option, value) => createCosmosStore({ endpoint: 'https://x.example/', key: 'a2V5', [option]: value }),
        options: ['operationTimeoutMs', 'requestTimeoutMs'],
      },
      table: {
        make: (option, value) => createTableStore({ accountUrl: 'https://x.example/', [option]: value }),
        options: ['operationTimeoutMs', 'requestTimeoutMs'],
      },
      redis: {
        make: (option, value) => createRedisStore({ url: 'redis://127.0.0.1:6379', [option]: value }),
        options: ['operationTimeoutMs', 'connectTimeoutMs'],
      },
    };
    for (const [name, { make, options }] of Object.entries(stores)) {
      for (const option of options) {
        for (const value of bad) {
          let thrown: unknown;
          try {
            make(option, value);
          } catch (error) {
            thrown = error;
          }
          expect(thrown, `${name} ${option} ${value}`).toBeInstanceOf(StoreError);
          expect(thrown, `${name} ${option} ${value}`).toMatchObject({ code: 'store_misconfigured' });
          expect((thrown as Error).message).toContain(option);
        }
        expect(() => make(option, 2 ** 31 - 1)).not.toThrow();
        expect(() => make(option, 1)).not.toThrow();
      }
    }
  });
});

describe('redis store: url', () => {
  it('refuses a malformed percent-escape in the user name or password as misconfigured, without echoing it', () => {
    for (const url of ['redis://user:pa%ZZss@127.0.0.1:6379', 'redis://us%E0er:secret@127.0.0.1:6379']) {
      let thrown: unknown;
      try {
        createRedisStore({ url });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(StoreError);
      expect(thrown).toMatchObject({ code: 'store_misconfigured' });
      expect((thrown as Error).message).not.toMatch(/pa%ZZss|paZZss|secret/);
    }
  });
});
