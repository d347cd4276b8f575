/**
 * One conformance suite run against every store: memory, Cosmos DB (in-process `@vercel/cosmosdb-server`), Azure
 * Table storage (in-process Azurite) and Redis (a real redis-server). Each store gets its own fresh container /
 * table / key prefix.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createSecureContext, createServer as createTlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TableClient, AzureNamedKeyCredential } from '@azure/data-tables';
import { createClient } from 'redis';
import {
  COSMOS_MAX_ITEM_BYTES,
  DEFAULT_REDIS_MAX_DOCUMENT_BYTES,
  StoreConflictError,
  StoreError,
  StoreTooLargeError,
  TABLE_MAX_ENTITY_BYTES,
  createCosmosStore,
  createMemoryStore,
  createRedisStore,
  createTableStore,
  type CacheStore,
  type ListEntry,
  type ListOptions,
} from '../lib/index.js';
// Unit tests of store internals: the key encoding and the Azure host detection.
import {
  COSMOS_ID_MAX_LENGTH,
  TABLE_KEY_MAX_LENGTH,
  decodeKey,
  encodeKey,
  encodedPrefixRange,
  escapeKey,
} from '../lib/stores/keys.js';
import { isAzureRedisHost } from '../lib/stores/redis.js';
import { fakeCredential, fakeJwt } from './support/credentials.js';
import { createTlsMaterial } from '../dev/authority/tls.js';
import { startAzuriteTable, startRedisServer } from '../dev/emulators.js';
import { startTcpProxy } from '../dev/proxy/tcp.js';
import { parseSettings } from '../app/settings.js';
import { createStores } from '../app/stores.js';
import { closedPort, getEmulators, redisAvailable, redisSkipNote, releaseEmulators } from './support/emulators.js';
import { EMULATOR_POLICY, withRawCosmos } from './support/raw-sdk.js';

interface StoreUnderTest {
  readonly name: string;
  /** Skip the suite (Redis when this run has no redis-server; outside CI only). */
  readonly skip?: boolean;
  /** A store over a fresh, empty container / table. */
  create(): Promise<CacheStore>;
  /** The store's size limit, as named in its StoreTooLargeError. */
  readonly limit: number;
  /** A document size (bytes) over the limit. */
  readonly tooLargeBytes: number;
  /** A store whose endpoint is a closed port; omitted when the store cannot be unreachable. */
  readonly unreachable?: () => Promise<CacheStore>;
}

const UNREACHABLE_DEADLINE_MS = 5_000;

