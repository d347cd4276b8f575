import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { startCosmosStandIn } from '../dev/proxy/cosmos-standin.js';
import { startLocalAuthority } from '../dev/authority/server.js';
import {
  PartitionedTokenCache,
  StoreError,
  TOKEN_TELEMETRY_PREFIX,
  appPartitionKey,
  createCosmosStore,
  type CacheStore,
} from '../lib/index.js';
import {
  CLIENT_SECRET,
  authority,
  captureLogger,
  newApp,
  newId,
  newKeyRing,
  newStore,
  stack,
  describeStores,
  type StoreKind,
} from './support/stack.js';
import { signIn } from './support/signin.js';
import {
  countingStore,
  editStored,
  estimateHeldBytes,
  readStored,
  readStoredText,
  section,
  type JsonObject,
} from './support/stored.js';

const SCOPE_A = ['api://a/.default'];
const SCOPE_B = ['api://b/.default'];
const GRAPH = ['https://graph.microsoft.com/User.Read'];

async function tokenRequests(clientId: string): Promise<number> {
  return (await authority.requests(clientId)).token;
}

/** Two instances of one app over one store: `warm` with the warm tier (the default), `other` without it. */
function twoInstances(store: CacheStore, warmTier?: { maxBytes: number }) {
  const ids = { clientId: newId(), tenantId: newId(), keyRing: newKeyRing() };
  return {
    warm: newApp(store, { ...ids, ...(warmTier ? { warmTier } : {}) }),
    other: newApp(store, { ...ids, warmTier: { maxBytes: 0 } }),
  };
}

/** A pass-through store that runs `hook` once, right after the next read of any kind answered. */
function withReadHook(store: CacheStore) {
  let hook: (() => Promise<void>) | undefined;
  const after = async <T>(answer: Promise<T>): Promise<T> => {
    const value = await answer;
    const run = hook;
    hook = undefined;
    await run?.();
    return value;
  };
  const wrapped: CacheStore = {
    kind: store.kind,
    read: (k) => after(store.read(k)),
    write: (k, d, o) => store.write(k, d, o),
    delete: (k, o) => store.delete(k, o),
    list: (o) => store.list(o),
    ...(store.readIfChanged ? { readIfChanged: (k: string, e: string) => after(store.readIfChanged!(k, e)) } : {}),
    ...(store.readVersion ? { readVersion: (k: string) => after(store.readVersion!(k)) } : {}),
  };
  return { store: wrapped, afterNextRead: (run: () => Promise<void>) => (hook = run) };
}

/** A pass-through store whose next write is refused as if the store were unreachable. */
function withRefusedWrite(store: CacheStore) {
  let refuse = false;
  const wrapped: CacheStore = {
    ...store,
    write: (k, d, o) => {
      if (!refuse) return store.write(k, d, o);
      refuse = false;
      return Promise.reject(new StoreError('store_unavailable', 'refused by the test'));
    },
  };
  return { store: wrapped, refuseNextWrite: () => (refuse = true) };
}

async function callerOf(app: { clientId: string; tenantId: string }) {
  const oid = newId();
  return { oid, claims: { oid, tid: app.tenantId }, assertion: await authority.callerToken(app, oid) };
}

