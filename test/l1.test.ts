import { describe, expect, it } from 'vitest';
import { appPartitionKey, type CacheStore } from '../lib/index.js';
import { authority, captureLogger, newApp, newId, newKeyRing, newStore } from './support/stack.js';
import { countingStore, readStored, section } from './support/stored.js';

const SCOPE_A = ['api://a/.default'];
const SCOPE_B = ['api://b/.default'];

/** The store without its conditional read: how Table storage behaves. */
function withoutConditionalRead(store: CacheStore): CacheStore {
  return {
    kind: store.kind,
    read: (k) => store.read(k),
    write: (k, d, o) => store.write(k, d, o),
    delete: (k, o) => store.delete(k, o),
    list: (o) => store.list(o),
  };
}

describe('L1 tier', () => {
  it('with a conditional read (memory store, as Cosmos): one cheap read, nothing decrypted when unchanged', async () => {
    const store = countingStore(newStore('memory'));
    const app = newApp(store);
    const withL1 = newApp(store, {
      clientId: app.clientId,
      tenantId: app.tenantId,
      keyRing: app.keyRing,
      l1: { maxAgeMs: 60_000 },
    });
    const logger = captureLogger();
    const first = await withL1.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    expect(first.stats).toMatchObject({ reads: 1, writes: 1, l1Hits: 0 });
    store.counts.read = store.counts.write = 0;
    const second = await withL1.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    expect(second.result.fromCache).toBe(true);
    expect(second.stats).toMatchObject({ reads: 1, writes: 0, l1Hits: 1, bytesRead: 0 });
    expect(store.counts).toEqual({ read: 1, write: 0, delete: 0, list: 0 });

    // Another instance (no L1) changes the partition: the conditional read notices and the full document is used.
    await app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_B }, { logger });
    const before = await authority.requests(app.clientId);
    const third = await withL1.tokens.acquireTokenByClientCredential({ scopes: SCOPE_B }, { logger });
    expect(third.result.fromCache).toBe(true);
    expect(third.stats.l1Hits).toBe(0);
    expect(third.stats.bytesRead).toBeGreaterThan(0);
    expect((await authority.requests(app.clientId)).token).toBe(before.token);
  });

  it('without a conditional read (Table): a fresh entry costs no store read at all, a stale one a full read', async () => {
    const store = countingStore(withoutConditionalRead(newStore('table')));
    const app = newApp(store, { l1: { maxAgeMs: 200 } });
    const logger = captureLogger();
    await app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    store.counts.read = store.counts.write = 0;
    const warm = await app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    expect(warm.result.fromCache).toBe(true);
    expect(store.counts).toEqual({ read: 0, write: 0, delete: 0, list: 0 });
    expect(warm.stats.l1Hits).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    const stale = await app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    expect(stale.stats).toMatchObject({ reads: 1, l1Hits: 0 });
    expect(store.counts.read).toBe(1);
  });

  it('a stale entry never overwrites newer tokens: the write conflicts, merges, and the entry is replaced', async () => {
    const store = newStore('table');
    const keyRing = newKeyRing();
    const clientId = newId();
    const tenantId = newId();
    const instanceA = newApp(withoutConditionalRead(store), { clientId, tenantId, keyRing, l1: { maxAgeMs: 60_000 } });
    const instanceB = newApp(store, { clientId, tenantId, keyRing });
    const logger = captureLogger();
    await instanceA.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    await instanceB.tokens.acquireTokenByClientCredential({ scopes: SCOPE_B }, { logger }); // A's L1 entry is now stale
    const third = await instanceA.tokens.acquireTokenByClientCredential({ scopes: ['api://c/.default'] }, { logger });
    expect(third.stats).toMatchObject({ l1Hits: 1, conflicts: 1, writes: 1 });
    const partitionKey = appPartitionKey(clientId, tenantId);
    const targets = Object.values(section(await readStored(store, keyRing, partitionKey), 'AccessToken')).map(
      (e) => e.target as string,
    );
    expect(targets.sort()).toEqual(['api://a/.default', 'api://b/.default', 'api://c/.default']);
    // The merged write replaced A's entry: A's next invocation is served from it without another conflict.
    const fourth = await instanceA.tokens.acquireTokenByClientCredential({ scopes: SCOPE_B }, { logger });
    expect(fourth.result.fromCache).toBe(true);
    expect(fourth.stats).toMatchObject({ l1Hits: 1, conflicts: 0, writes: 0 });
  });

  it('Cosmos conditional read answers the full document when it changed (the emulator never answers 304)', async () => {
    const store = newStore('cosmos');
    await store.write('p.t', Buffer.from('one'));
    const { etag } = (await store.read('p.t'))!;
    expect(await store.readIfChanged!('p.t', etag)).toBe('unchanged');
    await store.write('p.t', Buffer.from('two'), { ifMatch: etag });
    const changed = await store.readIfChanged!('p.t', etag);
    expect(changed !== 'unchanged' && Buffer.from(changed!.data).toString()).toBe('two');
    expect(await store.readIfChanged!('missing.t', etag)).toBeUndefined();
  });
});
