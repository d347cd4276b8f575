/**
 * The fault proxies (dev/proxy/) against real servers: redis-server, Azurite, the Cosmos server, the local HTTPS
 * authority, and two small loopback servers. Timing assertions are lower bounds only: the proxies guarantee that
 * nothing arrives early, never that it arrives on time.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { AzureNamedKeyCredential, TableClient, type TableEntityResult } from '@azure/data-tables';
import { CosmosClient, type Container } from '@azure/cosmos';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  startAzuriteTable,
  startCosmosServer,
  startRedisServer,
  type AzuriteTable,
  type CosmosServer,
  type RedisServer,
} from '../dev/emulators.js';
import { httpsRequest, trustingAgent } from '../dev/https-trust.js';
import { startCosmosStandIn } from '../dev/proxy/cosmos-standin.js';
import { startHttpProxy, type HttpProxy } from '../dev/proxy/http.js';
import { PreciseScheduler } from '../dev/proxy/precise-timer.js';
import { startTcpProxy, type TcpProxy } from '../dev/proxy/tcp.js';
import { connectOutcome, connectTo, startEchoServer, startStallingServer } from './support/tcp-servers.js';

/**
 * A client timeout: long enough that a loaded machine never trips it on a loopback round trip (300 ms could: a
 * stalled worker runs its timers before it reads the answer that arrived meanwhile), short enough for quick tests.
 */
const SHORT_TIMEOUT_MS = 2_000;
/**
 * How much later than a timeout a client's timeout-error came, at least: half of it. Node arms timers on the event
 * loop's cached clock, which lags the instant a test measures by however long the loop iteration has run, so a
 * timer may fire "early" by that much; an error that did not wait for the timeout comes in milliseconds.
 */
const WAITED_AT_LEAST_MS = SHORT_TIMEOUT_MS / 2;

let redis: RedisServer;
let azurite: AzuriteTable;
let cosmos: CosmosServer;
const proxies: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  [redis, azurite, cosmos] = await Promise.all([startRedisServer(), startAzuriteTable(), startCosmosServer()]);
});

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

afterAll(async () => {
  await Promise.all([redis?.close(), azurite?.close(), cosmos?.close()]);
});

async function tcpProxy(options: Omit<Parameters<typeof startTcpProxy>[0], 'target'> & { port: number }) {
  const { port, ...rest } = options;
  const proxy = await startTcpProxy({ target: { host: '127.0.0.1', port }, ...rest });
  proxies.push(proxy);
  return proxy;
}

function redisPort(): number {
  return Number(new URL(redis.url).port);
}

function azuritePort(): number {
  return Number(new URL(azurite.url).port);
}

/**
 * A node-redis client through `proxy` that never reconnects; errors are collected. node-redis's command timeout
 * only covers the wait to be written, so a silent server is noticed by `socketTimeoutMs` (no data for that long).
 */
async function redisClient(proxy: TcpProxy, socketTimeoutMs?: number) {
  const errors: Error[] = [];
  const client = createClient({
    url: `redis://${proxy.address}`,
    socket: { reconnectStrategy: false, connectTimeout: 2_000, socketTimeout: socketTimeoutMs },
  });
  client.on('error', (error: Error) => errors.push(error));
  await client.connect();
  return {
    client,
    errors,
    [Symbol.dispose]: () => {
      if (client.isOpen) client.destroy();
    },
  };
}

function tableClient(url: string, table: string, retries = 0): TableClient {
  return new TableClient(url, table, new AzureNamedKeyCredential(azurite.accountName, azurite.accountKey), {
    allowInsecureConnection: true,
    retryOptions: { maxRetries: retries, retryDelayInMs: 10, maxRetryDelayInMs: 50 },
  });
}

/** A fresh table (Azure: letters and digits, starting with a letter). */
async function freshTable(): Promise<string> {
  const name = `proxy${Math.random().toString(36).slice(2, 10)}`;
  await tableClient(azurite.url, name).createTable();
  return name;
}