describeStores(['memory', 'table', 'cosmos', 'redis'], 'warm tier', (kind: StoreKind) => {
  it('every invocation revalidates: the warm client is reused while the ETag is unchanged, reloaded after another instance wrote', async () => {
    const store = countingStore(newStore(kind));
    const { warm, other } = twoInstances(store);
    const logger = captureLogger();
    const first = await warm.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    expect(first.stats).toMatchObject({ reads: 1, writes: 1, tierHits: 0 });

    store.counts.read = store.counts.write = 0;
    const second = await warm.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    expect(second.result.fromCache).toBe(true);
    expect(second.stats).toMatchObject({ reads: 1, writes: 0, tierHits: 1, bytesRead: 0 });
    expect(store.counts).toEqual({ read: 1, write: 0, delete: 0, list: 0 });

    await other.tokens.acquireTokenByClientCredential({ scopes: SCOPE_B }, { logger });
    const before = await tokenRequests(warm.clientId);
    store.counts.read = 0;
    const third = await warm.tokens.acquireTokenByClientCredential({ scopes: SCOPE_B }, { logger });
    expect(third.result.fromCache).toBe(true); // the other instance's token, from the store
    expect(third.stats).toMatchObject({ tierHits: 0, writes: 0 });
    expect(third.stats.bytesRead).toBeGreaterThan(0);
    // Table and Redis revalidate with the ETag alone, then read the document.
    expect(store.counts.read).toBe(kind === 'table' || kind === 'redis' ? 2 : 1);
    expect(await tokenRequests(warm.clientId)).toBe(before);

    const fourth = await warm.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    expect(fourth.stats).toMatchObject({ tierHits: 1, reads: 1, bytesRead: 0 });
    expect(logger.lines.filter((l) => l.startsWith('warn') || l.startsWith('error'))).toEqual([]);
  });

  it("a warm client's answer served again: each call its own copy and correlation id, and the telemetry line of its stats", async () => {
    const logger = captureLogger();
    const app = newApp(newStore(kind), { logger, telemetry: true });
    const caller = await callerOf(app);
    const obo = () =>
      app.tokens.acquireTokenOnBehalfOf(
        { caller: caller.claims, assertion: caller.assertion, scopes: GRAPH },
        { logger, operation: 'me' },
      );
    await obo();
    const again = [await obo(), await obo(), await obo()];
    for (const outcome of again) expect(outcome.stats).toMatchObject({ reads: 1, tierHits: 1, tierAnswers: 1 });
    const head = `info: ${TOKEN_TELEMETRY_PREFIX} `;
    const lines = logger.lines.filter((l) => l.startsWith(head)).slice(1);
    expect(lines.map((l) => JSON.parse(l.slice(head.length)) as unknown)).toEqual(
      again.map((o) => ({
        op: 'me',
        partition: o.partitionKey,
        fromCache: true,
        saved: true,
        outcome: 'ok',
        ...o.stats,
        storeMs: Math.round(o.stats.storeMs * 100) / 100,
      })),
    );
    expect(new Set(again.map((o) => o.result.correlationId)).size).toBe(again.length);
    const [one, two] = again as [(typeof again)[0], (typeof again)[0]];
    expect(two.result).toEqual({ ...one.result, correlationId: two.result.correlationId });
    expect(two.result).not.toBe(one.result);
    expect(two.result.account).not.toBe(one.result.account);
    expect(two.result.idTokenClaims).not.toBe(one.result.idTokenClaims);
  });

  it('a repeated request is answered by the warm client without MSAL, one read confirming the ETag', async () => {
    const store = countingStore(newStore(kind));
    const { warm } = twoInstances(store);
    const logger = captureLogger();
    const first = await warm.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    store.counts.read = 0;
    for (let i = 0; i < 3; i++) {
      const again = await warm.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
      expect(again.result.accessToken).toBe(first.result.accessToken);
      expect(again.result.fromCache).toBe(true);
      expect(again.result.correlationId).not.toBe(first.result.correlationId);
      expect(again.stats).toMatchObject({ reads: 1, writes: 0, tierHits: 1, tierAnswers: 1 });
    }
    expect(store.counts.read).toBe(3);
    // Another request is not answered by this one's token.
    const other = await warm.tokens.acquireTokenByClientCredential({ scopes: SCOPE_B }, { logger });
    expect(other.stats.tierAnswers).toBe(0);
    expect(other.result.accessToken).not.toBe(first.result.accessToken);
  });

  it('a token another instance removed from the partition is not served by the warm client', async () => {
    const store = newStore(kind);
    const { warm, other } = twoInstances(store);
    const logger = captureLogger();
    await warm.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    // Another instance empties the partition (sign-out, purge) and writes a new document without the token.
    await other.tokens.removePartition(appPartitionKey(other.clientId, other.tenantId));
    await other.tokens.acquireTokenByClientCredential({ scopes: SCOPE_B }, { logger });
    const before = await tokenRequests(warm.clientId);
    const again = await warm.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    expect(again.result.fromCache).toBe(false);
    expect(again.stats.tierHits).toBe(0);
    expect(await tokenRequests(warm.clientId)).toBe(before + 1);
  });

  it('a write conflict merges, and the warm client then holds the merged document', async () => {
    const inner = newStore(kind);
    const hooked = withReadHook(inner);
    const ids = { clientId: newId(), tenantId: newId(), keyRing: newKeyRing() };
    const warm = newApp(hooked.store, ids);
    const other = newApp(inner, { ...ids, warmTier: { maxBytes: 0 } });
    const logger = captureLogger();
    await warm.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    // The other instance writes between the warm client's revalidation and its write.
    hooked.afterNextRead(async () => {
      await other.tokens.acquireTokenByClientCredential({ scopes: SCOPE_B }, { logger });
    });
    const third = await warm.tokens.acquireTokenByClientCredential({ scopes: ['api://c/.default'] }, { logger });
    expect(third.stats).toMatchObject({ tierHits: 1, conflicts: 1, retries: 1, writes: 1 });
    const stored = await readStored(inner, ids.keyRing, appPartitionKey(ids.clientId, ids.tenantId));
    const targets = Object.values(section(stored, 'AccessToken')).map((e) => e.target as string);
    expect(targets.sort()).toEqual(['api://a/.default', 'api://b/.default', 'api://c/.default']);

    const before = await tokenRequests(ids.clientId);
    const fourth = await warm.tokens.acquireTokenByClientCredential({ scopes: SCOPE_B }, { logger });
    expect(fourth.result.fromCache).toBe(true);
    expect(fourth.stats).toMatchObject({ tierHits: 1, conflicts: 0, writes: 0, bytesRead: 0 });
    expect(await tokenRequests(ids.clientId)).toBe(before);
  });
});

