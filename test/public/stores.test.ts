/** The stores, keys and sweep through the entry point only, against the real emulators. */
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createClient } from 'redis';
import { describe, expect, it, vi } from 'vitest';
import {
  COSMOS_MAX_ITEM_BYTES,
  DEFAULT_COSMOS_CONTAINER_ID,
  DEFAULT_COSMOS_DATABASE_ID,
  DEFAULT_COSMOS_OPERATION_TIMEOUT_MS,
  DEFAULT_COSMOS_REQUEST_TIMEOUT_MS,
  DEFAULT_LIST_PAGE_SIZE,
  DEFAULT_REDIS_CONNECT_TIMEOUT_MS,
  DEFAULT_REDIS_KEY_PREFIX,
  DEFAULT_REDIS_MAX_DOCUMENT_BYTES,
  DEFAULT_REDIS_MIN_TTL_MS,
  DEFAULT_REDIS_OPERATION_TIMEOUT_MS,
  DEFAULT_SWEEP_BUDGET,
  DEFAULT_TABLE_MAX_RETRIES,
  DEFAULT_TABLE_NAME,
  DEFAULT_TABLE_OPERATION_TIMEOUT_MS,
  DEFAULT_TABLE_REQUEST_TIMEOUT_MS,
  StoreConflictError,
  StoreError,
  StoreTooLargeError,
  TABLE_MAX_ENTITY_BYTES,
  TokenCacheError,
  appPartitionKey,
  createCosmosStore,
  createKeyRing,
  createMemoryStore,
  createRedisStore,
  createTableStore,
  generateKeySetting,
  isForeignSeal,
  openRecord,
  parseKeyRing,
  partitionKeyOfAccount,
  sealRecord,
  sweepExpired,
  userPartitionKey,
  type CacheStore,
  type KeyRing,
} from '../../lib/index.js';
import { redisAvailable, redisSkipNote } from '../support/emulators.js';
import { newKeySetting } from '../support/log-audit.js';
import { stack } from '../support/stack.js';

const bytes = (text: string) => Buffer.from(text);
const key = () => `${randomUUID()}.${randomUUID()}`;

async function roundTrip(store: CacheStore): Promise<void> {
  const k = key();
  const stale = await store.write(k, bytes('one'));
  const etag = await store.write(k, bytes('one again'), { ifMatch: stale });
  expect(Buffer.from((await store.read(k))!.data).toString()).toBe('one again');
  const conflict = await store.write(k, bytes('two'), { ifMatch: stale }).catch((e: unknown) => e);
  expect(conflict).toBeInstanceOf(StoreConflictError);
  expect(conflict).toBeInstanceOf(StoreError);
  expect(conflict).toBeInstanceOf(TokenCacheError);
  expect(conflict).toMatchObject({ code: 'store_conflict' });
  await store.write(k, bytes('two'), { ifMatch: etag });
  expect(await store.delete(k)).toBe(true);
}

