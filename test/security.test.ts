import { randomBytes } from 'node:crypto';
import { RESP_TYPES } from 'redis';
import { describe, expect, it } from 'vitest';
import { appPartitionKey, createKeyRing } from '../lib/index.js';
import { newCacheKey } from './support/log-audit.js';
import { signIn } from './support/signin.js';
import {
  authority,
  captureLogger,
  describeStores,
  newApp,
  newId,
  newStore,
  stack,
  type StoreKind,
  type TestApp,
} from './support/stack.js';
import { readStored, seal, sealedWith } from './support/stored.js';
import { rawTable, withRawCosmos, withRawRedis } from './support/raw-sdk.js';

const GRAPH = ['https://graph.microsoft.com/User.Read'];

/** Every `secret` (access, refresh and id tokens) of a stored document, opened with the key. */
function secretsOf(doc: Awaited<ReturnType<typeof readStored>>): string[] {
  return Object.values(doc?.msal ?? {}).flatMap((section) =>
    Object.values((section ?? {}) as Record<string, { secret?: unknown }>)
      .map((e) => e.secret)
      .filter((s): s is string => typeof s === 'string'),
  );
}

/** What the store holds, read with the SDK or client directly: every property of every item/entity/key as text. */
async function rawStoreDump(kind: StoreKind, suffix: string): Promise<string> {
  const s = stack();
  if (kind === 'redis') {
    // Every key under the store's prefix (newStore: `r{suffix}:`, in the hash tag `{r{suffix}:}`), bytes as bytes.
    return withRawRedis(s.redis!.url, async (raw) => {
      const client = raw.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
      const parts: string[] = [];
      for (const key of await client.keys(`{r${suffix}:}*`)) {
        const type = String(await client.type(key));
        const values: Buffer[] =
          type === 'hash'
            ? Object.values(await client.hGetAll(key))
            : type === 'zset'
              ? await client.zRange(key, 0, -1)
              : [Buffer.from(`(${type})`)];
        for (const value of values) parts.push(value.toString('latin1'), value.toString('base64'));
      }
      expect(parts.length).toBeGreaterThan(0);
      return parts.join('\n');
    });
  }
  if (kind === 'cosmos') {
    const { resources } = await withRawCosmos(s.cosmos, 'tests', `c${suffix}`, (container) =>
      container.items.readAll().fetchAll(),
    );
    expect(resources.length).toBeGreaterThan(0);
    return resources
      .map((item) => `${JSON.stringify(item)}\n${Buffer.from(String(item.data), 'base64').toString('latin1')}`)
      .join('\n');
  }
  if (kind === 'memory') throw new Error('a memory store keeps nothing outside the process');
  const table = rawTable(s.table, `t${suffix}`);
  const parts: string[] = [];
  for await (const entity of table.listEntities()) {
    for (const value of Object.values(entity)) {
      parts.push(value instanceof Uint8Array ? Buffer.from(value).toString('latin1') : JSON.stringify(value));
      if (value instanceof Uint8Array) parts.push(Buffer.from(value).toString('base64'));
    }
  }
  expect(parts.length).toBeGreaterThan(0);
  return parts.join('\n');
}

describeStores(['cosmos', 'table', 'redis'], 'encryption at rest', (kind) => {
  it('stores no access, refresh or id token text, in any form', async () => {
    const suffix = randomBytes(6).toString('hex');
    const store = newStore(kind, suffix);
    const app = newApp(store);
    const logger = captureLogger();
    const { partitionKey } = await signIn(app, `ivy-${newId()}@contoso.test`, GRAPH, logger);
    const oid = newId();
    const assertion = await authority.callerToken(app, oid);
    const obo = await app.tokens.acquireTokenOnBehalfOf(
      { caller: { oid, tid: app.tenantId }, assertion, scopes: GRAPH },
      { logger },
    );
    await app.tokens.acquireTokenByClientCredential({ scopes: ['api://downstream/.default'] }, { logger });

    const secrets = [
      ...secretsOf(await readStored(store, app.keyRing, partitionKey)),
      ...secretsOf(await readStored(store, app.keyRing, obo.partitionKey)),
      ...secretsOf(await readStored(store, app.keyRing, appPartitionKey(app.clientId, app.tenantId))),
    ];
    // Sign-in: access + refresh + id token; OBO: access + refresh + id token; app: access token.
    expect(secrets.length).toBeGreaterThanOrEqual(7);
    const raw = await rawStoreDump(kind, suffix);
    for (const secret of secrets) {
      const parts = secret.split('.');
      const needle = parts.length === 3 ? parts[2]! : secret; // a JWT's signature, or an opaque token (Entra's: "0.A…")
      expect(needle.length).toBeGreaterThan(16);
      expect(raw.includes(needle)).toBe(false);
      expect(raw.includes(Buffer.from(needle).toString('base64').slice(4, 40))).toBe(false);
    }
  });
});

/**
 * An instance whose user's partition holds `damage(what it wrote)`, and the same user's next on-behalf-of call there,
 * which must return a token from the identity provider whatever the damage.
 */