describe('warm tier', () => {
  it('Cosmos DB: an unchanged partition is confirmed by a 304 without a body, a changed one read whole', async () => {
    // Emulated: @vercel/cosmosdb-server answers every point read 200 with the item. The stand-in in front of it
    // (dev/proxy/cosmos-standin.ts) answers an If-None-Match point read of an unchanged item 304 without a body,
    // as Azure Cosmos DB documents it; the SDK, the store and the plugin see that answer as from the service.
    const standIn = await startCosmosStandIn({ target: stack().cosmos.endpoint });
    const store = countingStore(
      createCosmosStore({
        endpoint: standIn.url,
        key: stack().cosmos.key,
        databaseId: 'tests',
        containerId: `c${newId().slice(0, 8)}`,
        createIfMissing: true,
        connectionPolicy: { enableEndpointDiscovery: false },
      }),
    );
    try {
      const { warm, other } = twoInstances(store);
      const logger = captureLogger();
      await warm.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
      const notModified = () => standIn.standIn.counters().notModified;
      const second = await warm.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
      expect(second.result.fromCache).toBe(true);
      expect(second.stats).toMatchObject({ reads: 1, tierHits: 1, bytesRead: 0 });
      expect(notModified()).toBe(1);

      await other.tokens.acquireTokenByClientCredential({ scopes: SCOPE_B }, { logger });
      const third = await warm.tokens.acquireTokenByClientCredential({ scopes: SCOPE_B }, { logger });
      expect(third.result.fromCache).toBe(true);
      expect(third.stats).toMatchObject({ reads: 1, tierHits: 0 });
      expect(third.stats.bytesRead).toBeGreaterThan(0);
      expect(notModified()).toBe(1);
    } finally {
      await store.close?.();
      await standIn.close();
    }
  });

  it('silent flow: after a refresh, the warm client serves the refreshed token (MSAL restores its snapshot first)', async () => {
    const store = newStore('memory');
    const app = newApp(store);
    const logger = captureLogger();
    const { partitionKey, result } = await signIn(app, `warm-${newId()}@contoso.test`, GRAPH, logger);
    await editStored(store, app.keyRing, partitionKey, (msal) => ({
      ...msal,
      AccessToken: Object.fromEntries(
        Object.entries(msal.AccessToken as Record<string, JsonObject>).map(([k, at]) => [
          k,
          { ...at, expires_on: '1', extended_expires_on: '1' },
        ]),
      ),
    }));
    const homeAccountId = result.account!.homeAccountId;
    const refreshed = await app.tokens.acquireTokenSilent({ homeAccountId, scopes: GRAPH }, { logger });
    expect(refreshed.result.fromCache).toBe(false);
    const before = await tokenRequests(app.clientId);
    const warm = await app.tokens.acquireTokenSilent({ homeAccountId, scopes: GRAPH }, { logger });
    expect(warm.result.fromCache).toBe(true);
    expect(warm.result.accessToken).toBe(refreshed.result.accessToken);
    expect(warm.stats).toMatchObject({ tierHits: 1, reads: 1, writes: 0 });
    expect(await tokenRequests(app.clientId)).toBe(before);
  });

  it('a refused write: the client is not kept, and the next invocation gets the token the store never got again', async () => {
    const refusing = withRefusedWrite(newStore('memory'));
    const app = newApp(refusing.store);
    const logger = captureLogger();
    await app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    refusing.refuseNextWrite();
    const refused = await app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_B }, { logger });
    expect(refused.stats).toMatchObject({ tierHits: 1, writes: 0, failures: 1 });

    const before = await tokenRequests(app.clientId);
    const next = await app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_B }, { logger });
    expect(next.result.fromCache).toBe(false);
    expect(next.stats).toMatchObject({ tierHits: 0, writes: 1 });
    expect(await tokenRequests(app.clientId)).toBe(before + 1);
  });

  it('concurrent invocations of one partition never share a client: each gets and keeps its own token', async () => {
    const store = newStore('memory');
    const app = newApp(store);
    const logger = captureLogger();
    await app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger }); // a warm client exists
    const scopes = Array.from({ length: 12 }, (_, i) => [`api://concurrent-${i}/.default`]);
    const outcomes = await Promise.all(
      scopes.map((s) => app.tokens.acquireTokenByClientCredential({ scopes: s }, { logger })),
    );
    for (const [i, outcome] of outcomes.entries()) {
      expect(outcome.result.fromCache).toBe(false);
      expect(outcome.result.scopes).toEqual(scopes[i]);
      expect(outcome.stats.writes).toBe(1);
    }
    // The warm client went to one invocation at most; the others loaded the partition themselves.
    expect(outcomes.reduce((hits, o) => hits + o.stats.tierHits, 0)).toBeLessThanOrEqual(1);
    const stored = await readStored(store, app.keyRing, appPartitionKey(app.clientId, app.tenantId));
    const secrets = new Set(Object.values(section(stored, 'AccessToken')).map((e) => e.secret));
    for (const outcome of outcomes) expect(secrets.has(outcome.result.accessToken)).toBe(true);

    const before = await tokenRequests(app.clientId);
    for (const [i, s] of scopes.entries()) {
      const warm = await app.tokens.acquireTokenByClientCredential({ scopes: s }, { logger });
      expect(warm.result.accessToken).toBe(outcomes[i]!.result.accessToken);
    }
    expect(await tokenRequests(app.clientId)).toBe(before);
  });

  it('a call that joins a run in flight reads nothing, and leaves the warm client of the partition in the tier', async () => {
    const counted = countingStore(newStore('memory'));
    const { store, afterNextRead } = withReadHook(counted);
    const app = newApp(store);
    const logger = captureLogger();
    await app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    await app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_B }, { logger });
    // The next revalidating read waits, after it read, until the test lets it go.
    let reachedHold: () => void = () => undefined;
    const reached = new Promise<void>((resolve) => (reachedHold = resolve));
    let release: () => void = () => undefined;
    afterNextRead(() => {
      reachedHold();
      return new Promise<void>((resolve) => (release = resolve));
    });
    const first = app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger }); // takes the warm client
    await reached;
    // Another request of the partition runs meanwhile on a new client, which it leaves in the tier.
    const other = await app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_B }, { logger });
    expect(other.stats.tierHits).toBe(0);
    const readsBefore = counted.counts.read;
    const joining = app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    await new Promise((resolve) => setImmediate(resolve));
    expect(counted.counts.read).toBe(readsBefore);
    release();
    const [a, b] = await Promise.all([first, joining]);
    expect(b.joined).toBe(true);
    expect(b.result.accessToken).toBe(a.result.accessToken);
    // The client the other request left is still there for the next request.
    const next = await app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_B }, { logger });
    expect(next.stats.tierHits).toBe(1);
  });

  it("two devices' on-behalf-of requests are each answered with their own token", async () => {
    const app = newApp(newStore('memory'));
    const logger = captureLogger();
    const oid = newId();
    // Two valid incoming tokens of one person (jti tells them apart when minted in the same second).
    const incoming = () =>
      authority.mint({ oid, sub: oid, tid: app.tenantId, aud: app.clientId, scp: 'access_as_user', jti: newId() });
    const laptop = await incoming();
    const phone = await incoming();
    const caller = { oid, tid: app.tenantId };
    const obo = (assertion: string) =>
      app.tokens.acquireTokenOnBehalfOf({ caller, assertion, scopes: GRAPH }, { logger });
    const tokens = { [laptop]: (await obo(laptop)).result.accessToken, [phone]: (await obo(phone)).result.accessToken };
    expect(tokens[laptop]).not.toBe(tokens[phone]);
    const before = await tokenRequests(app.clientId);
    let answered = 0;
    for (let i = 0; i < 4; i++) {
      for (const assertion of [laptop, phone]) {
        const outcome = await obo(assertion);
        expect(outcome.result.accessToken).toBe(tokens[assertion]);
        answered += outcome.stats.tierAnswers;
      }
    }
    expect(await tokenRequests(app.clientId)).toBe(before);
    // The first of each after the other device's write goes through MSAL (its view of the new document); then answered.
    expect(answered).toBeGreaterThanOrEqual(6);
  });

  it("an incoming token a warm client served: still refused for another caller, never matched by a near copy, counted in the tier's bytes", async () => {
    const store = newStore('memory');
    const app = newApp(store);
    const logger = captureLogger();
    const [a, b] = [await callerOf(app), await callerOf(app)];
    const obo = (caller: { oid: string; tid: string }, assertion: string) =>
      app.tokens.acquireTokenOnBehalfOf({ caller, assertion, scopes: GRAPH }, { logger });
    const first = await obo(a.claims, a.assertion);
    const text = await readStoredText(store, app.keyRing, first.partitionKey);
    expect(app.tokens.warmTierUsage.bytes).toBeGreaterThanOrEqual(estimateHeldBytes(text.length) + a.assertion.length);
    await obo(b.claims, b.assertion);
    expect((await obo(a.claims, a.assertion)).stats.tierAnswers).toBe(1);

    // a's token presented with b as its caller: b's warm client never served it, a's is not b's.
    await expect(obo(b.claims, a.assertion)).rejects.toMatchObject({ code: 'invalid_options' });
    // A copy of a's token one character apart (same length, same claims) is another incoming token.
    const last = a.assertion.at(-1) === 'A' ? 'B' : 'A';
    const nearCopy = `${a.assertion.slice(0, -1)}${last}`;
    const answer = await obo(a.claims, nearCopy).then(
      (outcome) => outcome.result.accessToken,
      (error: unknown) => error,
    );
    expect(answer).not.toBe(first.result.accessToken);
  });

  it('a store whose reads throw instead of rejecting: the call still gets its token, the failure counted and logged', async () => {
    const inner = newStore('memory');
    let broken = false;
    const fail = (): never => {
      throw new StoreError('store_unavailable', 'thrown by the test');
    };
    const store: CacheStore = {
      ...inner,
      read: (k) => (broken ? fail() : inner.read(k)),
      readVersion: (k) => (broken ? fail() : inner.readVersion!(k)),
    };
    const app = newApp(store);
    const logger = captureLogger();
    await app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    broken = true;
    // The warm client's revalidation throws, then a new client's first read (a failed invocation's client is not kept).
    for (let i = 0; i < 2; i++) {
      const outcome = await app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
      expect(outcome.result.accessToken).toBeTruthy();
      expect(outcome.stats).toMatchObject({ failures: 1, tierHits: 0, tierAnswers: 0 });
    }
    expect(logger.lines.filter((l) => l.includes('thrown by the test'))).toHaveLength(2);
  });

  it("a token inside MSAL's renewal window (5 minutes) is never answered again: MSAL renews it", async () => {
    const shortLived = await startLocalAuthority({ accessTokenLifetimeSeconds: 240 });
    try {
      const tokens = new PartitionedTokenCache({
        auth: { clientId: newId(), tenantId: newId(), authorityHost: shortLived.url, clientSecret: CLIENT_SECRET },
        cache: { store: newStore('memory'), keyRing: newKeyRing() },
        system: { ca: shortLived.ca, logger: captureLogger(), telemetry: false },
      });
      const outcomes = [];
      for (let i = 0; i < 3; i++) outcomes.push(await tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }));
      for (const outcome of outcomes) {
        expect(outcome.result.fromCache).toBe(false);
        expect(outcome.stats.tierAnswers).toBe(0);
      }
      await tokens.close();
    } finally {
      await shortLived.close();
    }
  });

  it('many partitions at once: a warm client serves only its own partition', async () => {
    const store = newStore('memory');
    const app = newApp(store);
    const logger = captureLogger();
    const callers = await Promise.all(Array.from({ length: 15 }, () => callerOf(app)));
    let hits = 0;
    for (let round = 0; round < 3; round++) {
      const outcomes = await Promise.all(
        callers.map((c) =>
          app.tokens.acquireTokenOnBehalfOf({ caller: c.claims, assertion: c.assertion, scopes: GRAPH }, { logger }),
        ),
      );
      for (const [i, outcome] of outcomes.entries()) {
        expect(outcome.partitionKey).toBe(`${callers[i]!.oid}.${app.tenantId}`);
        expect(decodeJwt(outcome.result.accessToken).oid).toBe(callers[i]!.oid);
        hits += outcome.stats.tierHits;
      }
    }
    expect(hits).toBe(2 * callers.length);
    for (const c of callers) {
      const partitionKey = `${c.oid}.${app.tenantId}`;
      const stored = await readStored(store, app.keyRing, partitionKey);
      const homeIds = ['Account', 'AccessToken', 'RefreshToken', 'IdToken'].flatMap((name) =>
        Object.values(section(stored, name)).map((e) => e.home_account_id),
      );
      expect(new Set(homeIds)).toEqual(new Set([partitionKey]));
      for (const at of Object.values(section(stored, 'AccessToken')))
        expect(decodeJwt(at.secret as string).oid).toBe(c.oid);
    }
  });

  it('holds partitions up to its bound in bytes, evicting the least recently used', async () => {
    const store = newStore('memory');
    const probe = newApp(store);
    const logger = captureLogger();
    const [u1, u2] = [await callerOf(probe), await callerOf(probe)];
    const obo = (app: typeof probe, c: typeof u1) =>
      app.tokens.acquireTokenOnBehalfOf({ caller: c.claims, assertion: c.assertion, scopes: GRAPH }, { logger });
    await obo(probe, u1);
    await obo(probe, u2);
    // Room for one of the two partitions, not for both.
    const held = (c: typeof u1) => readStoredText(store, probe.keyRing, `${c.oid}.${probe.tenantId}`);
    const one = Math.max(estimateHeldBytes((await held(u1)).length), estimateHeldBytes((await held(u2)).length));
    const ids = { clientId: probe.clientId, tenantId: probe.tenantId, keyRing: probe.keyRing };
    const app = newApp(store, { ...ids, warmTier: { maxBytes: Math.floor(one * 1.5) } });
    await obo(app, u1);
    await obo(app, u2); // u1 evicted
    expect((await obo(app, u2)).stats.tierHits).toBe(1);
    const u1Again = await obo(app, u1);
    expect(u1Again.stats.tierHits).toBe(0);
    expect(u1Again.stats.bytesRead).toBeGreaterThan(0);

    const tiny = newApp(store, { ...ids, warmTier: { maxBytes: Math.floor(one / 2) } });
    await obo(tiny, u1);
    expect((await obo(tiny, u1)).stats.tierHits).toBe(0);
  });

  it('off (maxBytes 0): every invocation opens the document with a new client', async () => {
    const store = newStore('memory');
    const app = newApp(store, { warmTier: { maxBytes: 0 } });
    const logger = captureLogger();
    await app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    const again = await app.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A }, { logger });
    expect(again.result.fromCache).toBe(true);
    expect(again.stats.tierHits).toBe(0);
    expect(again.stats.bytesRead).toBeGreaterThan(0);
  });

  it('removing a partition: the warm client no longer serves its tokens', async () => {
    const store = newStore('memory');
    const app = newApp(store);
    const logger = captureLogger();
    const caller = await callerOf(app);
    const obo = () =>
      app.tokens.acquireTokenOnBehalfOf(
        { caller: caller.claims, assertion: caller.assertion, scopes: GRAPH },
        { logger },
      );
    await obo();
    expect((await obo()).stats.tierHits).toBe(1);
    expect(await app.tokens.removePartition(`${caller.oid}.${app.tenantId}`)).toBe(true);
    const before = await tokenRequests(app.clientId);
    const after = await obo();
    expect(after.result.fromCache).toBe(false);
    expect(await tokenRequests(app.clientId)).toBe(before + 1);
  });
});

