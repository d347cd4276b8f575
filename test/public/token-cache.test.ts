/** PartitionedTokenCache through the entry point only, against the local authority and real stores. */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { signInWithLoginHint } from '../../dev/sign-in.js';
import {
  DEFAULT_AUTHORITY_HOST,
  DEFAULT_CACHE_LIFETIME_MS,
  DEFAULT_COMPRESS,
  DEFAULT_MAX_WRITE_ATTEMPTS,
  DEFAULT_NETWORK_TIMEOUT_MS,
  DEFAULT_WARM_TIER_BYTES,
  MAX_OBO_TOKENS_PER_TARGET,
  PartitionNotSavedError,
  PartitionedTokenCache,
  StoreError,
  TOKEN_TELEMETRY_PREFIX,
  TokenCacheError,
  appPartitionKey,
  createMemoryStore,
  createTableStore,
  hasErrorCode,
  parseKeyRing,
  userPartitionKey,
  type CacheStore,
  type PartitionedTokenCacheOptions,
} from '../../lib/index.js';
import { newKeySetting } from '../support/log-audit.js';
import { CLIENT_SECRET, authority, captureLogger, newId, stack } from '../support/stack.js';

const GRAPH = ['https://graph.microsoft.com/User.Read'];
const APP_SCOPES = ['https://graph.microsoft.com/.default'];

function options(store: CacheStore, overrides: Partial<PartitionedTokenCacheOptions['cache']> = {}) {
  const { url, ca } = stack().authority;
  const logger = captureLogger();
  return {
    logger,
    options: {
      auth: { clientId: newId(), tenantId: newId(), authorityHost: url, clientSecret: CLIENT_SECRET },
      cache: { store, keyRing: parseKeyRing(newKeySetting('p1')), ...overrides },
      system: { ca, logger },
    } satisfies PartitionedTokenCacheOptions,
  };
}

