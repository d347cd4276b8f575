/**
 * A record malformed at the store level (a field missing or of the wrong type: not a document that fails to open) is
 * logged, treated as empty and replaced by the invocation's conditional write, like an undecryptable document.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { StoreCorruptError, appPartitionKey, type CacheStore } from '../lib/index.js';
import { authority, captureLogger, describeStores, newApp, newStore, stack, type StoreKind } from './support/stack.js';
import { readStored } from './support/stored.js';
import { rawTable, withRawCosmos, withRawRedis } from './support/raw-sdk.js';

const SCOPES = ['api://corrupt/.default'];

/**
 * Breaks the stored record of `partitionKey` in the store named by `suffix` (see newStore), through the store's SDK.
 * An app partition key (letters, digits, dashes and a dot) is its own Cosmos id and Table partition key.
 */
async function breakRecord(kind: StoreKind, suffix: string, partitionKey: string): Promise<void> {
  const s = stack();
  switch (kind) {
    case 'redis':
      await withRawRedis(s.redis!.url, async (client) => {
        expect(await client.hDel(`{r${suffix}:}d:${partitionKey}`, 'data')).toBe(1);
      });
      return;
    case 'cosmos':
      await withRawCosmos(s.cosmos, 'tests', `c${suffix}`, async (container) => {
        const item = container.item(partitionKey, partitionKey);
        const { resource } = await item.read<Record<string, unknown>>();
        expect(resource?.data).toBeTypeOf('string');
        await item.replace({ ...resource!, data: 17 });
      });
      return;
    case 'table': {
      const table = rawTable(s.table, `t${suffix}`);
      const entityKey = { partitionKey, rowKey: 'cache' };
      expect((await table.getEntity(entityKey.partitionKey, entityKey.rowKey)).chunks).toBeTypeOf('number');
      await table.updateEntity({ ...entityKey, chunks: 'many' }, 'Merge');
      return;
    }
    case 'memory':
      throw new Error('the memory store holds no store-level record to break');
  }
}

describeStores(['table', 'cosmos', 'redis'], 'a record malformed at the store level', (kind) => {
  it('is logged, treated as empty and replaced by the next write; the call after that is answered from the cache', async () => {
    const suffix = randomBytes(6).toString('hex');
    const store = newStore(kind, suffix);
    const logger = captureLogger();
    // Tier off: every call reads the record itself.
    const app = newApp(store, { logger, warmTier: { maxBytes: 0 } });
    const partitionKey = appPartitionKey(app.clientId, app.tenantId);
    await app.tokens.acquireTokenByClientCredential({ scopes: SCOPES });
    await breakRecord(kind, suffix, partitionKey);
    const requestsBefore = (await authority.requests(app.clientId)).token;

    const served = await app.tokens.acquireTokenByClientCredential({ scopes: SCOPES });
    expect(served.result.fromCache).toBe(false);
    expect(served.stats).toMatchObject({ discarded: true, writes: 1, failures: 0 });
    expect(served.saved).toBe(true);
    expect(logger.lines.filter((line) => line.includes('is unusable and will be replaced'))).toHaveLength(1);
    expect(await readStored(store, app.keyRing, partitionKey)).toBeDefined();

    const again = await app.tokens.acquireTokenByClientCredential({ scopes: SCOPES });
    expect(again.result.fromCache).toBe(true);
    expect(again.result.accessToken).toBe(served.result.accessToken);
    expect((await authority.requests(app.clientId)).token).toBe(requestsBefore + 1);
    await store.close?.();
  });
});

describe('a record malformed at the store level, reported without its ETag', () => {
  it('is left as it is: the call is served by the identity provider, the failure logged, nothing written', async () => {
    const inner = newStore('memory');
    let malformed = false;
    // What a store throws for a reply it cannot place (e.g. Redis answering with an unexpected type): no ETag to
    // make a replacing write conditional on.
    const refuse = (): Promise<never> =>
      Promise.reject(new StoreCorruptError('the store answered with an unexpected reply (test)', undefined));
    const store: CacheStore = {
      ...inner,
      read: (key) => (malformed ? refuse() : inner.read(key)),
      readVersion: (key) => (malformed ? refuse() : inner.readVersion!(key)),
      readIfChanged: (key, etag) => (malformed ? refuse() : inner.readIfChanged!(key, etag)),
    };
    const logger = captureLogger();
    const app = newApp(store, { logger, warmTier: { maxBytes: 0 } });
    const partitionKey = appPartitionKey(app.clientId, app.tenantId);
    await app.tokens.acquireTokenByClientCredential({ scopes: SCOPES });
    const stored = await inner.read(partitionKey);
    const requestsBefore = (await authority.requests(app.clientId)).token;

    malformed = true;
    const served = await app.tokens.acquireTokenByClientCredential({ scopes: SCOPES });
    expect(served.result.accessToken).toBeTruthy();
    expect(served.result.fromCache).toBe(false);
    expect(served.stats).toMatchObject({ writes: 0, failures: 1 });
    expect(served.stats.discarded).toBeFalsy();
    expect((await authority.requests(app.clientId)).token).toBe(requestsBefore + 1);
    expect((await inner.read(partitionKey))!.etag).toBe(stored!.etag);
    expect(logger.lines.filter((line) => line.includes('unexpected reply (test)'))).toHaveLength(1);
  });
});