async function callOverDamagedPartition(kind: StoreKind, damage: (sealed: Buffer, app: TestApp) => Buffer) {
  const store = newStore(kind);
  const app = newApp(store);
  const logger = captureLogger();
  const oid = newId();
  const claims = { oid, tid: app.tenantId };
  const assertion = await authority.callerToken(app, oid);
  const first = await app.tokens.acquireTokenOnBehalfOf({ caller: claims, assertion, scopes: GRAPH }, { logger });
  const stored = (await store.read(first.partitionKey))!;
  const damaged = damage(Buffer.from(stored.data), app);
  const etag = await store.write(first.partitionKey, damaged, { ifMatch: stored.etag });

  const before = await authority.requests(app.clientId);
  const second = await app.tokens.acquireTokenOnBehalfOf({ caller: claims, assertion, scopes: GRAPH }, { logger });
  expect(second.result.accessToken).toBeTruthy();
  expect(second.result.fromCache).toBe(false);
  expect((await authority.requests(app.clientId)).token).toBe(before.token + 1);
  return { app, store, logger, assertion, partitionKey: first.partitionKey, damaged, etag, second };
}

describeStores(['cosmos', 'table', 'redis'], 'damaged or foreign documents', (kind) => {
  const cases: [string, (sealed: Buffer, app: TestApp) => Buffer][] = [
    [
      'a document moved from another partition',
      (_sealed, app) => seal(app.keyRing, `${newId()}.${app.tenantId}`, Buffer.from('{"msal":{},"updated":{}}')),
    ],
    ['a flipped byte', (sealed) => Buffer.from(sealed.map((b, i) => (i === sealed.length - 30 ? b ^ 0x40 : b)))],
    ['a truncated document', (sealed) => sealed.subarray(0, sealed.length - 40)],
  ];
  it.each(cases)(
    '%s: empty cache, a warning, the invocation succeeds, the document is overwritten',
    async (_name, damage) => {
      const { app, store, logger, assertion, partitionKey, second } = await callOverDamagedPartition(kind, damage);
      expect(second.stats).toMatchObject({ discarded: true, writes: 1 });
      const warning = logger.lines.find((l) => l.includes('unusable and will be replaced'));
      expect(warning).toMatch(/^warn: .*TokenCacheError \[bad_envelope\]/);
      expect(warning).not.toContain(assertion);
      const reopened = (await store.read(partitionKey))!;
      expect(sealedWith(app.keyRing, partitionKey, reopened.data)).toBe('k1');
    },
  );

  // Written by an instance with a newer key ring or library: not ours to replace (rolling rotations, upgrades).
  const foreign: [string, (sealed: Buffer) => Buffer, RegExp][] = [
    [
      'a key id not in the ring',
      (sealed) => seal(createKeyRing([newCacheKey('zz')]), 'ignored', sealed),
      /key_not_in_ring.*key "zz"/,
    ],
    [
      'an unknown format version',
      (sealed) => Buffer.from(sealed.map((b, i) => (i === 3 ? 7 : b))),
      /unknown_format_version.*version 7/,
    ],
  ];
  it.each(foreign)(
    '%s: served from the identity provider, an error naming it, the document left as it is',
    async (_name, damage, named) => {
      const { store, logger, assertion, partitionKey, damaged, etag, second } = await callOverDamagedPartition(
        kind,
        damage,
      );
      expect(second.stats).toMatchObject({ foreign: true, discarded: false, writes: 0 });
      expect(second.saved).toBe(false);
      const error = logger.lines.find((l) => l.startsWith('error:') && l.includes(partitionKey));
      expect(error).toMatch(named);
      expect(error).not.toContain(assertion);
      const after = (await store.read(partitionKey))!;
      expect(after.etag).toBe(etag);
      expect(Buffer.from(after.data).equals(damaged)).toBe(true);
    },
  );
});

describe('key rotation', () => {
  it('reads under an older key, rewrites under the current one, and the new key alone reads it afterwards', async () => {
    const store = newStore('table');
    const keyA = newCacheKey('a');
    const keyB = newCacheKey('b');
    const clientId = newId();
    const tenantId = newId();
    const logger = captureLogger();
    const partitionKey = appPartitionKey(clientId, tenantId);
    const underA = newApp(store, { clientId, tenantId, keyRing: createKeyRing([keyA]) });
    const first = await underA.tokens.acquireTokenByClientCredential(
      { scopes: ['api://downstream/.default'] },
      { logger },
    );
    expect(sealedWith(createKeyRing([keyA]), partitionKey, (await store.read(partitionKey))!.data)).toBe('a');

    const before = await authority.requests(clientId);
    const rotated = newApp(store, { clientId, tenantId, keyRing: createKeyRing([keyB, keyA]) });
    const second = await rotated.tokens.acquireTokenByClientCredential(
      { scopes: ['api://downstream/.default'] },
      { logger },
    );
    expect(second.result.fromCache).toBe(true);
    expect(second.result.accessToken).toBe(first.result.accessToken);
    expect((await authority.requests(clientId)).token).toBe(before.token);
    expect(second.stats).toMatchObject({ reads: 1, writes: 1 });
    expect(sealedWith(createKeyRing([keyB]), partitionKey, (await store.read(partitionKey))!.data)).toBe('b');

    const onlyB = newApp(store, { clientId, tenantId, keyRing: createKeyRing([keyB]) });
    const third = await onlyB.tokens.acquireTokenByClientCredential(
      { scopes: ['api://downstream/.default'] },
      { logger },
    );
    expect(third.result.fromCache).toBe(true);
    expect(third.stats).toMatchObject({ reads: 1, writes: 0, discarded: false });
    expect((await authority.requests(clientId)).token).toBe(before.token);
  });
});
