import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { startCosmosStandIn } from '../dev/proxy/cosmos-standin.js';
import {
  MAX_OBO_TOKENS_PER_TARGET,
  createCosmosStore,
  createMemoryStore,
  sweepExpired,
  type CacheStore,
} from '../lib/index.js';
import { CookieJar, startTestApp, visit, webSignInPartition } from './support/app.js';
import { authority, captureLogger, newApp, newId, newStore, stack } from './support/stack.js';
import { readStored, section } from './support/stored.js';
import { withRawCosmos } from './support/raw-sdk.js';

const GRAPH = ['https://graph.microsoft.com/User.Read'];

describe('expiry', () => {
  it('the sweeper removes only expired documents, across several pages, within its budget', async () => {
    const store = newStore('table');
    const now = Date.now();
    const expired = Array.from({ length: 7 }, (_, i) => `expired-${i}.t`);
    const fresh = Array.from({ length: 5 }, (_, i) => `fresh-${i}.t`);
    for (const key of expired) await store.write(key, Buffer.from('x'), { expiresAt: new Date(now - 60_000) });
    for (const key of fresh) await store.write(key, Buffer.from('y'), { expiresAt: new Date(now + 86_400_000) });

    const first = await sweepExpired(store, { budget: 4, pageSize: 2 });
    expect(first).toMatchObject({ removed: 4, budgetReached: true });
    expect(first.pages).toBeGreaterThanOrEqual(2);
    const second = await sweepExpired(store, { budget: 100, pageSize: 2 });
    expect(second).toMatchObject({ removed: 3, budgetReached: false });
    for (const key of expired) expect(await store.read(key), key).toBeUndefined();
    for (const key of fresh) expect(await store.read(key), key).toBeDefined();
  });

  it.each(['table', 'cosmos'] as const)(
    'the sweeper, run on %s, leaves a document that was rewritten between its listing and its delete',
    async (kind) => {
      const real = newStore(kind);
      const now = Date.now();
      for (const key of ['gone-1.t', 'comeback.t', 'gone-2.t']) {
        await real.write(key, Buffer.from('old'), { expiresAt: new Date(now - 60_000) });
      }
      // The real store, with a user coming back right after the sweeper's listing returned: their instance rewrites
      // the document (conditionally, as the cache plugin writes) before the sweeper gets to delete it.
      let listings = 0;
      const store: CacheStore = {
        kind: real.kind,
        read: (key) => real.read(key),
        write: (key, data, options) => real.write(key, data, options),
        delete: (key, options) => real.delete(key, options),
        list: async (options) => {
          const page = await real.list(options);
          if (++listings === 1) {
            const listed = page.entries.find((entry) => entry.partitionKey === 'comeback.t');
            expect(listed).toBeDefined();
            await real.write('comeback.t', Buffer.from('new'), {
              ifMatch: listed!.etag,
              expiresAt: new Date(now + 86_400_000),
            });
          }
          return page;
        },
      };

      const result = await sweepExpired(store, { now: new Date(now), pageSize: 10 });
      expect(result).toMatchObject({ removed: 2, skipped: 1, budgetReached: false });
      expect(listings).toBe(1);
      expect(await real.read('gone-1.t')).toBeUndefined();
      expect(await real.read('gone-2.t')).toBeUndefined();
      expect(Buffer.from((await real.read('comeback.t'))!.data).toString()).toBe('new');
    },
  );

  it('Cosmos documents carry a ttl of the configured lifetime from their write', async () => {
    const suffix = randomBytes(6).toString('hex');
    const store = newStore('cosmos', suffix);
    const app = newApp(store);
    const oid = newId();
    const assertion = await authority.callerToken(app, oid);
    // Both clocks around the write: the plugin's (performance.timeOrigin + now(), monotonic) decides the expiry,
    // the store's (Date.now) turns it into a ttl; they drift apart, so each is bounded on its own.
    const plugin = () => performance.timeOrigin + performance.now();
    const [pluginBefore, wallBefore] = [plugin(), Date.now()];
    await app.tokens.acquireTokenOnBehalfOf(
      { caller: { oid, tid: app.tenantId }, assertion, scopes: GRAPH },
      { logger: captureLogger() },
    );
    const [pluginAfter, wallAfter] = [plugin(), Date.now()];
    const resources = await rawItems(`c${suffix}`);
    expect(resources).toHaveLength(1);
    const lifetime = 90 * 86_400_000;
    const expiresAt = Date.parse(resources[0]!.expiresAt as string);
    expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(pluginBefore + lifetime));
    expect(expiresAt).toBeLessThanOrEqual(Math.ceil(pluginAfter + lifetime));
    expect(resources[0]!.ttl).toBeGreaterThanOrEqual(Math.ceil((pluginBefore + lifetime - wallAfter) / 1000));
    expect(resources[0]!.ttl).toBeLessThanOrEqual(Math.ceil((pluginAfter + lifetime - wallBefore) / 1000));
  });
});

