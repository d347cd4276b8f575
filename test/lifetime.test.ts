import { CosmosClient } from '@azure/cosmos';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_OBO_TOKENS_PER_TARGET, createMemoryStore, sweepExpired } from '../lib/index.js';
import { authority, captureLogger, newApp, newId, newStore, stack } from './support/stack.js';
import { readStored, section } from './support/stored.js';

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

  it('the sweeper leaves a document that was rewritten after it was listed', async () => {
    const store = newStore('table');
    await store.write('comeback.t', Buffer.from('old'), { expiresAt: new Date(Date.now() - 1000) });
    const listed = (await store.list({ expiredBefore: new Date() })).entries[0]!;
    await store.write('comeback.t', Buffer.from('new'), {
      ifMatch: listed.etag,
      expiresAt: new Date(Date.now() + 60_000),
    });
    // What a sweeper that listed before the rewrite does: a conditional delete with the listed ETag.
    await expect(store.delete('comeback.t', { ifMatch: listed.etag })).rejects.toThrow(/changed|conflict/i);
    expect(await store.read('comeback.t')).toBeDefined();
  });

  it('Cosmos documents carry a ttl matching the configured lifetime', async () => {
    const suffix = randomBytes(6).toString('hex');
    const store = newStore('cosmos', suffix);
    const app = newApp(store);
    const oid = newId();
    const assertion = await authority.callerToken(app, oid);
    await app.tokens.acquireTokenOnBehalfOf(
      { caller: { oid, tid: app.tenantId }, assertion, scopes: GRAPH },
      { logger: captureLogger() },
    );
    const s = stack();
    const client = new CosmosClient({
      endpoint: s.cosmos.endpoint,
      key: s.cosmos.key,
      connectionPolicy: { enableEndpointDiscovery: false },
    });
    const { resources } = await client.database('tests').container(`c${suffix}`).items.readAll().fetchAll();
    client.dispose();
    expect(resources).toHaveLength(1);
    const ninetyDays = 90 * 86_400;
    // Within a minute: the plugin's clock (performance.timeOrigin + now(), monotonic) drifts from Date.now().
    expect(resources[0]!.ttl).toBeGreaterThan(ninetyDays - 60);
    expect(resources[0]!.ttl).toBeLessThanOrEqual(ninetyDays + 60);
    expect(Date.parse(resources[0]!.expiresAt as string)).toBeGreaterThan(Date.now() + (ninetyDays - 60) * 1000);
  });
});

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