function describeStore(subject: StoreUnderTest): void {
  const note = subject.skip ? redisSkipNote() : '';
  describe.skipIf(subject.skip ?? false)(`store conformance: ${subject.name}${note}`, () => {
    let store: CacheStore;
    /** A partition key unique to this test run, so tests do not see each other's documents. */
    const unique = (label: string): string => `${label}.${randomUUID()}`;

    beforeAll(async () => {
      store = await subject.create();
    });
    afterAll(async () => {
      await store?.close?.();
    });

    it('reads a missing partition as undefined', async () => {
      expect(await store.read(unique('missing'))).toBeUndefined();
    });

    it('round-trips random bytes exactly, including 0x00 and 0xFF', async () => {
      const key = unique('bytes');
      const data = new Uint8Array(randomBytes(10_000));
      data[0] = 0x00;
      data[1] = 0xff;
      data[data.length - 1] = 0x00;
      const etag = await store.write(key, data);
      expect(etag).toBeTypeOf('string');
      const read = await store.read(key);
      expect(read?.etag).toBe(etag);
      expect(Buffer.from(read?.data ?? [])).toEqual(Buffer.from(data));
    });

    it('round-trips an empty document', async () => {
      const key = unique('empty');
      await store.write(key, new Uint8Array(0));
      expect((await store.read(key))?.data.byteLength).toBe(0);
    });

    it('keeps its own copy: callers mutating their buffers change nothing stored', async () => {
      const key = unique('copy');
      const data = new Uint8Array([1, 2, 3]);
      await store.write(key, data);
      data[0] = 9;
      const first = await store.read(key);
      expect([...(first?.data ?? [])]).toEqual([1, 2, 3]);
      first?.data.fill(7);
      expect([...((await store.read(key))?.data ?? [])]).toEqual([1, 2, 3]);
    });

    it('writes a view of a larger buffer as just the view', async () => {
      const key = unique('view');
      const backing = new Uint8Array([9, 9, 1, 2, 3, 9, 9]);
      await store.write(key, backing.subarray(2, 5));
      expect([...((await store.read(key))?.data ?? [])]).toEqual([1, 2, 3]);
    });

    it('replaces with the current ETag and rejects a stale one', async () => {
      const key = unique('etag');
      const first = await store.write(key, bytes('one'));
      const second = await store.write(key, bytes('two'), { ifMatch: first });
      expect(second).not.toBe(first);
      await expect(store.write(key, bytes('three'), { ifMatch: first })).rejects.toBeInstanceOf(StoreConflictError);
      const read = await store.read(key);
      expect(text(read?.data)).toBe('two');
      expect(read?.etag).toBe(second);
    });

    it('revalidates cheaply (the warm tier): the current ETag alone, or a conditional read', async () => {
      const key = unique('revalidate');
      expect(store.readVersion !== undefined || store.readIfChanged !== undefined).toBe(true);
      const first = await store.write(key, bytes('one'));
      if (store.readVersion) {
        expect(await store.readVersion(key)).toBe(first);
        expect(await store.readVersion(unique('missing'))).toBeUndefined();
      }
      if (store.readIfChanged) {
        expect(await store.readIfChanged(key, first)).toBe('unchanged');
        expect(await store.readIfChanged(unique('missing'), first)).toBeUndefined();
      }
      const second = await store.write(key, bytes('two'), { ifMatch: first });
      if (store.readVersion) expect(await store.readVersion(key)).toBe(second);
      if (store.readIfChanged) {
        const changed = await store.readIfChanged(key, first);
        expect(changed !== 'unchanged' && changed?.etag).toBe(second);
        expect(changed !== 'unchanged' && text(changed?.data)).toBe('two');
      }
    });

    it('fails a create-only write on an existing document', async () => {
      const key = unique('create');
      await store.write(key, bytes('mine'));
      const error = await store.write(key, bytes('theirs')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreConflictError);
      expect((error as StoreError).code).toBe('store_conflict');
      expect(text((await store.read(key))?.data)).toBe('mine');
    });

    it('fails an ifMatch write on a deleted document', async () => {
      const key = unique('deleted');
      const etag = await store.write(key, bytes('gone soon'));
      expect(await store.delete(key)).toBe(true);
      await expect(store.write(key, bytes('again'), { ifMatch: etag })).rejects.toBeInstanceOf(StoreConflictError);
      expect(await store.read(key)).toBeUndefined();
    });

    it('deletes: true when there was a document, then false', async () => {
      const key = unique('delete');
      await store.write(key, bytes('x'));
      expect(await store.delete(key)).toBe(true);
      expect(await store.delete(key)).toBe(false);
      expect(await store.read(key)).toBeUndefined();
    });

    it('deletes conditionally on the ETag', async () => {
      const key = unique('delete-if');
      const first = await store.write(key, bytes('1'));
      const second = await store.write(key, bytes('2'), { ifMatch: first });
      await expect(store.delete(key, { ifMatch: first })).rejects.toBeInstanceOf(StoreConflictError);
      expect(await store.delete(key, { ifMatch: second })).toBe(true);
    });

    it('keeps awkward keys apart and round-trips each', async () => {
      const base = unique('awkward');
      /** `base` padded with `char` to about `length` UTF-16 code units. */
      const long = (char: string, length: number) =>
        base + char.repeat(Math.floor((length - base.length) / char.length));
      const suffixes = [
        '/slash',
        '\\backslash',
        '#hash',
        '?question',
        '%percent%2F',
        '~tilde~7E',
        '~h~not-a-hash',
        'control\u0001\u001f\u007f',
        'tab\tnewline\n',
        'space and "quotes" \'',
        'unicode-é-ß-中文',
        'emoji-😀-🎉',
        'Case',
        'case',
        'CASE',
      ];
      const keys = [
        ...suffixes.map((suffix) => `${base}.${suffix}`),
        long('a', 300),
        long('/', 300),
        long('😀', 1000),
        long('a', 1000),
        long('a', 999) + 'b',
      ];
      expect(new Set(keys).size).toBe(keys.length);
      const etags = new Map<string, string>();
      for (const key of keys) etags.set(key, await store.write(key, bytes(`value of ${key}`)));
      for (const key of keys) {
        const read = await store.read(key);
        expect(text(read?.data), key).toBe(`value of ${key}`);
        expect(read?.etag).toBe(etags.get(key));
      }
      const listed = await listAll(store, { prefix: base, pageSize: 7 });
      expect(listed.map((entry) => entry.partitionKey).sort()).toEqual([...keys].sort());
      for (const key of keys) expect(await store.delete(key), key).toBe(true);
    });

    it('rejects invalid partition keys', async () => {
      await expect(store.read('')).rejects.toMatchObject({ code: 'invalid_partition_key' });
      await expect(store.write('lone\uD800surrogate', bytes('x'))).rejects.toMatchObject({
        code: 'invalid_partition_key',
      });
      await expect(store.delete('x'.repeat(1025))).rejects.toMatchObject({ code: 'invalid_partition_key' });
    });

    it('round-trips a 200 KiB document and a shrinking rewrite exactly', async () => {
      const key = unique('large');
      const large = new Uint8Array(randomBytes(200 * 1024));
      const etag = await store.write(key, large);
      expect(Buffer.from((await store.read(key))?.data ?? [])).toEqual(Buffer.from(large));
      const small = new Uint8Array(randomBytes(70_000));
      await store.write(key, small, { ifMatch: etag });
      expect(Buffer.from((await store.read(key))?.data ?? [])).toEqual(Buffer.from(small));
    });

    it('rejects a document over the limit with StoreTooLargeError naming size and limit', async () => {
      const key = unique('too-large');
      const error = await store.write(key, new Uint8Array(subject.tooLargeBytes)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreTooLargeError);
      const tooLarge = error as StoreTooLargeError;
      expect(tooLarge.code).toBe('store_too_large');
      expect(tooLarge.limit).toBe(subject.limit);
      expect(tooLarge.size).toBeGreaterThan(subject.limit);
      expect(tooLarge.message).toContain(String(tooLarge.size));
      expect(tooLarge.message).toContain(String(subject.limit));
      expect(await store.read(key)).toBeUndefined();
    });

    it('lists by prefix in pages', async () => {
      const run = randomUUID();
      const matching = [1, 2, 3, 4, 5].map((i) => `bg.${run}.user${i}`);
      const others = [`bg.${run}`, `bf.${run}.user1`, `bg/${run}.user1`, `xbg.${run}.user1`];
      const etags = new Map<string, string>();
      for (const key of [...matching, ...others]) etags.set(key, await store.write(key, bytes(key)));

      const pages: ListEntry[][] = [];
      let continuationToken: string | undefined;
      do {
        const page = await store.list({
          prefix: `bg.${run}.`,
          pageSize: 2,
          ...(continuationToken ? { continuationToken } : {}),
        });
        expect(page.entries.length).toBeLessThanOrEqual(2);
        pages.push(page.entries);
        continuationToken = page.continuationToken;
      } while (continuationToken);
      const entries = pages.flat();
      expect(pages.length).toBeGreaterThanOrEqual(3);
      expect(entries.map((entry) => entry.partitionKey).sort()).toEqual(matching);
      for (const entry of entries) {
        expect(entry.etag).toBe(etags.get(entry.partitionKey));
        expect(entry.updatedAt).toBeInstanceOf(Date);
      }
    });

    it('lists documents that expired before a given time', async () => {
      const run = `exp.${randomUUID()}`;
      const now = Date.now();
      const expiries = { past1: now - 60_000, past2: now - 1_000, future: now + 3_600_000 };
      for (const [name, at] of Object.entries(expiries)) {
        await store.write(`${run}.${name}`, bytes(name), { expiresAt: new Date(at) });
      }
      await store.write(`${run}.never`, bytes('never'));

      const expired = await listAll(store, { prefix: run, expiredBefore: new Date(now), pageSize: 2 });
      expect(expired.map((entry) => entry.partitionKey).sort()).toEqual([`${run}.past1`, `${run}.past2`]);
      expect(expired.find((entry) => entry.partitionKey.endsWith('past1'))?.expiresAt?.getTime()).toBe(expiries.past1);

      // Without a prefix too (the sweeper's query); other tests' documents may appear, ours must.
      const all = await listAll(store, { expiredBefore: new Date(now) });
      const ours = all.map((entry) => entry.partitionKey).filter((key) => key.startsWith(run));
      expect(ours.sort()).toEqual([`${run}.past1`, `${run}.past2`]);
      for (const entry of all) expect(entry.expiresAt?.getTime()).toBeLessThan(now);
    });

    const { unreachable } = subject;
    it.skipIf(!unreachable)('reports an unreachable store as StoreError unavailable within a few seconds', async () => {
      const dead = await unreachable!();
      const started = Date.now();
      for (const operation of [
        () => dead.read('some.key'),
        () => dead.write('some.key', bytes('x')),
        () => dead.list({ prefix: 'bg.' }),
      ]) {
        const error = await operation().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StoreError);
        expect((error as StoreError).code).toBe('store_unavailable');
        expect((error as StoreError).cause).toBeDefined();
      }
      expect(Date.now() - started).toBeLessThan(3 * UNREACHABLE_DEADLINE_MS);
      await dead.close?.();
    });
  });
}

