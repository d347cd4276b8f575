import { describe, expect, it } from 'vitest';
import { appPartitionKey, createKeyRing, type KeyRing } from '../lib/index.js';
import { newCacheKey as key } from './support/log-audit.js';
import { signIn } from './support/signin.js';
import { authority, captureLogger, newApp, newId, newStore, type TestApp } from './support/stack.js';
import { readStored, section, sealedWith } from './support/stored.js';

const GRAPH = ['https://graph.microsoft.com/User.Read'];

/** Two instances of one app on one store, with the key rings given (as while a Key Vault reference refreshes). */
function twoInstances(ringA: KeyRing, ringB: KeyRing): { a: TestApp; b: TestApp } {
  const store = newStore('table');
  const a = newApp(store, { keyRing: ringA });
  const b = newApp(store, { keyRing: ringB, clientId: a.clientId, tenantId: a.tenantId });
  return { a, b };
}

describe('rolling key rotation: an instance without the new key', () => {
  it("serves an on-behalf-of call without touching a partition sealed under a key it lacks; the sign-in's refresh token survives", async () => {
    const k1 = key('k1');
    const k2 = key('k2');
    const ringA = createKeyRing([k2, k1]);
    const { a, b } = twoInstances(ringA, createKeyRing([k1]));
    const logA = captureLogger();
    const signedIn = await signIn(a, `rita-${newId()}@contoso.test`, GRAPH, logA);
    const { partitionKey } = signedIn;
    const [oid, tid] = partitionKey.split('.') as [string, string];
    const refreshBefore = Object.values(section(await readStored(a.store, ringA, partitionKey), 'RefreshToken'));
    expect(refreshBefore).toHaveLength(1);
    const storedBefore = (await a.store.read(partitionKey))!;
    expect(sealedWith(ringA, partitionKey, storedBefore.data)).toBe('k2');

    const logB = captureLogger();
    const assertion = await authority.mint({ oid, sub: oid, tid, aud: a.clientId, scp: 'access_as_user' });
    const obo = await b.tokens.acquireTokenOnBehalfOf(
      { caller: { oid, tid }, assertion, scopes: GRAPH },
      { logger: logB },
    );
    expect(obo.partitionKey).toBe(partitionKey);
    expect(obo.result.accessToken).toBeTruthy();
    expect(obo.result.fromCache).toBe(false);
    const storedAfter = (await a.store.read(partitionKey))!;
    expect(storedAfter.etag).toBe(storedBefore.etag);
    const refreshAfter = Object.values(section(await readStored(a.store, ringA, partitionKey), 'RefreshToken'));
    expect(refreshAfter.map((rt) => rt.secret)).toEqual(refreshBefore.map((rt) => rt.secret));
    expect(obo.saved).toBe(false);
    expect(obo.stats).toMatchObject({ reads: 1, writes: 0, foreign: true, discarded: false });
    const error = logB.lines.find((l) => l.startsWith('error:') && l.includes(partitionKey));
    expect(error).toMatch(/key "k2"/);

    const before = await authority.requests(a.clientId);
    const refreshed = await a.tokens.acquireTokenSilent(
      { homeAccountId: signedIn.result.account!.homeAccountId, scopes: GRAPH, forceRefresh: true },
      { logger: logA },
    );
    expect(refreshed.result.fromCache).toBe(false);
    expect((await authority.requests(a.clientId)).byGrant.refresh_token).toBe((before.byGrant.refresh_token ?? 0) + 1);
  });

  it('a silent call on that instance reports the partition unavailable (retryable), not a missing account', async () => {
    const k1 = key('k1');
    const ringA = createKeyRing([key('k2'), k1]);
    const { a, b } = twoInstances(ringA, createKeyRing([k1]));
    const signedIn = await signIn(a, `sam-${newId()}@contoso.test`, GRAPH, captureLogger());
    const storedBefore = (await a.store.read(signedIn.partitionKey))!;
    const logB = captureLogger();
    await expect(
      b.tokens.acquireTokenSilent(
        { homeAccountId: signedIn.result.account!.homeAccountId, scopes: GRAPH },
        { logger: logB },
      ),
    ).rejects.toMatchObject({ code: 'partition_unavailable' });
    expect((await a.store.read(signedIn.partitionKey))!.etag).toBe(storedBefore.etag);
  });

  it('a document whose key id byte was changed reads as a key not in the ring, and is left alone too', async () => {
    const store = newStore('table');
    const app = newApp(store);
    const logger = captureLogger();
    const { partitionKey } = await app.tokens.acquireTokenByClientCredential(
      { scopes: ['api://a/.default'] },
      { logger },
    );
    const stored = (await store.read(partitionKey))!;
    // "MTC" | version | flags | kid length | kid: the key id "k1" starts at byte 6; "k1" becomes "k0".
    const tampered = Buffer.from(Buffer.from(stored.data).map((byte, i) => (i === 7 ? 0x30 : byte)));
    const etag = await store.write(partitionKey, tampered, { ifMatch: stored.etag });
    const outcome = await app.tokens.acquireTokenByClientCredential({ scopes: ['api://a/.default'] }, { logger });
    expect(outcome.result.fromCache).toBe(false);
    expect(outcome.stats).toMatchObject({ writes: 0, foreign: true });
    expect(logger.lines.find((l) => l.startsWith('error:'))).toMatch(/key "k0"/);
    expect((await store.read(partitionKey))!.etag).toBe(etag);
  });
});