describe('Cosmos DB time to live (emulated: the Cosmos server stores ttl and never enforces it)', () => {
  it('once the ttl the store wrote has passed, the store reads nothing and the app treats the person as new', async () => {
    const s = stack();
    // dev/proxy/cosmos-standin.ts in front of the server enforces per-item ttl on point operations as the service
    // documents it: an item is gone once (_ts + ttl) seconds have passed on the stand-in's clock, set here.
    let clock = () => Date.now();
    const cosmos = await startCosmosStandIn({ target: s.cosmos.endpoint, now: () => clock() });
    const containerId = `ttl${randomBytes(6).toString('hex')}`;
    const tokenStore = createCosmosStore({
      endpoint: cosmos.url,
      key: s.cosmos.key,
      databaseId: 'tests',
      containerId,
      createIfMissing: true,
      connectionPolicy: { enableEndpointDiscovery: false },
    });
    const app = await startTestApp({}, { tokenStore });
    try {
      const jar = new CookieJar();
      const partition = await webSignInPartition(app, jar, 'tess@contoso.test');
      const oid = partition.split('.')[0]!;
      const caller = await authority.webApiToken(app, oid);
      const me = () => fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${caller}` } });
      expect((await me()).status).toBe(200);
      expect((await visit(jar, `${app.url}/api/profile`)).status).toBe(200);
      const [item] = await rawItems(containerId);
      expect(item!.ttl).toBeGreaterThan(89 * 86_400);
      const expiry = ((item!._ts as number) + (item!.ttl as number)) * 1000;

      clock = () => expiry - 1;
      expect(await tokenStore.read(partition)).toBeDefined();
      let before = await authority.requests(app.clientId);
      expect((await me()).status).toBe(200);
      expect((await visit(jar, `${app.url}/api/profile`)).status).toBe(200);
      expect((await authority.requests(app.clientId)).token).toBe(before.token);

      clock = () => expiry;
      expect(await tokenStore.read(partition)).toBeUndefined();
      expect(cosmos.standIn.counters().expired).toBe(1);
      // The stand-in deleted the expired item from the server; back on the real clock, a new document written now
      // lives its own lifetime (on the expired one's clock it could expire in the same second it was written).
      clock = () => Date.now();
      // The web app: the session names an account its partition no longer holds — sign in again.
      const profile = await visit(jar, `${app.url}/api/profile`);
      expect(profile.status).toBe(302);
      expect(profile.headers.get('location')).toBe('/api/auth/login');
      // The web API: the same caller's token is exchanged at the authority again, into a new document.
      before = await authority.requests(app.clientId);
      expect((await me()).status).toBe(200);
      expect((await authority.requests(app.clientId)).token).toBe(before.token + 1);
      expect(await tokenStore.read(partition)).toBeDefined();
    } finally {
      await app.close();
      await cosmos.close();
    }
  });
});

/** Every item of a container of the tests' Cosmos database, read from the server directly. */
async function rawItems(containerId: string): Promise<Record<string, unknown>[]> {
  return withRawCosmos(stack().cosmos, 'tests', containerId, async (container) => {
    return (await container.items.readAll().fetchAll()).resources;
  });
}

describe('size', () => {
  it('stays bounded after 1,000 on-behalf-of calls of one user with rotating incoming tokens', async () => {
    const store = newStore('table');
    const app = newApp(store);
    const logger = captureLogger();
    const oid = newId();
    const claims = { oid, tid: app.tenantId };
    const partitionKey = `${oid}.${app.tenantId}`;
    let largest = 0;
    for (let call = 0; call < 1000; call++) {
      const assertion = await authority.mint({
        ...claims,
        sub: oid,
        aud: app.clientId,
        scp: 'access_as_user',
        uti: `${call}`,
      });
      const outcome = await app.tokens.acquireTokenOnBehalfOf({ caller: claims, assertion, scopes: GRAPH }, { logger });
      expect(outcome.result.fromCache).toBe(false);
      largest = Math.max(largest, outcome.stats.bytesWritten);
    }
    const stored = await readStored(store, app.keyRing, partitionKey);
    // msal-node replaces an access token of the same scopes when it saves a new one; the plugin's pruning bounds what
    // merges of concurrent writers could add on top.
    const accessTokens = Object.keys(section(stored, 'AccessToken')).length;
    expect(accessTokens).toBeGreaterThanOrEqual(1);
    expect(accessTokens).toBeLessThanOrEqual(MAX_OBO_TOKENS_PER_TARGET);
    expect(Object.keys(section(stored, 'RefreshToken')).length).toBeLessThanOrEqual(1);
    // A few access tokens, one refresh token, id token and account: a few KB, whatever the number of calls.
    expect(largest).toBeLessThan(16 * 1024);
    expect((await store.read(partitionKey))!.data.byteLength).toBeLessThan(16 * 1024);
  }, 120_000);

  it('a partition over the store limit is reported with its size and the limit; the token is still returned', async () => {
    const app = newApp(createMemoryStore({ maxDocumentBytes: 512 }));
    const logger = captureLogger();
    const oid = newId();
    const assertion = await authority.callerToken(app, oid);
    const outcome = await app.tokens.acquireTokenOnBehalfOf(
      { caller: { oid, tid: app.tenantId }, assertion, scopes: GRAPH },
      { logger },
    );
    expect(outcome.result.accessToken).toBeTruthy();
    expect(outcome.stats).toMatchObject({ writes: 0, failures: 1 });
    const error = logger.lines.find((l) => l.startsWith('error:'));
    expect(error).toMatch(/is \d+ bytes, over the store limit of 512 bytes/);
    expect(error).not.toContain(outcome.result.accessToken);
  });
});