// ---- the stores -------------------------------------------------------------------------------------------------

describeStore({
  name: 'memory',
  create: () => Promise.resolve(createMemoryStore({ maxDocumentBytes: 1024 * 1024 })),
  limit: 1024 * 1024,
  tooLargeBytes: 1024 * 1024 + 1,
});

describeStore({
  name: 'cosmos',
  async create() {
    const { cosmos } = await getEmulators();
    return createCosmosStore({
      endpoint: cosmos.endpoint,
      key: cosmos.key,
      databaseId: 'conformance',
      containerId: `c-${randomUUID()}`,
      createIfMissing: true,
      connectionPolicy: EMULATOR_POLICY,
    });
  },
  limit: COSMOS_MAX_ITEM_BYTES,
  // base64 makes 1.6 MB of bytes about 2.13 MB of JSON.
  tooLargeBytes: 1_600_000,
  async unreachable() {
    return createCosmosStore({
      endpoint: `http://127.0.0.1:${await closedPort()}`,
      key: 'a2V5',
      createIfMissing: false,
      connectionPolicy: EMULATOR_POLICY,
      operationTimeoutMs: UNREACHABLE_DEADLINE_MS,
    });
  },
});

describeStore({
  name: 'table',
  async create() {
    const { table } = await getEmulators();
    return createTableStore({
      connectionString: table.connectionString,
      tableName: freshTableName(),
      createIfMissing: true,
      allowInsecureConnection: true,
    });
  },
  limit: TABLE_MAX_ENTITY_BYTES,
  tooLargeBytes: TABLE_MAX_ENTITY_BYTES + 1,
  async unreachable() {
    const { table } = await getEmulators();
    return createTableStore({
      accountUrl: `http://127.0.0.1:${await closedPort()}/${table.accountName}`,
      accountName: table.accountName,
      accountKey: table.accountKey,
      allowInsecureConnection: true,
      operationTimeoutMs: UNREACHABLE_DEADLINE_MS,
    });
  },
});

describeStore({
  name: 'redis',
  skip: !redisAvailable(),
  async create() {
    const { redis } = await getEmulators();
    return createRedisStore({ url: redis.url, keyPrefix: `conformance-${randomUUID()}:` });
  },
  limit: DEFAULT_REDIS_MAX_DOCUMENT_BYTES,
  tooLargeBytes: DEFAULT_REDIS_MAX_DOCUMENT_BYTES + 1,
  async unreachable() {
    return createRedisStore({
      url: `redis://127.0.0.1:${await closedPort()}`,
      operationTimeoutMs: UNREACHABLE_DEADLINE_MS,
    });
  },
});

afterAll(async () => {
  await releaseEmulators();
});