describe('rolling key rotation: a cache hit under an older key is rewritten under the current key', () => {
  const older = key('old');
  const current = key('new');

  async function rotatedHit(
    populate: (app: TestApp) => Promise<string>,
    hit: (app: TestApp) => Promise<{ fromCache: boolean; writes: number }>,
  ): Promise<void> {
    const store = newStore('table');
    const before = newApp(store, { keyRing: createKeyRing([older]) });
    const partitionKey = await populate(before);
    const rotated = newApp(store, {
      keyRing: createKeyRing([current, older]),
      clientId: before.clientId,
      tenantId: before.tenantId,
    });
    const requests = await authority.requests(before.clientId);
    const outcome = await hit(rotated);
    expect(outcome.fromCache).toBe(true);
    expect(outcome.writes).toBe(1);
    expect((await authority.requests(before.clientId)).token).toBe(requests.token);
    expect(sealedWith(createKeyRing([current]), partitionKey, (await store.read(partitionKey))!.data)).toBe('new');
    const again = await hit(rotated);
    expect(again).toEqual({ fromCache: true, writes: 0 });
  }

  it('client credentials', async () => {
    const scopes = ['api://downstream/.default'];
    await rotatedHit(
      async (app) => {
        await app.tokens.acquireTokenByClientCredential({ scopes }, { logger: captureLogger() });
        return appPartitionKey(app.clientId, app.tenantId);
      },
      async (app) => {
        const { result, stats } = await app.tokens.acquireTokenByClientCredential(
          { scopes },
          { logger: captureLogger() },
        );
        return { fromCache: result.fromCache, writes: stats.writes };
      },
    );
  });

  it('on-behalf-of', async () => {
    const oid = newId();
    let assertion = '';
    let tid = '';
    await rotatedHit(
      async (app) => {
        tid = app.tenantId;
        assertion = await authority.callerToken(app, oid);
        return (
          await app.tokens.acquireTokenOnBehalfOf(
            { caller: { oid, tid }, assertion, scopes: GRAPH },
            { logger: captureLogger() },
          )
        ).partitionKey;
      },
      async (app) => {
        const { result, stats } = await app.tokens.acquireTokenOnBehalfOf(
          { caller: { oid, tid }, assertion, scopes: GRAPH },
          { logger: captureLogger() },
        );
        return { fromCache: result.fromCache, writes: stats.writes };
      },
    );
  });

  it('silent', async () => {
    let homeAccountId = '';
    await rotatedHit(
      async (app) => {
        const signedIn = await signIn(app, `tom-${newId()}@contoso.test`, GRAPH, captureLogger());
        homeAccountId = signedIn.result.account!.homeAccountId;
        return signedIn.partitionKey;
      },
      async (app) => {
        const { result, stats } = await app.tokens.acquireTokenSilent(
          { homeAccountId, scopes: GRAPH },
          { logger: captureLogger() },
        );
        return { fromCache: result.fromCache, writes: stats.writes };
      },
    );
  });
});
