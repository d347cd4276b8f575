import { decodeJwt } from 'jose';
import { expect, it } from 'vitest';
import { httpsRequest, trustingAgent } from '../dev/https-trust.js';
import { appPartitionKey, createKeyRing } from '../lib/index.js';
import { holdFirstRead } from './support/gate.js';
import { newCacheKey } from './support/log-audit.js';
import { signIn } from './support/signin.js';
import {
  CLIENT_SECRET,
  authority,
  captureLogger,
  describeStores,
  newApp,
  newId,
  newStore,
  stack,
  type TestApp,
} from './support/stack.js';
import { countingStore, editStored, readStored, section, writeStored, type JsonObject } from './support/stored.js';

const GRAPH = ['https://graph.microsoft.com/User.Read'];
const APP_SCOPE = ['api://downstream/.default'];

/** A refresh token redemption at the authority's token endpoint, as a client of `app` would make it. */
function redeemRefreshToken(app: TestApp, refreshToken: string) {
  const { url, ca } = stack().authority;
  return httpsRequest(trustingAgent(ca), `${url}/${app.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: app.clientId,
      client_secret: CLIENT_SECRET,
      refresh_token: refreshToken,
      scope: `${GRAPH.join(' ')} offline_access`,
    }).toString(),
  });
}

async function tokenRequests(clientId: string): Promise<number> {
  return (await authority.requests(clientId)).token;
}

describeStores(['cosmos', 'table', 'redis', 'memory'], 'token cache', (kind) => {
  it('client credentials: a second invocation with a new client is served from the store: 1 read, 0 writes, 0 authority requests', async () => {
    const store = countingStore(newStore(kind));
    const app = newApp(store, { warmTier: { maxBytes: 0 } }); // no warm client: each invocation builds its own
    const logger = captureLogger();
    const first = await app.tokens.acquireTokenByClientCredential({ scopes: APP_SCOPE }, { logger });
    expect(first.result.fromCache).toBe(false);
    expect(first.stats).toMatchObject({ reads: 1, writes: 1, conflicts: 0 });
    expect(store.counts).toEqual({ read: 1, write: 1, delete: 0, list: 0 });

    const before = await tokenRequests(app.clientId);
    store.counts.read = store.counts.write = 0;
    const second = await app.tokens.acquireTokenByClientCredential({ scopes: APP_SCOPE }, { logger });
    expect(second.result.fromCache).toBe(true);
    expect(second.result.accessToken).toBe(first.result.accessToken);
    expect(store.counts).toEqual({ read: 1, write: 0, delete: 0, list: 0 });
    expect(second.stats).toMatchObject({ reads: 1, writes: 0, tierHits: 0 });
    expect(second.stats.bytesRead).toBeGreaterThan(0);
    expect(await tokenRequests(app.clientId)).toBe(before);
    expect(first.partitionKey).toBe(appPartitionKey(app.clientId, app.tenantId));
    expect(logger.lines.filter((l) => l.startsWith('warn') || l.startsWith('error'))).toEqual([]);
  });

  it('on-behalf-of: 1 authority request and 1 write, then from cache with the same assertion and a new client', async () => {
    const store = countingStore(newStore(kind));
    const app = newApp(store, { warmTier: { maxBytes: 0 } }); // no warm client: each invocation builds its own
    const logger = captureLogger();
    const oid = newId();
    const claims = { oid, tid: app.tenantId };
    const assertion = await authority.mint({
      ...claims,
      sub: oid,
      aud: app.clientId,
      scp: 'access_as_user',
      azp: newId(),
    });

    const before = await tokenRequests(app.clientId);
    const first = await app.tokens.acquireTokenOnBehalfOf({ caller: claims, assertion, scopes: GRAPH }, { logger });
    expect(first.result.fromCache).toBe(false);
    expect(await tokenRequests(app.clientId)).toBe(before + 1);
    expect(store.counts).toEqual({ read: 1, write: 1, delete: 0, list: 0 });
    expect(first.partitionKey).toBe(`${oid}.${app.tenantId}`);

    store.counts.read = store.counts.write = 0;
    const second = await app.tokens.acquireTokenOnBehalfOf({ caller: claims, assertion, scopes: GRAPH }, { logger });
    expect(second.result.fromCache).toBe(true);
    expect(second.result.accessToken).toBe(first.result.accessToken);
    expect(await tokenRequests(app.clientId)).toBe(before + 1);
    expect(store.counts).toEqual({ read: 1, write: 0, delete: 0, list: 0 });
    expect(second.stats.tierHits).toBe(0);
  });

  it('auth code, then silent with an expired access token: refreshed and written back with the rotated refresh token', async () => {
    const store = newStore(kind);
    const app = newApp(store);
    const logger = captureLogger();
    const { result, partitionKey } = await signIn(app, `alice-${newId()}@contoso.test`, GRAPH, logger);
    const oid = partitionKey.split('.')[0]!;
    const issuedAtSignIn = await authority.refreshTokens(app.clientId, oid);
    expect(issuedAtSignIn).toHaveLength(1);
    expect(
      Object.values(section(await readStored(store, app.keyRing, partitionKey), 'RefreshToken')).map((e) => e.secret),
    ).toEqual([issuedAtSignIn[0]!.token]);

    const past = String(Math.floor(Date.now() / 1000) - 60);
    await editStored(store, app.keyRing, partitionKey, (msal) => ({
      ...msal,
      AccessToken: Object.fromEntries(
        Object.entries(msal.AccessToken as Record<string, JsonObject>).map(([k, at]) => [
          k,
          { ...at, expires_on: past, extended_expires_on: past },
        ]),
      ),
    }));

    const before = await authority.requests(app.clientId);
    const silent = await app.tokens.acquireTokenSilent(
      { homeAccountId: result.account!.homeAccountId, scopes: GRAPH },
      { logger },
    );
    expect(silent.result.fromCache).toBe(false);
    expect(silent.result.accessToken).not.toBe(result.accessToken);
    expect((await authority.requests(app.clientId)).byGrant.refresh_token ?? 0).toBe(
      (before.byGrant.refresh_token ?? 0) + 1,
    );
    expect(silent.stats).toMatchObject({ reads: 1, writes: 1 });

    const issued = await authority.refreshTokens(app.clientId, oid);
    expect(issued).toHaveLength(2);
    const stored = await readStored(store, app.keyRing, partitionKey);
    expect(Object.values(section(stored, 'RefreshToken')).map((e) => e.secret)).toEqual([issued[1]!.token]);
    expect(Object.values(section(stored, 'AccessToken')).map((e) => e.secret)).toEqual([silent.result.accessToken]);
  });

  it('keeps entity types and fields this MSAL does not know, through a write and through a merge', async () => {
    const store = newStore(kind);
    const app = newApp(store);
    const logger = captureLogger();
    const partitionKey = appPartitionKey(app.clientId, app.tenantId);
    const foreign = { FutureEntity: { 'x-1': { kind: 'unknown', nested: { list: [1, 'two'] } } } };
    const seeded: JsonObject = {
      Account: {},
      IdToken: {},
      RefreshToken: {},
      AppMetadata: {
        'appmetadata-somewhere-client': { client_id: 'client', environment: 'somewhere', unknown_field: 'kept' },
      },
      AccessToken: {},
      ...foreign,
    };
    await writeStored(store, app.keyRing, partitionKey, seeded);

    await app.tokens.acquireTokenByClientCredential({ scopes: ['api://one/.default'] }, { logger });
    let stored = await readStored(store, app.keyRing, partitionKey);
    expect(stored?.msal.FutureEntity).toEqual(foreign.FutureEntity);
    expect(section(stored, 'AppMetadata')['appmetadata-somewhere-client']).toMatchObject({ unknown_field: 'kept' });

    // Two invocations race: A reads, B writes, then A writes — A's write conflicts and merges.
    const a = await app.tokens.partitionClient(partitionKey, { logger });
    await a.load();
    await app.tokens.acquireTokenByClientCredential({ scopes: ['api://two/.default'] }, { logger });
    await a.client.acquireTokenByClientCredential({ scopes: ['api://three/.default'] });
    expect(a.stats.conflicts).toBe(1);
    stored = await readStored(store, app.keyRing, partitionKey);
    const targets = Object.values(section(stored, 'AccessToken')).map((e) => e.target as string);
    expect(targets.sort()).toEqual(['api://one/.default', 'api://three/.default', 'api://two/.default']);
    expect(stored?.msal.FutureEntity).toEqual(foreign.FutureEntity);
    expect(section(stored, 'AppMetadata')['appmetadata-somewhere-client']).toMatchObject({ unknown_field: 'kept' });
  });
});

describeStores(['cosmos', 'table', 'redis'], 'concurrency', (kind) => {
  it('50 concurrent invocations of one user, each for another scope: no token is lost; one refresh token stays, a rotated one that redeems', async () => {
    const store = newStore(kind);
    const app = newApp(store);
    const logger = captureLogger();
    const { result, partitionKey } = await signIn(app, `bob-${newId()}@contoso.test`, GRAPH, logger);
    const homeAccountId = result.account!.homeAccountId;
    const scopes = Array.from({ length: 50 }, (_, i) => `api://downstream/scope${i}`);

    const outcomes = await Promise.all(
      scopes.map((scope) =>
        app.tokens.acquireTokenSilent({ homeAccountId: homeAccountId, scopes: [scope] }, { logger }),
      ),
    );
    expect(outcomes.every((o) => !o.result.fromCache)).toBe(true);
    expect(outcomes.reduce((n, o) => n + o.stats.conflicts, 0)).toBeGreaterThan(0);
    expect(logger.lines.filter((l) => /gave up|failed/.test(l))).toEqual([]);

    const stored = await readStored(store, app.keyRing, partitionKey);
    const accessTokens = Object.values(section(stored, 'AccessToken'));
    for (const [i, scope] of scopes.entries()) {
      const entry = accessTokens.find((at) => (at.target as string).split(' ').includes(scope));
      expect(entry?.secret, scope).toBe(outcomes[i]!.result.accessToken);
    }
    expect(accessTokens).toHaveLength(51);

    const oid = partitionKey.split('.')[0]!;
    const issued = (await authority.refreshTokens(app.clientId, oid)).map((r) => r.token);
    expect(issued).toHaveLength(51);
    const storedRefreshTokens = Object.values(section(stored, 'RefreshToken')).map((e) => e.secret as string);
    expect(storedRefreshTokens).toHaveLength(1);
    // The merge keeps the refresh token of the writer that processed its answer last (the unit tests of the merge
    // pin "newer wins" exactly). Which one the authority issued last is not observable by a client: 50 answers on 50
    // connections are processed in whatever order they arrive (measured: usually the newest, up to 15 behind under
    // load). So: a rotated token (not the sign-in's), one the authority issued in this run, and one that works.
    const index = issued.indexOf(storedRefreshTokens[0]!);
    expect(index).toBeGreaterThan(0);
    const before = await authority.requests(app.clientId);
    const refreshed = await app.tokens.acquireTokenSilent(
      { homeAccountId: homeAccountId, scopes: GRAPH, forceRefresh: true },
      { logger },
    );
    expect(refreshed.result.fromCache).toBe(false);
    expect((await authority.requests(app.clientId)).byGrant.refresh_token).toBe(
      (before.byGrant.refresh_token ?? 0) + 1,
    );
  });

  it('under strict rotation, a writer that read before a refresh elsewhere keeps the new refresh token: it redeems, the superseded one does not', async () => {
    // An authority stricter than Entra: redeeming a refresh token invalidates every older one of the user and client.
    // Here a stale copy written back over the newest would lock the person out; with Entra's rotation, it would not.
    const store = newStore(kind);
    const k1 = newCacheKey('k1');
    const k2 = newCacheKey('k2');
    const a = newApp(store, { keyRing: createKeyRing([k1]) });
    await authority.strictRotation(a.clientId);
    const logger = captureLogger();
    const { result, partitionKey } = await signIn(a, `sue-${newId()}@contoso.test`, GRAPH, logger);
    const homeAccountId = result.account!.homeAccountId;
    const oid = partitionKey.split('.')[0]!;
    const [signInToken] = await authority.refreshTokens(a.clientId, oid);

    // Instance B, a key rotation ahead, serves the person from the cache and rewrites the document under k2 — but
    // its read is held: meanwhile instance A refreshes (the sign-in's refresh token is superseded) and writes.
    const held = holdFirstRead(store, partitionKey);
    const ringB = createKeyRing([k2, k1]);
    const b = newApp(held.store, { keyRing: ringB, clientId: a.clientId, tenantId: a.tenantId });
    const fromCache = b.tokens.acquireTokenSilent({ homeAccountId, scopes: GRAPH }, { logger });
    await held.reached;
    await a.tokens.acquireTokenSilent({ homeAccountId, scopes: GRAPH, forceRefresh: true }, { logger });
    held.release();
    const rewrite = await fromCache;
    expect(rewrite.result.fromCache).toBe(true);
    expect(rewrite.stats.conflicts).toBeGreaterThan(0);

    // The superseded one is refused; what the store holds redeems (on a third instance, from the store), and it
    // is the one A's refresh was issued.
    const refused = await redeemRefreshToken(a, signInToken!.token);
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'invalid_grant' });
    const stored = await readStored(store, ringB, partitionKey);
    const c = newApp(store, { keyRing: ringB, clientId: a.clientId, tenantId: a.tenantId });
    const refreshed = await c.tokens.acquireTokenSilent(
      { homeAccountId, scopes: GRAPH, forceRefresh: true },
      { logger },
    );
    expect(refreshed.result.fromCache).toBe(false);
    const issued = await authority.refreshTokens(a.clientId, oid);
    expect(issued.map((rt) => rt.superseded)).toEqual([true, true, false]);
    expect(Object.values(section(stored, 'RefreshToken')).map((e) => e.secret)).toEqual([issued[1]!.token]);
    await authority.strictRotation(a.clientId, false);
  });

  it('100 concurrent invocations over 20 users: every partition holds only its own user, every caller its own token', async () => {
    const store = newStore(kind);
    const app = newApp(store);
    const logger = captureLogger();
    const users = Array.from({ length: 20 }, () => newId());
    const assertions = await Promise.all(users.map((oid) => authority.callerToken(app, oid)));
    const calls = Array.from({ length: 100 }, (_, i) => i % 20);
    const outcomes = await Promise.all(
      calls.map((u) =>
        app.tokens.acquireTokenOnBehalfOf(
          { caller: { oid: users[u]!, tid: app.tenantId }, assertion: assertions[u]!, scopes: GRAPH },
          { logger },
        ),
      ),
    );
    for (const [i, u] of calls.entries()) {
      expect(decodeJwt(outcomes[i]!.result.accessToken).oid).toBe(users[u]);
      expect(outcomes[i]!.partitionKey).toBe(`${users[u]}.${app.tenantId}`);
    }
    for (const oid of users) {
      const partitionKey = `${oid}.${app.tenantId}`;
      const stored = await readStored(store, app.keyRing, partitionKey);
      const homeIds = ['Account', 'AccessToken', 'RefreshToken', 'IdToken'].flatMap((name) =>
        Object.values(section(stored, name)).map((e) => e.home_account_id),
      );
      expect(homeIds.length).toBeGreaterThan(0);
      expect(new Set(homeIds)).toEqual(new Set([partitionKey]));
      for (const at of Object.values(section(stored, 'AccessToken')))
        expect(decodeJwt(at.secret as string).oid).toBe(oid);
    }
  });
});