/** A server on loopback that accepts connections and never answers; it notes when each connection came. */
async function silentServer(): Promise<{ port: number; connectedAt: number[]; close(): void }> {
  const sockets = new Set<Socket>();
  const connectedAt: number[] = [];
  const server: Server = createServer((socket) => {
    connectedAt.push(Date.now());
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connectedAt,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/**
 * Node's timers count from the event loop's clock, which is read once per loop turn: a timer may fire when Date.now()
 * is a few ms short of its delay. Lower bounds allow this much.
 */
const TIMER_SLACK_MS = 100;

/** When `operation` failed, in ms after `startedAt`, and with which code. */
function failure(startedAt: number, operation: Promise<unknown>): Promise<{ code: unknown; afterMs: number }> {
  return operation.then(
    () => ({ code: 'none', afterMs: Date.now() - startedAt }),
    (error: unknown) => ({ code: (error as { code?: unknown }).code, afterMs: Date.now() - startedAt }),
  );
}

const ACCOUNT = { accountName: 'devstoreaccount1', accountKey: Buffer.from('key').toString('base64') };

describe('stores', () => {
  it('Table, Cosmos and Redis stores give up on a server that never answers no sooner than their DEFAULT_*_TIMEOUT_MS', async () => {
    const [table, cosmos, redis] = await Promise.all([silentServer(), silentServer(), silentServer()]);
    try {
      const startedAt = Date.now();
      const accountUrl = `http://127.0.0.1:${table.port}/devstoreaccount1`;
      const patient = { requestTimeoutMs: 2 * DEFAULT_TABLE_OPERATION_TIMEOUT_MS };
      const [tableRead, patientRead, cosmosRead, redisRead] = await Promise.all([
        failure(startedAt, createTableStore({ accountUrl, ...ACCOUNT }).read('a.b')),
        failure(startedAt, createTableStore({ accountUrl, ...ACCOUNT, ...patient }).read('a.b')),
        failure(
          startedAt,
          createCosmosStore({ endpoint: `https://127.0.0.1:${cosmos.port}/`, key: 'a2V5' }).read('a.b'),
        ),
        failure(startedAt, createRedisStore({ url: `redis://127.0.0.1:${redis.port}` }).read('a.b')),
      ]);
      // Table: the HTTP attempt is given up after DEFAULT_TABLE_REQUEST_TIMEOUT_MS, and the SDK does not retry its own
      // timeout, so a silent server fails the operation then.
      expect(tableRead.code).toBe('store_unavailable');
      expect(tableRead.afterMs).toBeGreaterThanOrEqual(DEFAULT_TABLE_REQUEST_TIMEOUT_MS - TIMER_SLACK_MS);
      // With a longer attempt timeout, the operation's deadline ends it.
      expect(patientRead.code).toBe('store_unavailable');
      expect(patientRead.afterMs).toBeGreaterThanOrEqual(DEFAULT_TABLE_OPERATION_TIMEOUT_MS - TIMER_SLACK_MS);
      // Cosmos DB: the attempt is given up after DEFAULT_COSMOS_REQUEST_TIMEOUT_MS and retried, until the operation's
      // deadline.
      expect(cosmosRead.code).toBe('store_unavailable');
      expect(cosmosRead.afterMs).toBeGreaterThanOrEqual(DEFAULT_COSMOS_OPERATION_TIMEOUT_MS - TIMER_SLACK_MS);
      expect(cosmos.connectedAt.length).toBeGreaterThanOrEqual(2);
      expect(cosmos.connectedAt[1]! - cosmos.connectedAt[0]!).toBeGreaterThanOrEqual(
        DEFAULT_COSMOS_REQUEST_TIMEOUT_MS - TIMER_SLACK_MS,
      );
      // Redis: the handshake never comes; the first of the connection's and the operation's deadlines ends it.
      expect(redisRead.code).toBe('store_unavailable');
      expect(redisRead.afterMs).toBeGreaterThanOrEqual(
        Math.min(DEFAULT_REDIS_CONNECT_TIMEOUT_MS, DEFAULT_REDIS_OPERATION_TIMEOUT_MS) - TIMER_SLACK_MS,
      );
    } finally {
      for (const server of [table, cosmos, redis]) server.close();
    }
  }, 30_000);

  it('a Table store retries a busy answer (503) DEFAULT_TABLE_MAX_RETRIES times, then is store_unavailable', async () => {
    let requests = 0;
    const busy = createHttpServer((request, response) => {
      requests++;
      request.resume();
      response.writeHead(503).end();
    });
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = busy.address() as AddressInfo;
      const store = createTableStore({ accountUrl: `http://127.0.0.1:${port}/devstoreaccount1`, ...ACCOUNT });
      await expect(store.read('a.b')).rejects.toMatchObject({ code: 'store_unavailable' });
      expect(requests).toBe(1 + DEFAULT_TABLE_MAX_RETRIES);
    } finally {
      busy.close();
    }
  });

  it('createTableStore uses DEFAULT_TABLE_NAME and enforces TABLE_MAX_ENTITY_BYTES before sending', async () => {
    // Azurite is plain http on loopback: allowed without allowInsecureConnection.
    const store = createTableStore({ connectionString: stack().table.connectionString, createIfMissing: true });
    await roundTrip(store);
    const { TableClient } = await import('@azure/data-tables');
    const table = TableClient.fromConnectionString(stack().table.connectionString, DEFAULT_TABLE_NAME, {
      allowInsecureConnection: true,
    });
    const k = key();
    await store.write(k, bytes('here'));
    expect((await table.listEntities({ queryOptions: { filter: `key eq '${k}'` } }).next()).value).toBeDefined();
    const tooLarge = await store.write(k, Buffer.alloc(TABLE_MAX_ENTITY_BYTES + 1)).catch((e: unknown) => e);
    expect(tooLarge).toBeInstanceOf(StoreTooLargeError);
    expect(tooLarge).toMatchObject({ code: 'store_too_large', limit: TABLE_MAX_ENTITY_BYTES });
  });

  it('createTableStore refuses a plain-http endpoint that is not loopback unless allowed', async () => {
    const store = createTableStore({
      accountUrl: 'http://tables.example.invalid',
      accountName: 'a',
      accountKey: 'AAAA',
    });
    await expect(store.read('any.key')).rejects.toMatchObject({ code: 'store_misconfigured' });
  });

  it('createCosmosStore uses the default database and container, and enforces COSMOS_MAX_ITEM_BYTES', async () => {
    const { endpoint, key: accountKey } = stack().cosmos;
    const store = createCosmosStore({
      endpoint,
      key: accountKey,
      createIfMissing: true,
      connectionPolicy: { enableEndpointDiscovery: false },
    });
    await roundTrip(store);
    const { CosmosClient } = await import('@azure/cosmos');
    const client = new CosmosClient({
      endpoint,
      key: accountKey,
      connectionPolicy: { enableEndpointDiscovery: false },
    });
    const container = client.database(DEFAULT_COSMOS_DATABASE_ID).container(DEFAULT_COSMOS_CONTAINER_ID);
    const k = key();
    await store.write(k, bytes('here'));
    const { resources } = await container.items
      .query({ query: 'SELECT c.id FROM c WHERE c.key = @k', parameters: [{ name: '@k', value: k }] })
      .fetchAll();
    expect(resources).toHaveLength(1);
    client.dispose();
    const tooLarge = await store.write(k, Buffer.alloc(COSMOS_MAX_ITEM_BYTES)).catch((e: unknown) => e);
    expect(tooLarge).toMatchObject({ code: 'store_too_large', limit: COSMOS_MAX_ITEM_BYTES });
    await store.close?.();
  });

  it.skipIf(!redisAvailable())(
    `createRedisStore keys documents under DEFAULT_REDIS_KEY_PREFIX and enforces its size limit${redisSkipNote()}`,
    async () => {
      const url = stack().redis!.url;
      const store = createRedisStore({ url });
      await roundTrip(store);
      const k = key();
      await store.write(k, bytes('here'));
      const admin = createClient({ url });
      await admin.connect();
      expect(await admin.hGet(`{${DEFAULT_REDIS_KEY_PREFIX}}d:${k}`, 'data')).toBe('here');
      // A document written already expired lives DEFAULT_REDIS_MIN_TTL_MS natively, so its writer can read it back.
      const expired = key();
      await store.write(expired, bytes('late'), { expiresAt: new Date(Date.now() - 1000) });
      const ttl = await admin.pTTL(`{${DEFAULT_REDIS_KEY_PREFIX}}d:${expired}`);
      expect(ttl).toBeLessThanOrEqual(DEFAULT_REDIS_MIN_TTL_MS);
      expect(ttl).toBeGreaterThan(DEFAULT_REDIS_MIN_TTL_MS / 2);
      expect(await store.read(expired)).toBeDefined();
      await admin.close();
      const tooLarge = await store
        .write(k, Buffer.alloc(DEFAULT_REDIS_MAX_DOCUMENT_BYTES + 1))
        .catch((e: unknown) => e);
      expect(tooLarge).toMatchObject({ code: 'store_too_large', limit: DEFAULT_REDIS_MAX_DOCUMENT_BYTES });
      await store.close?.();
    },
  );

  it.skipIf(!redisAvailable())(
    `a Redis store's operations arm no AbortSignal.timeout per command (one would outlive every reply)${redisSkipNote()}`,
    async () => {
      const store = createRedisStore({ url: stack().redis!.url });
      const k = key();
      const etag = await store.write(k, bytes('one')); // connects first: the connection's own deadline is not counted
      const timeout = vi.spyOn(AbortSignal, 'timeout');
      try {
        for (let i = 0; i < 10; i++) {
          await store.read(k);
          await store.readVersion!(k);
          await store.readIfChanged!(k, etag);
        }
        await store.write(k, bytes('two'), { ifMatch: etag });
        await store.list({ prefix: k });
        await store.delete(k);
        expect(timeout).not.toHaveBeenCalled();
      } finally {
        timeout.mockRestore();
        await store.close?.();
      }
    },
  );

  it('createMemoryStore lists DEFAULT_LIST_PAGE_SIZE entries per page', async () => {
    const store = createMemoryStore();
    await roundTrip(store);
    for (let i = 0; i < DEFAULT_LIST_PAGE_SIZE + 1; i++) await store.write(`k${i}.t`, bytes('x'));
    const first = await store.list();
    expect(first.entries).toHaveLength(DEFAULT_LIST_PAGE_SIZE);
    const second = await store.list({ continuationToken: first.continuationToken! });
    expect(second.entries).toHaveLength(1);
  });

  it('sweepExpired removes expired documents within DEFAULT_SWEEP_BUDGET by default', async () => {
    const store = createMemoryStore();
    const past = new Date(Date.now() - 1000);
    for (let i = 0; i < DEFAULT_SWEEP_BUDGET + 5; i++) await store.write(`old${i}.t`, bytes('x'), { expiresAt: past });
    await store.write('fresh.t', bytes('y'), { expiresAt: new Date(Date.now() + 60_000) });
    const first = await sweepExpired(store);
    expect(first).toMatchObject({ removed: DEFAULT_SWEEP_BUDGET, budgetReached: true });
    expect(await sweepExpired(store, { budget: 100 })).toMatchObject({ removed: 5, budgetReached: false });
    expect(await store.read('fresh.t')).toBeDefined();
  });

  it('sweepExpired takes an abort signal: already aborted it removes nothing, aborted mid-way it stops; code aborted', async () => {
    const inner = createMemoryStore();
    const past = new Date(Date.now() - 1000);
    for (let i = 0; i < 10; i++) await inner.write(`old${i}.t`, bytes('x'), { expiresAt: past });
    await expect(sweepExpired(inner, { abortSignal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'TokenCacheError',
      code: 'aborted',
    });
    expect((await inner.list()).entries).toHaveLength(10);

    // A store of your own that aborts the sweep once it has deleted three documents.
    const controller = new AbortController();
    let deleted = 0;
    const store: CacheStore = {
      ...inner,
      delete: async (k, o) => {
        const gone = await inner.delete(k, o);
        if (++deleted === 3) controller.abort();
        return gone;
      },
    };
    await expect(sweepExpired(store, { pageSize: 2, abortSignal: controller.signal })).rejects.toMatchObject({
      code: 'aborted',
    });
    expect(deleted).toBe(3);
    expect((await inner.list()).entries).toHaveLength(7);
  });
});

describe('partition keys and key rings', () => {
  it('builds partition keys from validated ids only', () => {
    expect(userPartitionKey({ oid: 'AB-1', tid: 'cd-2' })).toBe('ab-1.cd-2');
    expect(appPartitionKey('Client-1', 'tenant-2')).toBe('client-1.tenant-2');
    expect(partitionKeyOfAccount('AB-1.cd-2')).toBe('ab-1.cd-2');
    for (const bad of [() => userPartitionKey({ oid: 'a/b', tid: 't' }), () => partitionKeyOfAccount('a.b.c')]) {
      expect(bad).toThrow(TokenCacheError);
      try {
        bad();
      } catch (error) {
        expect(error).toMatchObject({ code: 'invalid_partition_key' });
      }
    }
  });

  it('parses, creates and generates key rings; a bad one is invalid_key_ring without the key in the message', () => {
    const setting = generateKeySetting('k7');
    const ring = parseKeyRing(`${setting},${generateKeySetting('k6')}`);
    expect(ring.current.id).toBe('k7');
    expect(ring.ids).toEqual(['k7', 'k6']);
    expect(createKeyRing([ring.current]).find('k7')?.key.equals(ring.current.key)).toBe(true);
    const secret = Buffer.alloc(16, 1).toString('base64');
    try {
      parseKeyRing(`short:${secret}`);
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'invalid_key_ring' });
      expect((error as Error).message).not.toContain(secret);
    }
  });
});

describe('sealed records', () => {
  it('open under the ring with their own key only; a foreign key id is key_not_in_ring', () => {
    const ring = parseKeyRing(newKeySetting('r1'));
    const sealed = sealRecord(ring, 'consent.a.b', Buffer.from('{"on":true}'));
    expect(Buffer.from(sealed).toString()).not.toContain('"on"');
    expect(Buffer.from(openRecord(ring, 'consent.a.b', sealed)).toString()).toBe('{"on":true}');
    expect(() => openRecord(ring, 'consent.other.b', sealed)).toThrow(
      expect.objectContaining({ code: 'bad_envelope' }),
    );
    const newer = parseKeyRing(newKeySetting('r2'));
    expect(() => openRecord(newer, 'consent.a.b', sealed)).toThrow(
      expect.objectContaining({ code: 'key_not_in_ring' }),
    );
    const failure = (ring: KeyRing, key: string, data: Uint8Array) => {
      try {
        openRecord(ring, key, data);
      } catch (error) {
        return error;
      }
      throw new Error('opened');
    };
    // Sealed under a key id this ring lacks, or in a newer format: foreign; tampered or moved: not.
    expect(isForeignSeal(failure(newer, 'consent.a.b', sealed))).toBe(true);
    const newerFormat = Buffer.from(sealed);
    newerFormat[3] = 0xff; // the format version, after the 3-byte magic
    expect(isForeignSeal(failure(ring, 'consent.a.b', newerFormat))).toBe(true);
    expect(isForeignSeal(failure(ring, 'consent.other.b', sealed))).toBe(false);
    expect(isForeignSeal(new Error('key_not_in_ring'))).toBe(false);
  });
});