describe("the warm client's kept answers", () => {
  it("are counted in the tier's bytes, at least the tokens they hold", async () => {
    const store = newStore('memory');
    const { warm } = twoInstances(store);
    const call = (scopes: string[]) => warm.tokens.acquireTokenByClientCredential({ scopes });
    const tokensOf = (outcome: Awaited<ReturnType<typeof call>>) =>
      outcome.result.accessToken.length + outcome.result.idToken.length;
    const a = await call(SCOPE_A);
    const held = async () => estimateHeldBytes((await readStoredText(store, warm.keyRing, a.partitionKey)).length);
    expect(warm.tokens.warmTierUsage.bytes).toBeGreaterThanOrEqual((await held()) + tokensOf(a));
    const b = await call(SCOPE_B); // a write: the answers kept for the older document are dropped
    expect((await call(SCOPE_A)).stats.tierAnswers).toBe(0);
    expect((await call(SCOPE_B)).stats.tierAnswers).toBe(1);
    expect(warm.tokens.warmTierUsage.bytes).toBeGreaterThanOrEqual((await held()) + tokensOf(a) + tokensOf(b));
  });

  it('are made in an immediate while the store answers only over a store that sends its reads in one', async () => {
    const immediates = () => process.getActiveResourcesInfo().filter((name) => name === 'Immediate').length;
    for (const sendsInImmediate of [false, true]) {
      const store = newStore('memory');
      const { warm } = twoInstances(sendsInImmediate ? { ...store, sendsInImmediate } : store);
      const call = () => warm.tokens.acquireTokenByClientCredential({ scopes: SCOPE_A });
      await call();
      const before = immediates();
      const answering = call();
      const set = immediates() - before;
      expect((await answering).stats.tierAnswers).toBe(1);
      expect(set, `sendsInImmediate: ${sendsInImmediate}`).toBe(sendsInImmediate ? 1 : 0);
      expect(immediates()).toBe(before);
    }
  });

  it('an answer served again is the caller’s own: what one call changes in its result, the next call does not get', async () => {
    const { warm } = twoInstances(newStore('memory'));
    const caller = await callerOf(warm);
    const call = () =>
      warm.tokens.acquireTokenOnBehalfOf({ caller: caller.claims, assertion: caller.assertion, scopes: SCOPE_A });
    const first = await call();
    const token = first.result.accessToken;
    const expiresAt = first.result.expiresOn!.getTime();
    const scopes = [...first.result.scopes];
    const profiles = first.result.account?.tenantProfiles?.size;
    expect(profiles).toBeGreaterThan(0);
    const change = (result: typeof first.result) => {
      for (const profile of result.account!.tenantProfiles!.values()) profile.name = 'changed';
      result.account!.tenantProfiles!.clear();
      result.account!.name = 'changed';
      result.accessToken = '[redacted]';
      result.scopes.push('changed');
      result.expiresOn!.setTime(0);
      (result.idTokenClaims as Record<string, unknown>).changed = true;
    };
    change(first.result);
    for (let i = 0; i < 2; i++) {
      const again = await call();
      expect(again.stats.tierAnswers).toBe(1);
      expect(again.result.accessToken).toBe(token);
      expect(again.result.scopes).toEqual(scopes);
      expect(again.result.expiresOn!.getTime()).toBe(expiresAt);
      expect(again.result.idTokenClaims).not.toHaveProperty('changed');
      expect(again.result.account!.tenantProfiles!.size).toBe(profiles);
      expect(again.result.account!.name).not.toBe('changed');
      expect([...again.result.account!.tenantProfiles!.values()].map((p) => p.name)).not.toContain('changed');
      change(again.result);
    }
  });
});