// ---- store-specific behaviour -----------------------------------------------------------------------------------

describe('table store specifics', () => {
  it('splits bytes over 64 KiB chunks and a shrinking Replace leaves no stale chunk', async () => {
    const { table } = await getEmulators();
    const tableName = freshTableName();
    const store = createTableStore({
      accountUrl: table.url,
      accountName: table.accountName,
      accountKey: table.accountKey,
      tableName,
      createIfMissing: true,
      allowInsecureConnection: true,
    });
    const raw = new TableClient(
      table.url,
      tableName,
      new AzureNamedKeyCredential(table.accountName, table.accountKey),
      {
        allowInsecureConnection: true,
      },
    );
    const key = 'chunky.key';
    const etag = await store.write(key, new Uint8Array(randomBytes(200 * 1024)), {
      expiresAt: new Date(Date.now() + 60_000),
    });
    const before = await raw.getEntity<Record<string, unknown>>(encodeKey(key, TABLE_KEY_MAX_LENGTH), 'cache');
    expect(before.chunks).toBe(4);
    expect(
      Object.keys(before)
        .filter((name) => /^d\d+$/.test(name))
        .sort(),
    ).toEqual(['d0', 'd1', 'd2', 'd3']);
    expect(before.key).toBe(key);
    expect(before.expiresAt).toBeInstanceOf(Date);

    const small = new Uint8Array(randomBytes(1000));
    await store.write(key, small, { ifMatch: etag });
    const after = await raw.getEntity<Record<string, unknown>>(encodeKey(key, TABLE_KEY_MAX_LENGTH), 'cache');
    expect(after.chunks).toBe(1);
    expect(Object.keys(after).filter((name) => /^d\d+$/.test(name))).toEqual(['d0']);
    expect(after.expiresAt).toBeUndefined();
    expect(Buffer.from((await store.read(key))?.data ?? [])).toEqual(Buffer.from(small));
  });

  it('reports a missing table as misconfigured', async () => {
    const { table } = await getEmulators();
    const store = createTableStore({
      connectionString: table.connectionString,
      tableName: freshTableName(),
      allowInsecureConnection: true,
    });
    await expect(store.read('any.key')).rejects.toMatchObject({ code: 'store_misconfigured' });
  });

  it('validates its options', () => {
    expect(() => createTableStore({ accountUrl: 'https://x', tableName: 'no-dashes' })).toThrow(/tableName/);
    expect(() => createTableStore({ accountUrl: 'https://x', tableName: 'ab' })).toThrow(/tableName/);
    expect(() => createTableStore({})).toThrow(/connectionString or accountUrl/);
    expect(() => createTableStore({ accountUrl: 'https://x', accountName: 'a' })).toThrow(/accountKey/);
  });
});

describe('cosmos store specifics', () => {
  it('stores the original key, an encoded id, base64 data and a ttl', async () => {
    const { cosmos } = await getEmulators();
    const containerId = `c-${randomUUID()}`;
    const store = createCosmosStore({
      connectionString: `AccountEndpoint=${cosmos.endpoint}/;AccountKey=${cosmos.key};`,
      databaseId: 'conformance',
      containerId,
      createIfMissing: true,
      connectionPolicy: EMULATOR_POLICY,
    });
    const key = 'user/with#odd?chars';
    const expiresAt = Date.now() + 90_000;
    // The store turns expiresAt into seconds from its own now, somewhere between these two instants.
    const before = Date.now();
    await store.write(key, bytes('hello'), { expiresAt: new Date(expiresAt) });
    const after = Date.now();
    const id = encodeKey(key, COSMOS_ID_MAX_LENGTH);
    const { resource } = await withRawCosmos(cosmos, 'conformance', containerId, (container) =>
      container.item(id, id).read<Record<string, unknown>>(),
    );
    expect(resource).toMatchObject({
      id: 'user~2Fwith~23odd~3Fchars',
      key,
      data: Buffer.from('hello').toString('base64'),
    });
    expect(resource?.ttl).toBeGreaterThanOrEqual(Math.ceil((expiresAt - after) / 1000));
    expect(resource?.ttl).toBeLessThanOrEqual(Math.ceil((expiresAt - before) / 1000));
    await store.close?.();
  });

  it('caps a DNS failure with endpoint discovery on (the production default) at operationTimeoutMs', async () => {
    // The SDK retries a failed account lookup 120 times, 1 s apart, ignoring the abort signal.
    const store = createCosmosStore({
      endpoint: 'https://no-such-account.invalid:443/',
      key: 'a2V5',
      operationTimeoutMs: 2_000,
    });
    const started = Date.now();
    await expect(store.read('some.key')).rejects.toMatchObject({ code: 'store_unavailable' });
    // Uncapped it takes about 120 s; a 2 s deadline on a loaded machine must not fail by a few hundred ms.
    expect(Date.now() - started).toBeLessThan(20_000);
    await store.close?.();
  });

  it('reports a missing container as misconfigured', async () => {
    const { cosmos } = await getEmulators();
    const store = createCosmosStore({
      endpoint: cosmos.endpoint,
      key: cosmos.key,
      databaseId: 'missing',
      containerId: 'missing',
      connectionPolicy: EMULATOR_POLICY,
    });
    await expect(store.write('any.key', bytes('x'))).rejects.toMatchObject({ code: 'store_misconfigured' });
    await expect(store.list()).rejects.toMatchObject({ code: 'store_misconfigured' });
    await store.close?.();
  });

  it('validates its options', () => {
    expect(() => createCosmosStore({})).toThrow(/endpoint or connectionString/);
    expect(() => createCosmosStore({ connectionString: 'AccountEndpoint=https://x/;' })).toThrow(/AccountKey/);
    expect(() => createCosmosStore({ connectionString: 'AccountEndpoint=https://x/;AccountKey=k;', key: 'k' })).toThrow(
      /not both/,
    );
  });
});