function elapsedMs(since: number): number {
  return performance.now() - since;
}

/** Polls until `check` holds; fails after `timeoutMs`. */
async function eventually(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('precise scheduler (the latency clock)', () => {
  it('never runs a callback before its sub-millisecond deadline, and runs them in deadline order', async () => {
    const scheduler = new PreciseScheduler();
    const start = performance.now();
    const deadlines = Array.from({ length: 300 }, (_, i) => start + ((i * 7919) % 300) / 100); // 0 to 2.99 ms, shuffled
    const ran: { deadline: number; at: number }[] = [];
    await Promise.all(
      deadlines.map(
        (deadline) =>
          new Promise<void>((resolve) =>
            scheduler.at(deadline, () => {
              ran.push({ deadline, at: performance.now() });
              resolve();
            }),
          ),
      ),
    );
    for (const { deadline, at } of ran) expect(at).toBeGreaterThanOrEqual(deadline);
    expect(ran.map(({ deadline }) => deadline)).toEqual([...deadlines].sort((a, b) => a - b));
  });

  it('drops cancelled and cleared callbacks', async () => {
    const scheduler = new PreciseScheduler();
    const ran: string[] = [];
    const cancel = scheduler.at(performance.now() + 0.5, () => ran.push('cancelled'));
    scheduler.at(performance.now() + 0.5, () => ran.push('kept'));
    cancel();
    await scheduler.sleep(1);
    scheduler.at(performance.now() + 0.5, () => ran.push('cleared'));
    scheduler.clear();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(ran).toEqual(['kept']);
  });
});

describe('TCP fault proxy', () => {
  it('passes Redis traffic through and counts connections and bytes both ways', async () => {
    const proxy = await tcpProxy({ port: redisPort() });
    using redisConn = await redisClient(proxy);
    await redisConn.client.set('proxy:pass', 'value through the proxy');
    expect(await redisConn.client.get('proxy:pass')).toBe('value through the proxy');

    const counters = proxy.counters();
    expect(counters.connections).toMatchObject({ accepted: 1, active: 1, rejected: 0 });
    expect(counters.bytes.toTarget).toBeGreaterThan('SETproxy:passvalue through the proxy'.length);
    expect(counters.bytes.toClient).toBeGreaterThan('value through the proxy'.length);
    expect(counters.faults).toEqual({ latency: 0, reset: 0, blackhole: 0, refuse: 0, status: 0 });
  });

  it('resets open and new connections: the Redis client sees a connection error', async () => {
    const proxy = await tcpProxy({ port: redisPort() });
    using redisConn = await redisClient(proxy);
    expect(await redisConn.client.ping()).toBe('PONG');

    proxy.reset();
    await eventually(() => redisConn.errors.length > 0);
    expect(redisConn.errors.map((error) => error.message).join()).toMatch(/ECONNRESET|closed unexpectedly/i);
    await expect(redisConn.client.ping()).rejects.toThrow();
    await expect(redisClient(proxy)).rejects.toThrow(); // a new connection is reset too
    expect(proxy.counters().faults.reset).toBeGreaterThanOrEqual(2);

    await proxy.pass();
    using again = await redisClient(proxy);
    expect(await again.client.ping()).toBe('PONG');
  });

  it('resets only the next N new connections when given a count, and leaves open ones alone', async () => {
    const proxy = await tcpProxy({ port: redisPort() });
    using open = await redisClient(proxy);
    proxy.reset({ existing: false, count: 1 });
    await expect(redisClient(proxy)).rejects.toThrow();
    using second = await redisClient(proxy);
    expect(await second.client.ping()).toBe('PONG');
    expect(await open.client.ping()).toBe('PONG');
    expect(proxy.counters().faults.reset).toBe(1);
  });

  it('black-holes: Redis commands time out, the bytes are read and discarded', async () => {
    const proxy = await tcpProxy({ port: redisPort() });
    using redisConn = await redisClient(proxy, SHORT_TIMEOUT_MS);
    expect(await redisConn.client.ping()).toBe('PONG');
    const before = proxy.counters().bytes;

    proxy.blackHole();
    const started = performance.now();
    await expect(redisConn.client.ping()).rejects.toThrow(/timeout/i);
    expect(elapsedMs(started)).toBeGreaterThanOrEqual(WAITED_AT_LEAST_MS);
    const after = proxy.counters();
    expect(after.bytes.discarded).toBeGreaterThan(0);
    expect(after.bytes.toTarget).toBe(before.toTarget);
    expect(after.faults.blackhole).toBe(1);

    // A new connection is accepted, and nothing ever answers it.
    const socket = await connectTo(proxy.port);
    socket.write('PING\r\n');
    const answered = await Promise.race([
      once(socket, 'data').then(() => true),
      new Promise((resolve) => setTimeout(() => resolve(false), SHORT_TIMEOUT_MS)),
    ]);
    socket.destroy();
    expect(answered).toBe(false);
    expect(proxy.counters().faults.blackhole).toBe(2);
  });

  it('ends black holes: connections swallowed so far are reset, not counted as faults; others go on', async () => {
    const proxy = await tcpProxy({ port: redisPort() });
    using swallowedOpen = await redisClient(proxy);
    expect(await swallowedOpen.client.ping()).toBe('PONG');
    proxy.blackHole({ incoming: false });
    proxy.blackHole({ existing: false, count: 1 });
    const swallowedNew = await connectTo(proxy.port);
    swallowedNew.on('error', () => undefined); // the reset
    const newClosed = new Promise((resolve) => swallowedNew.on('close', resolve));
    await proxy.pass();
    using healthy = await redisClient(proxy);
    expect(await healthy.client.ping()).toBe('PONG');
    const faults = proxy.counters().faults;

    expect(proxy.endBlackHoles()).toBe(2);
    await newClosed;
    await eventually(() => swallowedOpen.errors.length > 0);
    expect(swallowedOpen.errors.map((error) => error.message).join()).toMatch(/ECONNRESET|closed unexpectedly/i);
    expect(await healthy.client.ping()).toBe('PONG');
    expect(healthy.errors).toEqual([]);
    expect(proxy.counters().faults).toEqual(faults);
    expect(proxy.endBlackHoles()).toBe(0);
  });

  it('adds latency each way: 2 ms and 0.5 ms per direction are lower bounds of every Redis round trip', async () => {
    const proxy = await tcpProxy({ port: redisPort() });
    using redisConn = await redisClient(proxy);
    await redisConn.client.ping();

    for (const [perDirectionMs, pings] of [
      [2, 25],
      [0.5, 100],
    ] as const) {
      proxy.latency({ toTargetMs: perDirectionMs, toClientMs: perDirectionMs });
      const latencyBefore = proxy.counters().faults.latency;
      const started = performance.now();
      for (let i = 0; i < pings; i++) await redisConn.client.ping();
      expect(elapsedMs(started)).toBeGreaterThanOrEqual(pings * 2 * perDirectionMs);
      expect(proxy.counters().faults.latency - latencyBefore).toBeGreaterThanOrEqual(pings * 2);
    }
  });

  it('keeps the byte order when the latency changes under way (a shorter delay never overtakes)', async () => {
    const echo = await startEchoServer();
    try {
      const proxy = await tcpProxy({ port: echo.port, latency: { toTargetMs: 3, toClientMs: 0.5 } });
      const socket = await connectTo(proxy.port);
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      let sent = '';
      for (let i = 0; i < 400; i++) {
        const line = `${i},`;
        sent += line;
        socket.write(line);
        if (i === 200) proxy.latency({}); // later chunks are due earlier than the queued ones
        if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await eventually(() => Buffer.concat(received).length >= sent.length);
      socket.destroy();
      expect(Buffer.concat(received).toString()).toBe(sent);
    } finally {
      await echo.close();
    }
  });

  it('applies backpressure: a target that does not read makes the proxy stop reading, holding at most the cap', async () => {
    const stalling = await startStallingServer();
    try {
      const cap = 256 * 1024;
      const proxy = await tcpProxy({ port: stalling.port, maxBufferedBytes: cap, latency: { toTargetMs: 1 } });
      const socket = await connectTo(proxy.port);
      const block = Buffer.alloc(1024 * 1024, 'x');
      for (let i = 0; i < 64; i++) socket.write(block); // 64 MiB, far more than loopback's kernel buffers hold
      // Wait until the proxy has stopped forwarding: its count stands still while the client still has data.
      let last = -1;
      await eventually(() => {
        const now = proxy.counters().bytes.toTarget;
        const still = now === last && now > 0;
        last = now;
        return still;
      }, 10_000);
      expect(socket.writableLength).toBeGreaterThan(0);
      // One read is at most 64 KiB: the cap can be passed by one chunk, never more.
      expect(proxy.counters().bytes.maxHeld).toBeLessThanOrEqual(cap + 64 * 1024);
      socket.destroy();
    } finally {
      await stalling.close();
    }
  });

  it('drops connections beyond maxConnections and counts them', async () => {
    const echo = await startEchoServer();
    const sockets: Socket[] = [];
    try {
      const proxy = await tcpProxy({ port: echo.port, maxConnections: 2 });
      for (let i = 0; i < 2; i++) sockets.push(await connectTo(proxy.port));
      const third = await connectTo(proxy.port);
      sockets.push(third);
      const dropped = await Promise.race([
        once(third, 'close').then(() => true),
        new Promise((resolve) => setTimeout(() => resolve(false), 2_000)),
      ]);
      expect(dropped).toBe(true);
      await eventually(() => proxy.counters().connections.rejected === 1);
      expect(proxy.counters().connections).toMatchObject({ accepted: 2, active: 2 });
    } finally {
      for (const socket of sockets) socket.destroy();
      await echo.close();
    }
  });

  it('refuses connections while refusing, on the same port again after pass()', async () => {
    const proxy = await tcpProxy({ port: redisPort() });
    await proxy.refuse();
    expect(await connectOutcome(proxy.port)).toBe('ECONNREFUSED');
    expect(proxy.counters().faults.refuse).toBe(1);
    await proxy.pass();
    using redisConn = await redisClient(proxy);
    expect(await redisConn.client.ping()).toBe('PONG');
  });

  it('carries Azure Table traffic (HTTP) to Azurite; reset and black hole reach the SDK as errors', async () => {
    const proxy = await tcpProxy({ port: azuritePort() });
    const table = await freshTable();
    const viaProxy = tableClient(`http://${proxy.address}/${azurite.accountName}`, table);
    await viaProxy.upsertEntity({ partitionKey: 'p', rowKey: 'r', value: 'through the proxy' });
    expect((await viaProxy.getEntity<{ value: string }>('p', 'r')).value).toBe('through the proxy');

    proxy.reset();
    await expect(viaProxy.getEntity('p', 'r')).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(proxy.counters().faults.reset).toBeGreaterThanOrEqual(1);

    await proxy.pass();
    proxy.blackHole();
    const started = performance.now();
    await expect(
      viaProxy.getEntity('p', 'r', { abortSignal: AbortSignal.timeout(SHORT_TIMEOUT_MS) }),
    ).rejects.toThrow();
    expect(elapsedMs(started)).toBeGreaterThanOrEqual(WAITED_AT_LEAST_MS);
    expect(proxy.counters().faults.blackhole).toBeGreaterThanOrEqual(1);
  });

  it('passes TLS through untouched (the local authority over HTTPS)', async () => {
    const { authority } = inject('stack');
    const target = new URL(authority.url);
    const proxy = await tcpProxy({ port: Number(target.port) });
    const agent = trustingAgent(authority.ca);
    try {
      const direct = await httpsRequest(agent, `${authority.url}/common/discovery/instance`);
      const proxied = await httpsRequest(agent, `https://${target.hostname}:${proxy.port}/common/discovery/instance`);
      expect(proxied.status).toBe(direct.status);
      expect(proxy.counters().bytes.toClient).toBeGreaterThan(0);
    } finally {
      agent.destroy();
    }
  });
});

describe('HTTP fault proxy', () => {
  async function httpProxy(options: Omit<Parameters<typeof startHttpProxy>[0], 'target'> = {}): Promise<HttpProxy> {
    const proxy = await startHttpProxy({ target: azurite.url.replace(/\/[^/]*$/, ''), ...options });
    proxies.push(proxy);
    return proxy;
  }

  /** Azurite answers an unsigned request itself (403): any status but the injected ones means "forwarded". */
  const tablesPath = (proxy: HttpProxy) => `${proxy.url}/${azurite.accountName}/Tables`;

  it('answers the next N requests with 503 and Retry-After, then forwards again', async () => {
    const proxy = await httpProxy();
    proxy.respond({ status: 503, count: 2, retryAfterMs: 1_500 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await fetch(tablesPath(proxy));
      await response.arrayBuffer();
      statuses.push(response.status);
      if (i === 0) {
        expect(response.headers.get('retry-after')).toBe('2');
        expect(response.headers.get('retry-after-ms')).toBe('1500');
        expect(response.headers.get('x-ms-retry-after-ms')).toBe('1500');
      }
    }
    expect(statuses.slice(0, 2)).toEqual([503, 503]);
    expect(statuses[2]).not.toBe(503);
    expect(proxy.counters()).toMatchObject({ faults: { status: 2 }, requests: { received: 3, forwarded: 1 } });
  });

  it('throttles @azure/data-tables with 429s: the SDK waits the Retry-After and succeeds, or fails without retries', async () => {
    const proxy = await httpProxy();
    const table = await freshTable();
    await tableClient(azurite.url, table).upsertEntity({ partitionKey: 'p', rowKey: 'r', value: 1 });
    const viaProxy = (retries: number) => tableClient(`${proxy.url}/${azurite.accountName}`, table, retries);

    proxy.respond({ status: 429, count: 2, retryAfterMs: 150, method: 'GET', path: new RegExp(`/${table}\\(`) });
    const started = performance.now();
    const entity: TableEntityResult<{ value: number }> = await viaProxy(3).getEntity('p', 'r');
    expect(entity.value).toBe(1);
    expect(elapsedMs(started)).toBeGreaterThanOrEqual(2 * 150);
    expect(proxy.counters().faults.status).toBe(2);

    proxy.respond({ status: 429, count: 1, retryAfterMs: 150 });
    await expect(viaProxy(0).getEntity('p', 'r')).rejects.toMatchObject({ statusCode: 429 });
  });

  it('answers a fraction of the requests on one path only (random injected)', async () => {
    const draws = [0.1, 0.9, 0.2, 0.8, 0];
    const proxy = await httpProxy({ random: () => draws.shift() ?? 0.99 });
    proxy.respond({ status: 503, fraction: 0.5, path: /\/Tables$/ });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(tablesPath(proxy))).status);
    const other = await fetch(`${proxy.url}/${azurite.accountName}/other`);
    expect(statuses.map((status) => status === 503)).toEqual([true, false, true, false]);
    expect(other.status).not.toBe(503);
    expect(draws).toEqual([0]); // the other path drew nothing
  });

  it('resets a connection mid-request: fetch fails with ECONNRESET, the next request passes', async () => {
    const proxy = await httpProxy();
    proxy.reset({ count: 1 });
    const failure: unknown = await fetch(tablesPath(proxy)).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(TypeError);
    expect((failure as TypeError & { cause?: { code?: string } }).cause?.code).toMatch(/ECONNRESET|UND_ERR_SOCKET/);
    expect((await fetch(tablesPath(proxy))).status).not.toBe(503);
    expect(proxy.counters().faults.reset).toBe(1);
    expect(proxy.counters().requests.forwarded).toBe(1);
  });

  it('resets after forwarding: the write happened, the caller saw a broken connection', async () => {
    const proxy = await httpProxy();
    const table = await freshTable();
    proxy.reset({ count: 1, afterForward: true, method: 'PUT' });
    const viaProxy = tableClient(`${proxy.url}/${azurite.accountName}`, table);
    await expect(
      viaProxy.upsertEntity({ partitionKey: 'p', rowKey: 'written', value: 7 }, 'Replace'),
    ).rejects.toMatchObject({
      code: 'ECONNRESET',
    });
    const stored = await tableClient(azurite.url, table).getEntity<{ value: number }>('p', 'written');
    expect(stored.value).toBe(7);
  });

  it('black-holes requests: the client times out, nothing reaches the target; pass() forwards again', async () => {
    const proxy = await httpProxy();
    proxy.blackHole({ path: /\/Tables/ });
    const started = performance.now();
    await expect(fetch(tablesPath(proxy), { signal: AbortSignal.timeout(SHORT_TIMEOUT_MS) })).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    expect(elapsedMs(started)).toBeGreaterThanOrEqual(WAITED_AT_LEAST_MS);
    expect(proxy.counters()).toMatchObject({ faults: { blackhole: 1 }, requests: { received: 1, forwarded: 0 } });
    await proxy.pass();
    expect((await fetch(tablesPath(proxy))).status).not.toBe(503);
  });

  it('adds latency per request in each direction, fractions of a millisecond included (lower bounds)', async () => {
    const proxy = await httpProxy();
    const table = await freshTable();
    const viaProxy = tableClient(`${proxy.url}/${azurite.accountName}`, table);
    await viaProxy.upsertEntity({ partitionKey: 'p', rowKey: 'r' });
    for (const [latency, requests, perRequestMs] of [
      [{ toTargetMs: 10 }, 5, 10],
      [{ toClientMs: 10 }, 5, 10],
      [{ toTargetMs: 0.5, toClientMs: 0.5 }, 40, 1],
    ] as const) {
      proxy.latency(latency);
      const started = performance.now();
      for (let i = 0; i < requests; i++) await viaProxy.getEntity('p', 'r');
      expect(elapsedMs(started)).toBeGreaterThanOrEqual(requests * perRequestMs);
    }
    expect(proxy.counters().faults.latency).toBe(50);
  });
});

describe('Cosmos DB stand-in', () => {
  /** A clock the test moves forward. */
  let skewMs = 0;
  const now = () => Date.now() + skewMs;

  async function container(
    target: string,
    definition: { defaultTtl?: number } = { defaultTtl: -1 },
  ): Promise<{ container: Container; dispose: () => void }> {
    const client = new CosmosClient({
      endpoint: target,
      key: cosmos.key,
      connectionPolicy: { enableEndpointDiscovery: false, retryOptions: { maxRetryAttemptCount: 0 } },
    });
    const { database } = await client.databases.createIfNotExists({ id: 'proxy-tests' });
    const id = `c${Math.random().toString(36).slice(2, 10)}`;
    const { container } = await database.containers.createIfNotExists({
      id,
      partitionKey: { paths: ['/id'] },
      ...definition,
    });
    return { container, dispose: () => client.dispose() };
  }

  async function standIn() {
    const proxy = await startCosmosStandIn({ target: cosmos.endpoint, now });
    proxies.push(proxy);
    return proxy;
  }

  afterEach(() => {
    skewMs = 0;
  });

  it('answers an If-None-Match point read of an unchanged item with 304 (the server alone says 200), then 200 once it changed', async () => {
    const proxy = await standIn();
    const { container: viaStandIn, dispose } = await container(proxy.url);
    try {
      const { resource: created } = await viaStandIn.items.create({ id: 'item', data: 'v1' });
      const etag = created!._etag;
      const ifNoneMatch = (condition: string) => ({ accessCondition: { type: 'IfNoneMatch', condition } });

      const unchanged = await viaStandIn.item('item', 'item').read(ifNoneMatch(etag));
      expect(unchanged.statusCode).toBe(304);
      expect(unchanged.resource).toBeNull();
      expect(unchanged.etag).toBe(etag);

      const direct = new CosmosClient({
        endpoint: cosmos.endpoint,
        key: cosmos.key,
        connectionPolicy: { enableEndpointDiscovery: false },
      });
      const sameContainer = direct.database('proxy-tests').container(viaStandIn.id);
      expect((await sameContainer.item('item', 'item').read(ifNoneMatch(etag))).statusCode).toBe(200);
      direct.dispose();

      await viaStandIn.item('item', 'item').replace({ id: 'item', data: 'v2' });
      const changed = await viaStandIn.item('item', 'item').read<{ data: string }>(ifNoneMatch(etag));
      expect(changed.statusCode).toBe(200);
      expect(changed.resource?.data).toBe('v2');
      expect((await viaStandIn.item('item', 'item').read(ifNoneMatch(changed.etag))).statusCode).toBe(304);
      expect(proxy.standIn.counters().notModified).toBe(2);
    } finally {
      dispose();
    }
  });

  it('expires an item by its ttl on the injected clock: read and replace miss, a create of the id succeeds', async () => {
    const proxy = await standIn();
    const { container: viaStandIn, dispose } = await container(proxy.url);
    try {
      await viaStandIn.items.create({ id: 'short', ttl: 60, data: 'v1' });
      await viaStandIn.items.create({ id: 'forever', ttl: -1 });
      await viaStandIn.items.create({ id: 'no-ttl' });
      const item = viaStandIn.item('short', 'short');
      const { etag } = await item.read();
      expect((await item.read()).statusCode).toBe(200);

      skewMs = 61_000;
      const read = await item.read();
      expect(read.statusCode).toBe(404);
      expect(read.resource).toBeUndefined();
      expect((await item.read({ accessCondition: { type: 'IfNoneMatch', condition: etag } })).statusCode).toBe(404);
      await expect(item.replace({ id: 'short', data: 'v2' })).rejects.toMatchObject({ code: 404 });
      expect((await viaStandIn.items.create({ id: 'short', data: 'again' })).statusCode).toBe(201);
      // ttl -1, and no ttl under defaultTtl -1: never expire.
      expect((await viaStandIn.item('forever', 'forever').read()).statusCode).toBe(200);
      expect((await viaStandIn.item('no-ttl', 'no-ttl').read()).statusCode).toBe(200);
      expect(proxy.standIn.counters().expired).toBe(1);
    } finally {
      dispose();
    }
  });

  it("follows the container's defaultTtl: none disables item ttl, a number expires items without their own", async () => {
    const proxy = await standIn();
    const noTtl = await container(proxy.url, {});
    const thirty = await container(proxy.url, { defaultTtl: 30 });
    try {
      await noTtl.container.items.create({ id: 'ignored', ttl: 10 });
      await thirty.container.items.create({ id: 'default' });
      await thirty.container.items.create({ id: 'own', ttl: 120 });
      skewMs = 31_000;
      expect((await noTtl.container.item('ignored', 'ignored').read()).statusCode).toBe(200);
      expect((await thirty.container.item('default', 'default').read()).statusCode).toBe(404);
      expect((await thirty.container.item('own', 'own').read()).statusCode).toBe(200);
    } finally {
      noTtl.dispose();
      thirty.dispose();
    }
  });
});