describe('PartitionedTokenCache', () => {
  it('warm tier: on by default with DEFAULT_WARM_TIER_BYTES, reports what it holds, off with maxBytes 0', async () => {
    const { options: on } = options(createMemoryStore());
    const tokens = new PartitionedTokenCache(on);
    expect(tokens.warmTierUsage).toEqual({ partitions: 0, bytes: 0, maxBytes: DEFAULT_WARM_TIER_BYTES });
    await tokens.acquireTokenByClientCredential({ scopes: APP_SCOPES });
    const second = await tokens.acquireTokenByClientCredential({ scopes: APP_SCOPES });
    expect(second.stats).toMatchObject({ reads: 1, tierHits: 1, bytesRead: 0 });
    expect(tokens.warmTierUsage.partitions).toBe(1);
    expect(tokens.warmTierUsage.bytes).toBeGreaterThan(0);

    const { options: off } = options(createMemoryStore(), { warmTier: { maxBytes: 0 } });
    const cold = new PartitionedTokenCache(off);
    await cold.acquireTokenByClientCredential({ scopes: APP_SCOPES });
    expect((await cold.acquireTokenByClientCredential({ scopes: APP_SCOPES })).stats.tierHits).toBe(0);
    expect(cold.warmTierUsage).toEqual({ partitions: 0, bytes: 0, maxBytes: 0 });

    const { options: bad } = options(createMemoryStore(), { warmTier: { maxBytes: -1 } });
    expect(() => new PartitionedTokenCache(bad)).toThrow(/warmTier\.maxBytes/);
  });

  it('client credentials: the second call is served from the app partition (1 read, 0 writes, 0 authority)', async () => {
    const { options: o, logger } = options(createMemoryStore());
    const tokens = new PartitionedTokenCache(o);
    const first = await tokens.acquireTokenByClientCredential({ scopes: APP_SCOPES });
    expect(first).toMatchObject({ partitionKey: appPartitionKey(o.auth.clientId, o.auth.tenantId), joined: false });
    expect(first.result.fromCache).toBe(false);
    const before = await authority.requests(o.auth.clientId);
    const second = await tokens.acquireTokenByClientCredential({ scopes: APP_SCOPES });
    expect(second.result.fromCache).toBe(true);
    expect(second.stats).toMatchObject({ reads: 1, writes: 0 });
    expect((await authority.requests(o.auth.clientId)).token).toBe(before.token);
    // One telemetry line per acquisition, on the system logger when the call passes none.
    const telemetry = logger.lines.filter((l) => l.startsWith(`info: ${TOKEN_TELEMETRY_PREFIX} `));
    expect(telemetry).toHaveLength(2);
    expect(JSON.parse(telemetry[1]!.slice(`info: ${TOKEN_TELEMETRY_PREFIX} `.length))).toMatchObject({
      op: 'client_credentials',
      fromCache: true,
      reads: 1,
      writes: 0,
    });
    await tokens.close();
  });

  it("on-behalf-of: the caller's partition; the same assertion again costs 0 authority requests", async () => {
    const { options: o } = options(createMemoryStore());
    const tokens = new PartitionedTokenCache(o);
    const oid = newId();
    const caller = { oid, tid: o.auth.tenantId };
    const assertion = await authority.callerToken({ clientId: o.auth.clientId, tenantId: o.auth.tenantId }, oid);
    const first = await tokens.acquireTokenOnBehalfOf({ caller, assertion, scopes: GRAPH });
    expect(first.partitionKey).toBe(userPartitionKey(caller));
    const before = await authority.requests(o.auth.clientId);
    const again = await tokens.acquireTokenOnBehalfOf({ caller, assertion, scopes: GRAPH }, { operation: 'obo' });
    expect(again.result.fromCache).toBe(true);
    expect(again.stats).toMatchObject({ reads: 1, writes: 0 });
    expect((await authority.requests(o.auth.clientId)).token).toBe(before.token);
    expect(MAX_OBO_TOKENS_PER_TARGET).toBeGreaterThanOrEqual(2);
  });

  it("on-behalf-of: a caller whose oid or tid is not the assertion's, or an assertion that is not a JWT, is refused before any store read or token request", async () => {
    const inner = createMemoryStore();
    const touched: string[] = [];
    const watched: CacheStore = {
      ...inner,
      read: (key) => (touched.push(key), inner.read(key)),
      readIfChanged: (key, etag) => (touched.push(key), inner.readIfChanged!(key, etag)),
    };
    const { options: o } = options(watched);
    const tokens = new PartitionedTokenCache(o);
    const oid = newId();
    const assertion = await authority.callerToken({ clientId: o.auth.clientId, tenantId: o.auth.tenantId }, oid);
    const before = await authority.requests(o.auth.clientId);
    for (const caller of [
      { oid: newId(), tid: o.auth.tenantId },
      { oid, tid: newId() },
    ]) {
      await expect(tokens.acquireTokenOnBehalfOf({ caller, assertion, scopes: GRAPH })).rejects.toMatchObject({
        name: 'TokenCacheError',
        code: 'invalid_options',
        message: expect.stringMatching(/caller.*assertion/) as string,
      });
    }
    const caller = { oid, tid: o.auth.tenantId };
    await expect(
      tokens.acquireTokenOnBehalfOf({ caller, assertion: 'not-a-jwt', scopes: GRAPH }),
    ).rejects.toMatchObject({ code: 'bearer_invalid' });
    expect(touched).toEqual([]);
    expect((await authority.requests(o.auth.clientId)).token).toBe(before.token);
    // The caller the assertion names, in other letter case (partition keys are lower-cased), is the same caller.
    const upper = { oid: oid.toUpperCase(), tid: o.auth.tenantId.toUpperCase() };
    const outcome = await tokens.acquireTokenOnBehalfOf({ caller: upper, assertion, scopes: GRAPH });
    expect(outcome.partitionKey).toBe(userPartitionKey(caller));
  });

  it('sign-in: the code is redeemed into the account partition; silent then refreshes from it; removal empties it', async () => {
    const store = createMemoryStore();
    const { options: o } = options(store);
    const tokens = new PartitionedTokenCache(o);
    const signedIn = await signInWithLoginHint(tokens, stack().authority.ca, `pub-${newId()}@contoso.test`, GRAPH);
    const homeAccountId = signedIn.result.account!.homeAccountId;
    expect(signedIn.partitionKey).toBe(homeAccountId.toLowerCase());
    expect(signedIn.stats).toMatchObject({ reads: 1, writes: 1 });

    const refreshed = await tokens.acquireTokenSilent({ homeAccountId, scopes: GRAPH, forceRefresh: true });
    expect(refreshed.result.fromCache).toBe(false);
    expect(refreshed.stats).toMatchObject({ reads: 1, writes: 1 });

    const bound = await tokens.partitionClient(signedIn.partitionKey);
    await bound.load();
    expect((await bound.client.getTokenCache().getAllAccounts()).map((a) => a.homeAccountId)).toEqual([homeAccountId]);
    expect(bound.stats.reads).toBe(1);

    expect(await tokens.removePartition(signedIn.partitionKey)).toBe(true);
    expect(await store.read(signedIn.partitionKey)).toBeUndefined();
    await expect(tokens.acquireTokenSilent({ homeAccountId, scopes: GRAPH })).rejects.toMatchObject({
      code: 'account_not_cached',
    });
    expect(await tokens.removePartition(signedIn.partitionKey)).toBe(false);
  });

  it('sign-in into a store that cannot be written: PartitionNotSavedError carrying the redeemed result', async () => {
    const inner = createMemoryStore();
    // A store of your own whose writes fail (the way an outage looks to the library).
    const readOnly: CacheStore = {
      ...inner,
      read: (key) => inner.read(key),
      list: (o) => inner.list(o),
      write: () => Promise.reject(new StoreError('store_unavailable', 'writes are down')),
    };
    const { options: o } = options(readOnly);
    const tokens = new PartitionedTokenCache(o);
    const failure = await signInWithLoginHint(tokens, stack().authority.ca, `ro-${newId()}@contoso.test`, GRAPH).catch(
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(PartitionNotSavedError);
    expect(failure).toMatchObject({ code: 'partition_not_saved', outcome: { saved: false } });
    expect((failure as PartitionNotSavedError).outcome.result.account?.homeAccountId).toBeTruthy();
    expect(await inner.list()).toMatchObject({ entries: [] });
  });

  it('getLogoutUrl: the end-session endpoint with the return address', async () => {
    const { options: o } = options(createMemoryStore());
    const url = new URL(await new PartitionedTokenCache(o).getLogoutUrl('https://app.example/home'));
    expect(url.origin).toBe(new URL(stack().authority.url).origin);
    expect(url.searchParams.get('post_logout_redirect_uri')).toBe('https://app.example/home');
  });

  it('getLogoutUrl takes an abort signal: already aborted, or aborted while the metadata is fetched, it rejects with code aborted', async () => {
    const { options: o } = options(createMemoryStore());
    const tokens = new PartitionedTokenCache(o);
    await expect(
      tokens.getLogoutUrl('https://app.example/home', { abortSignal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ code: 'aborted' });
    const controller = new AbortController();
    const call = tokens.getLogoutUrl('https://app.example/home', { abortSignal: controller.signal });
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: 'TokenCacheError', code: 'aborted' });
    // The fetch it stopped waiting for goes on, for the next call.
    expect(new URL(await tokens.getLogoutUrl('https://app.example/home')).origin).toBe(
      new URL(stack().authority.url).origin,
    );
  });

  it('the default network client gives up on an authority that never answers after DEFAULT_NETWORK_TIMEOUT_MS', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket.resume()));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { options: o } = options(createMemoryStore());
      const authorityHost = `https://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const tokens = new PartitionedTokenCache({ ...o, auth: { ...o.auth, authorityHost } });
      const startedAt = Date.now();
      await expect(tokens.getLogoutUrl('https://app.example/home')).rejects.toMatchObject({
        code: 'authority_unavailable',
      });
      // Less a little: timers count from the event loop's clock, read once per turn.
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(DEFAULT_NETWORK_TIMEOUT_MS - 100);
      await tokens.close();
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  }, 30_000);

  it('writes documents that expire DEFAULT_CACHE_LIFETIME_MS after the write, unless told otherwise', async () => {
    const store = createMemoryStore();
    const { options: o } = options(store);
    const startedAt = Date.now();
    await new PartitionedTokenCache(o).acquireTokenByClientCredential({ scopes: APP_SCOPES });
    const [entry] = (await store.list()).entries;
    expect(entry!.expiresAt!.getTime()).toBeGreaterThanOrEqual(startedAt + DEFAULT_CACHE_LIFETIME_MS - 1000);
    expect(entry!.expiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + DEFAULT_CACHE_LIFETIME_MS + 1000);

    const shortLived = createMemoryStore();
    const { options: short } = options(shortLived, { lifetimeMs: 60_000 });
    await new PartitionedTokenCache(short).acquireTokenByClientCredential({ scopes: APP_SCOPES });
    expect((await shortLived.list()).entries[0]!.expiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 61_000);
  });

  it("compresses documents unless told otherwise (DEFAULT_COMPRESS); either setting serves the other one's documents", async () => {
    expect(DEFAULT_COMPRESS).toBe(true);
    const compressedStore = createMemoryStore();
    const plainStore = createMemoryStore();
    const { options: compressing } = options(compressedStore);
    const plain = { ...compressing, cache: { ...compressing.cache, store: plainStore, compress: false } };
    await new PartitionedTokenCache(compressing).acquireTokenByClientCredential({ scopes: APP_SCOPES });
    await new PartitionedTokenCache(plain).acquireTokenByClientCredential({ scopes: APP_SCOPES });
    const key = appPartitionKey(compressing.auth.clientId, compressing.auth.tenantId);
    const compressedBytes = (await compressedStore.read(key))!.data.byteLength;
    const plainBytes = (await plainStore.read(key))!.data.byteLength;
    expect(compressedBytes).toBeLessThan(plainBytes * 0.8);

    const before = await authority.requests(compressing.auth.clientId);
    const crossed = [
      new PartitionedTokenCache({ ...plain, cache: { ...plain.cache, store: compressedStore } }),
      new PartitionedTokenCache({ ...compressing, cache: { ...compressing.cache, store: plainStore } }),
    ];
    for (const tokens of crossed) {
      const { result, stats } = await tokens.acquireTokenByClientCredential({ scopes: APP_SCOPES });
      expect(result.fromCache).toBe(true);
      expect(stats).toMatchObject({ reads: 1, writes: 0 });
    }
    expect((await authority.requests(compressing.auth.clientId)).token).toBe(before.token);
  });

  it('gives up a contended write after DEFAULT_MAX_WRITE_ATTEMPTS, and the token is still returned', async () => {
    expect(DEFAULT_MAX_WRITE_ATTEMPTS).toBe(20);
    const inner = createMemoryStore();
    // Another writer lands between every read and write of this instance: every conditional write conflicts.
    let writes = 0;
    const contended: CacheStore = {
      ...inner,
      kind: 'memory',
      read: (key) => inner.read(key),
      write: async (key, data, writeOptions) => {
        writes++;
        const current = await inner.read(key);
        await inner.write(key, Buffer.from('other writer'), current ? { ifMatch: current.etag } : {});
        return inner.write(key, data, writeOptions);
      },
    };
    const { options: o, logger } = options(contended, { maxWriteAttempts: 3 });
    const outcome = await new PartitionedTokenCache(o).acquireTokenByClientCredential({ scopes: APP_SCOPES });
    expect(outcome.result.accessToken).toBeTruthy();
    expect(outcome.stats.conflicts).toBe(3);
    expect(writes).toBe(3);
    expect(logger.lines.some((l) => /gave up writing .* after 3 conflicting attempts/.test(l))).toBe(true);
  });

  it('an aborted call rejects with code aborted', async () => {
    const { options: o } = options(createMemoryStore());
    const controller = new AbortController();
    controller.abort();
    const call = new PartitionedTokenCache(o).acquireTokenByClientCredential(
      { scopes: APP_SCOPES },
      { abortSignal: controller.signal },
    );
    await expect(call).rejects.toBeInstanceOf(TokenCacheError);
    await expect(call).rejects.toMatchObject({ code: 'aborted' });
  });

  it('refuses incomplete or malformed options with code invalid_options, naming which', () => {
    const { options: o } = options(createMemoryStore());
    const attempt = (changed: unknown) => {
      try {
        new PartitionedTokenCache(changed as PartitionedTokenCacheOptions);
      } catch (error) {
        expect(hasErrorCode(error, 'invalid_options')).toBe(true);
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(attempt({ ...o, auth: { ...o.auth, clientId: '' } })).toMatch(/clientId/);
    expect(attempt({ ...o, auth: { clientId: 'c', tenantId: o.auth.tenantId } })).toMatch(
      /clientSecret or auth.clientCertificate/,
    );
    expect(attempt({ ...o, auth: { ...o.auth, tenantId: 'contoso.onmicrosoft.com' } })).toMatch(/tenantId/);
    expect(
      attempt({
        ...o,
        auth: { ...o.auth, clientCertificate: { thumbprintSha256: 'ab', privateKey: 'k' } },
      }),
    ).toMatch(/only one/);
    expect(attempt({ ...o, cache: { store: o.cache.store } })).toMatch(/keyRing/);
    expect(attempt({ ...o, system: { ...o.system, networkTimeoutMs: -1 } })).toMatch(/network timeout/);
    expect(attempt({ ...o, system: { ...o.system, ca: 'not a certificate' } })).toMatch(/PEM/);
  });

  it('uses DEFAULT_AUTHORITY_HOST (Entra ID) with the tenant when no authority host is given', () => {
    const { options: o } = options(createMemoryStore());
    const tokens = new PartitionedTokenCache({ ...o, auth: { ...o.auth, authorityHost: undefined } });
    expect(DEFAULT_AUTHORITY_HOST).toBe('https://login.microsoftonline.com');
    expect(tokens.authority).toBe(`${DEFAULT_AUTHORITY_HOST}/${o.auth.tenantId}`);
    expect([tokens.clientId, tokens.tenantId]).toEqual([o.auth.clientId, o.auth.tenantId]);
  });

  it('serves a second call from the Table store', async () => {
    const store = createTableStore({
      connectionString: stack().table.connectionString,
      tableName: `pub${newId().replace(/-/g, '').slice(0, 10)}`,
      createIfMissing: true,
      allowInsecureConnection: true,
    });
    const { options: o } = options(store);
    const tokens = new PartitionedTokenCache(o);
    await tokens.acquireTokenByClientCredential({ scopes: APP_SCOPES });
    expect((await tokens.acquireTokenByClientCredential({ scopes: APP_SCOPES })).result.fromCache).toBe(true);
    await tokens.close();
  });
});