describe.skipIf(!redisAvailable())(`redis store specifics${redisSkipNote()}`, () => {
  let admin: Admin;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  beforeAll(async () => {
    admin = await connectAdmin((await getEmulators()).redis.url);
  });
  afterAll(() => {
    admin?.destroy();
  });

  async function newRedisStore(options: { minTtlMs?: number } = {}) {
    const { redis } = await getEmulators();
    const keyPrefix = `specifics-${randomUUID()}:`;
    return { store: createRedisStore({ url: redis.url, keyPrefix, ...options }), tag: `{${keyPrefix}}` };
  }

  it('keeps a hash per document, a key index and an expiry index, with native expiry', async () => {
    const { store, tag } = await newRedisStore();
    const key = 'user/with odd#chars?';
    const expiresAt = Date.now() + 90_000;
    const etag = await store.write(key, bytes('hello'), { expiresAt: new Date(expiresAt) });
    const hash = (await command(admin, 'HGETALL', `${tag}d:${key}`)) as Record<string, string>;
    expect(hash).toMatchObject({ data: 'hello', etag, key, expiresAt: String(expiresAt) });
    expect(Number(hash.updatedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(await command(admin, 'PEXPIRETIME', `${tag}d:${key}`)).toBe(expiresAt);
    expect(await command(admin, 'ZSCORE', `${tag}keys`, key)).toBe(0);
    expect(await command(admin, 'ZSCORE', `${tag}expiry`, key)).toBe(expiresAt);

    await store.write(key, bytes('no expiry now'), { ifMatch: etag });
    expect(await command(admin, 'PTTL', `${tag}d:${key}`)).toBe(-1);
    expect(await command(admin, 'HEXISTS', `${tag}d:${key}`, 'expiresAt')).toBe(0);
    expect(await command(admin, 'ZSCORE', `${tag}expiry`, key)).toBeNull();

    expect(await store.delete(key)).toBe(true);
    expect(await command(admin, 'EXISTS', `${tag}d:${key}`)).toBe(0);
    expect(await command(admin, 'ZCARD', `${tag}keys`)).toBe(0);
    await store.close?.();
  });

  it('floors native expiry at minTtlMs and drops the index entries of documents Redis expired', async () => {
    // A floor far longer than the few round trips that must happen before it (200 ms failed under load).
    const { store, tag } = await newRedisStore({ minTtlMs: 5_000 });
    const now = Date.now();
    await store.write('gone.1', bytes('1'), { expiresAt: new Date(now - 60_000) });
    await store.write('gone.2', bytes('2'), { expiresAt: new Date(now - 60_000) });
    const pttl = (await command(admin, 'PTTL', `${tag}d:gone.1`)) as number;
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5_000);
    // Readable and listed as expired until Redis removes it.
    expect(text((await store.read('gone.1'))?.data)).toBe('1');
    expect((await listAll(store, { expiredBefore: new Date() })).map((e) => e.partitionKey).sort()).toEqual([
      'gone.1',
      'gone.2',
    ]);

    // Until Redis removed both (about 5 s; no upper bound).
    while ((await command(admin, 'EXISTS', `${tag}d:gone.1`, `${tag}d:gone.2`)) !== 0) await sleep(100);
    expect(await store.read('gone.1')).toBeUndefined();
    expect(await command(admin, 'ZCARD', `${tag}keys`)).toBe(2); // stale until someone steps over them
    // A listing skips and drops what it steps over...
    expect((await store.list({ prefix: 'gone.1' })).entries).toEqual([]);
    expect(await command(admin, 'ZSCORE', `${tag}keys`, 'gone.1')).toBeNull();
    // ... and every write drops a few from the head of the expiry index.
    await store.write('other', bytes('x'));
    expect(await command(admin, 'ZRANGE', `${tag}keys`, '0', '-1')).toEqual(['other']);
    expect(await command(admin, 'ZCARD', `${tag}expiry`)).toBe(0);
    await store.close?.();
  });

  it('pages documents with equal expiry times exactly once, also while the listed ones are deleted', async () => {
    const { store } = await newRedisStore();
    const expiresAt = new Date(Date.now() - 1_000);
    const keys = Array.from({ length: 7 }, (_, i) => `same.${i}`);
    for (const key of keys) await store.write(key, bytes(key), { expiresAt });
    await store.write('later', bytes('later'), { expiresAt: new Date(Date.now() + 60_000) });

    expect((await listAll(store, { expiredBefore: new Date(), pageSize: 2 })).map((e) => e.partitionKey)).toEqual(keys);
    const seen: string[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await store.list({
        expiredBefore: new Date(),
        pageSize: 3,
        ...(continuationToken ? { continuationToken } : {}),
      });
      for (const entry of page.entries) {
        seen.push(entry.partitionKey);
        expect(await store.delete(entry.partitionKey, { ifMatch: entry.etag })).toBe(true);
      }
      continuationToken = page.continuationToken;
    } while (continuationToken);
    expect(seen).toEqual(keys);
    await expect(store.list({ continuationToken: 'not-a-token' })).rejects.toThrow(/continuationToken/);
    await store.close?.();
  });

  it('reads conditionally: unchanged without the data, or the changed document', async () => {
    const { store } = await newRedisStore();
    const etag = await store.write('p.t', bytes('one'));
    expect(await store.readIfChanged!('p.t', etag)).toBe('unchanged');
    const next = await store.write('p.t', bytes('two'), { ifMatch: etag });
    const changed = await store.readIfChanged!('p.t', etag);
    expect(changed !== 'unchanged' && changed?.etag).toBe(next);
    expect(changed !== 'unchanged' && text(changed?.data)).toBe('two');
    expect(await store.readIfChanged!('missing.t', etag)).toBeUndefined();
    await store.close?.();
  });

  it('sends a script itself when the server has lost its script cache', async () => {
    const { store } = await newRedisStore();
    const etag = await store.write('scripted', bytes('1'));
    await command(admin, 'SCRIPT', 'FLUSH');
    const next = await store.write('scripted', bytes('2'), { ifMatch: etag });
    await command(admin, 'SCRIPT', 'FLUSH');
    expect((await store.list({ prefix: 'scripted' })).entries.map((e) => e.etag)).toEqual([next]);
    await command(admin, 'SCRIPT', 'FLUSH');
    expect(await store.delete('scripted', { ifMatch: next })).toBe(true);
    await store.close?.();
  });

  it('fails fast while the server does not answer or is down, and recovers without a new store', async () => {
    const server = await startRedisServer();
    // A black hole between store and server: commands are sent and never answered, for as long as the test wants.
    const proxy = await startTcpProxy({ target: { host: '127.0.0.1', port: server.port } });
    let restarted: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    const store = createRedisStore({
      url: `redis://${proxy.address}`,
      operationTimeoutMs: 2_000,
      connectTimeoutMs: 2_000,
    });
    // Far below what waiting for the server would take (forever) or node-redis's reconnection loop (≈ 30 s), far
    // above a 2 s deadline on a loaded machine (a first connection plus script load took 0.6 s at load average 6).
    const FAST_MS = 10_000;
    try {
      await store.write('alive', bytes('1'));
      proxy.blackHole({ existing: true });
      const hung = Date.now();
      await expect(store.read('alive')).rejects.toMatchObject({ code: 'store_unavailable' });
      expect(Date.now() - hung).toBeLessThan(FAST_MS);
      // The store dropped the connection that let its deadline pass: once the path is clear, it connects anew.
      await proxy.pass();
      expect(text((await store.read('alive'))?.data)).toBe('1');

      // A server that is gone: every operation fails at once, nothing waits for a reconnection.
      await server.close();
      const down = Date.now();
      for (const operation of [() => store.read('alive'), () => store.write('x', bytes('x')), () => store.list()]) {
        await expect(operation()).rejects.toMatchObject({ code: 'store_unavailable' });
      }
      expect(Date.now() - down).toBeLessThan(FAST_MS);
      // Back (empty: nothing is persisted) on the same port: the store reconnects by itself.
      restarted = await startRedisServer({ port: server.port });
      let read: unknown;
      for (const started = Date.now(); Date.now() - started < 20_000; await sleep(100)) {
        read = await store.read('alive').catch((error: unknown) => error);
        if (!(read instanceof Error)) break;
        expect(read).toMatchObject({ code: 'store_unavailable' });
      }
      expect(read).toBeUndefined();
    } finally {
      await store.close?.();
      await proxy.close();
      await server.close();
      await restarted?.close();
    }
  }, 60_000);

  it('signs in with Entra ID tokens: the user is the oid claim, a renewed token is sent with AUTH on the open connection', async () => {
    const { redis } = await getEmulators();
    const oids = [randomUUID(), randomUUID()];
    const tokens = oids.map((oid) => fakeJwt({ oid }));
    for (const [i, oid] of oids.entries()) {
      await command(admin, 'ACL', 'SETUSER', oid, 'on', `>${tokens[i]}`, '~*', '&*', '+@all');
    }
    // The first token lives 1.5 s, so it is renewed after 1 s; the second lives an hour.
    const credential = fakeCredential([
      { token: tokens[0]!, lifetimeMs: 1_500 },
      { token: tokens[1]!, lifetimeMs: 3_600_000 },
    ]);
    const store = createRedisStore({ url: redis.url, keyPrefix: `entra-${randomUUID()}:`, credential });
    const connectionsOf = async (oid: string) =>
      String(await command(admin, 'CLIENT', 'LIST'))
        .split('\n')
        .filter((line) => line.includes(` user=${oid} `))
        .map((line) => /\bid=(\d+)/.exec(line)?.[1]);
    try {
      await store.write('entra.key', bytes('signed in'));
      const [id] = await connectionsOf(oids[0]!);
      expect(id).toBeDefined();
      let renewed: (string | undefined)[] = [];
      // Renewed after 1 s; waited for up to 20 s, so that a loaded machine does not fail it.
      for (const started = Date.now(); renewed.length === 0 && Date.now() - started < 20_000; await sleep(100)) {
        renewed = await connectionsOf(oids[1]!);
      }
      expect(renewed).toEqual([id]); // the same connection, now signed in with the second token
      expect(await connectionsOf(oids[0]!)).toEqual([]);
      expect(credential.scopes).toEqual(['https://redis.azure.com/.default', 'https://redis.azure.com/.default']);
      expect(text((await store.read('entra.key'))?.data)).toBe('signed in');
    } finally {
      await store.close?.();
      for (const oid of oids) await command(admin, 'ACL', 'DELUSER', oid);
    }

    const noOid = createRedisStore({
      url: redis.url,
      credential: fakeCredential([{ token: 'not-a-jwt', lifetimeMs: 3_600_000 }]),
    });
    await expect(noOid.read('any')).rejects.toMatchObject({ code: 'store_misconfigured', message: /oid/ });
    await noOid.close?.();
  });

  it('names the host (SNI) over rediss:// and reports an untrusted certificate as misconfigured', async () => {
    const { key, cert } = await createTlsMaterial();
    const names: string[] = [];
    const server = createTlsServer({
      key,
      cert,
      SNICallback: (name, done) => {
        names.push(name);
        done(null, createSecureContext({ key, cert }));
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const store = createRedisStore({ url: `rediss://localhost:${port}`, password: 'k' });
    try {
      await expect(store.read('any')).rejects.toMatchObject({ code: 'store_misconfigured', message: /TLS/ });
      expect(names).toEqual(['localhost']);
    } finally {
      await store.close?.();
      server.close();
    }
  });

  it('reports refused credentials as misconfigured', async () => {
    const { redis } = await getEmulators();
    const store = createRedisStore({ url: redis.url, username: 'nobody', password: 'wrong' });
    await expect(store.read('any')).rejects.toMatchObject({ code: 'store_misconfigured' });
    await store.close?.();
  });

  it('is configured by the REDIS_* settings (CACHE_STORE=redis)', async () => {
    const { redis } = await getEmulators();
    const base = { AUTH_TENANT_ID: randomUUID(), AUTH_CLIENT_ID: 'c', AUTH_CLIENT_SECRET: 's', CACHE_KEYS: 'k1:AAAA' };
    const keyPrefix = `settings-${randomUUID()}:`;
    const recordsKeyPrefix = `records-${randomUUID()}:`;
    const config = parseSettings({
      ...base,
      CACHE_STORE: 'redis',
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: keyPrefix,
      REDIS_RECORDS_KEY_PREFIX: recordsKeyPrefix,
    });
    expect(config.cache.redis).toEqual({ url: redis.url, keyPrefix, recordsKeyPrefix });
    const { tokens, records } = createStores(config.cache);
    expect(tokens.kind).toBe('redis');
    await tokens.write('configured', bytes('yes'));
    await records.write('configured', bytes('record'));
    expect(await command(admin, 'HGET', `{${keyPrefix}}d:configured`, 'data')).toBe('yes');
    expect(await command(admin, 'HGET', `{${recordsKeyPrefix}}d:configured`, 'data')).toBe('record');
    await Promise.all([tokens.close?.(), records.close?.()]);

    const defaults = parseSettings({ ...base, CACHE_STORE: 'redis', REDIS_URL: redis.url }).cache.redis;
    expect(defaults).toMatchObject({ keyPrefix: 'msalcache:', recordsKeyPrefix: 'msalrecords:' });
    expect(() =>
      createStores(
        parseSettings({ ...base, CACHE_STORE: 'redis', REDIS_URL: redis.url, REDIS_RECORDS_KEY_PREFIX: 'msalcache:' })
          .cache,
      ),
    ).toThrow(/REDIS_KEY_PREFIX and REDIS_RECORDS_KEY_PREFIX must differ/);
    expect(() => parseSettings({ ...base, CACHE_STORE: 'redis' })).toThrow(/REDIS_URL/);
    expect(() => parseSettings({ ...base, CACHE_STORE: 'redis', REDIS_URL: 'https://x:6380' })).toThrow(/REDIS_URL/);
    expect(() => parseSettings({ ...base, CACHE_STORE: 'redis', REDIS_URL: 'pass@word' })).toThrow(/REDIS_URL/);
    expect(() =>
      parseSettings({ ...base, CACHE_STORE: 'redis', REDIS_URL: redis.url, REDIS_KEY_PREFIX: '{x}' }),
    ).toThrow(/REDIS_KEY_PREFIX/);
  });

  it('validates its options', () => {
    expect(() => createRedisStore({ url: 'http://localhost:6379' })).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => createRedisStore({ url: 'not a url' })).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => createRedisStore({ url: 'redis://localhost', keyPrefix: 'a{b}' })).toThrow(/keyPrefix/);
    expect(() => createRedisStore({ url: 'redis://localhost', keyPrefix: '' })).toThrow(/keyPrefix/);
    expect(() => createRedisStore({ url: 'redis://localhost', maxDocumentBytes: 0 })).toThrow(/maxDocumentBytes/);
    // Entra ID (no password, Azure host) needs TLS; a password does not.
    expect(() => createRedisStore({ url: 'redis://cache.redis.cache.windows.net:6379' })).toThrow(/rediss/);
    expect(() => createRedisStore({ url: 'redis://cache.redis.cache.windows.net:6379', password: 'k' })).not.toThrow();
    expect(() => createRedisStore({ url: 'rediss://cache.westeurope.redis.azure.net:10000' })).not.toThrow();
    expect(isAzureRedisHost('cache.redis.cache.windows.net')).toBe(true);
    expect(isAzureRedisHost('cache.westeurope.redis.azure.net')).toBe(true);
    expect(isAzureRedisHost('cache.westeurope.redisenterprise.cache.azure.net')).toBe(true);
    expect(isAzureRedisHost('redis.cache.windows.net.example.com')).toBe(false);
    expect(isAzureRedisHost('127.0.0.1')).toBe(false);
  });
});

describe('emulator launchers', () => {
  it('persists Azurite tables in a location across restarts', async () => {
    const location = await mkdtemp(join(tmpdir(), 'azurite-'));
    try {
      const first = await startAzuriteTable({ location });
      const options = {
        connectionString: first.connectionString,
        tableName: 'persisted',
        allowInsecureConnection: true,
      };
      await createTableStore({ ...options, createIfMissing: true }).write('kept.key', bytes('still here'));
      await first.close();
      const second = await startAzuriteTable({ location });
      const store = createTableStore({ ...options, connectionString: second.connectionString });
      expect(text((await store.read('kept.key'))?.data)).toBe('still here');
      await second.close();
    } finally {
      await rm(location, { recursive: true, force: true });
    }
  });
});

// ---- keys.ts ----------------------------------------------------------------------------------------------------

describe('partition key encoding', () => {
  /** What both Cosmos ids and Table keys accept: no `/ \\ # ?`, no control characters. */
  const storeSafe = /^[A-Za-z0-9._~-]+$/;

  it('keeps ordinary keys as they are', () => {
    const key = '3f2a0c1e-1111-4222-8333-944445555666.72f988bf-86f1-41af-91ab-2d7cd011db47';
    expect(encodeKey(key, COSMOS_ID_MAX_LENGTH)).toBe(key);
    expect(encodeKey('bg.A_b-9', TABLE_KEY_MAX_LENGTH)).toBe('bg.A_b-9');
  });

  it('escapes every other UTF-8 byte as ~XX, reversibly', () => {
    expect(escapeKey('a/b')).toBe('a~2Fb');
    expect(escapeKey('~')).toBe('~7E');
    expect(escapeKey('é')).toBe('~C3~A9');
    for (const key of ['a/b\\c#d?e%f', '~7E', 'tab\t', 'emoji 😀', 'Case', 'case']) {
      const encoded = encodeKey(key, COSMOS_ID_MAX_LENGTH);
      expect(encoded).toMatch(storeSafe);
      expect(decodeKey(encoded)).toBe(key);
    }
    expect(encodeKey('Case', 255)).not.toBe(encodeKey('case', 255));
  });

  it('hashes keys over the limit, keeping the head and never colliding with escaped keys', () => {
    for (const max of [COSMOS_ID_MAX_LENGTH, TABLE_KEY_MAX_LENGTH]) {
      const a = encodeKey('bg.' + 'x'.repeat(1000), max);
      const b = encodeKey('bg.' + 'x'.repeat(999) + 'y', max);
      const slashes = encodeKey('bg.' + '/'.repeat(300), max);
      for (const encoded of [a, b, slashes]) {
        expect(encoded.length).toBeLessThanOrEqual(max);
        expect(encoded.startsWith('bg.')).toBe(true);
        expect(encoded).toContain('~h~');
        expect(encoded).toMatch(storeSafe);
        expect(decodeKey(encoded)).toBeUndefined();
        // The head never splits an escape.
        expect(encoded.split('~h~')[0]).toMatch(/^(?:[A-Za-z0-9._-]|~[0-9A-F]{2})*$/);
      }
      expect(a).not.toBe(b);
      // An escaped key never contains ~h~: a key spelling out a hash form is escaped instead.
      expect(encodeKey(a, 2000)).not.toBe(a);
    }
    expect(encodeKey('x'.repeat(255), 255)).toBe('x'.repeat(255));
    expect(encodeKey('x'.repeat(256), 255)).toContain('~h~');
  });

  it('keeps prefixes: the range of a prefix holds exactly the keys that start with it', () => {
    expect(encodedPrefixRange('bg.', TABLE_KEY_MAX_LENGTH)).toEqual({ start: 'bg.', end: 'bg/' });
    expect(encodedPrefixRange('', TABLE_KEY_MAX_LENGTH)).toBeUndefined();
    const range = encodedPrefixRange('a/', COSMOS_ID_MAX_LENGTH);
    expect(range).toEqual({ start: 'a~2F', end: 'a~2G' });
    const inRange = (key: string) => {
      const encoded = encodeKey(key, COSMOS_ID_MAX_LENGTH);
      return range !== undefined && encoded >= range.start && encoded < range.end;
    };
    expect(inRange('a/b')).toBe(true);
    expect(inRange('a/' + '😀'.repeat(200))).toBe(true);
    expect(inRange('a.b')).toBe(false);
    expect(inRange('a0')).toBe(false);
    expect(inRange('b/')).toBe(false);
  });

  it('rejects empty, too long and ill-formed keys', () => {
    for (const key of ['', 'x'.repeat(1025), 'a\uDC00b', '\uD83D']) {
      expect(() => encodeKey(key, COSMOS_ID_MAX_LENGTH)).toThrow(StoreError);
    }
  });
});

// ---- helpers ----------------------------------------------------------------------------------------------------

function bytes(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

function text(data: Uint8Array | undefined): string | undefined {
  return data && new TextDecoder().decode(data);
}

/** Table names: 3-63 letters and digits, starting with a letter. */
function freshTableName(): string {
  return `t${randomUUID().replaceAll('-', '')}`;
}

async function listAll(store: CacheStore, options: ListOptions): Promise<ListEntry[]> {
  const entries: ListEntry[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await store.list({ ...options, ...(continuationToken ? { continuationToken } : {}) });
    entries.push(...page.entries);
    continuationToken = page.continuationToken;
  } while (continuationToken);
  return entries;
}

async function connectAdmin(url: string) {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  return client;
}
type Admin = Awaited<ReturnType<typeof connectAdmin>>;

/** A raw Redis command of the admin connection. */
function command(client: Admin, ...args: string[]): Promise<unknown> {
  return client.sendCommand(args);
}
