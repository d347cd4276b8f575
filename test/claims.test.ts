/**
 * The library's side of claims challenges: client capabilities on every flow, `claims` on every wrapped acquisition
 * (coalesced apart, the rejected token removed in the same write, other devices' tokens left alone).
 */
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { hasErrorCode, MAX_CLAIMS_LENGTH } from '../lib/index.js';
import { signIn } from './support/signin.js';
import { authority, captureLogger, newApp, newId, newStore } from './support/stack.js';
import { countingStore, readStored, section } from './support/stored.js';

const GRAPH = ['https://graph.microsoft.com/User.Read'];
const APP_SCOPES = ['api://downstream/.default'];

function nbf(at: number): string {
  return JSON.stringify({ access_token: { nbf: { essential: true, value: String(at) } } });
}

async function storedAccessTokens(app: ReturnType<typeof newApp>, partitionKey: string): Promise<string[]> {
  const store = 'inner' in app.store ? (app.store as ReturnType<typeof countingStore>).inner : app.store;
  const doc = await readStored(store, app.keyRing, partitionKey);
  return Object.values(section(doc, 'AccessToken')).map((entry) => entry.secret as string);
}

describe('client capabilities', () => {
  it('declares none by default; cp1 when asked, on client credentials, on-behalf-of and silent alike', async () => {
    const plain = newApp(newStore('memory'));
    const logger = captureLogger();
    const appToken = await plain.tokens.acquireTokenByClientCredential({ scopes: APP_SCOPES }, { logger });
    expect(decodeJwt(appToken.result.accessToken).xms_cc).toBeUndefined();

    const capable = newApp(newStore('memory'), { clientCapabilities: ['cp1'] });
    const cc = await capable.tokens.acquireTokenByClientCredential({ scopes: APP_SCOPES }, { logger });
    expect(decodeJwt(cc.result.accessToken).xms_cc).toEqual(['cp1']);
    const oid = newId();
    const obo = await capable.tokens.acquireTokenOnBehalfOf(
      { caller: { oid, tid: capable.tenantId }, assertion: await authority.callerToken(capable, oid), scopes: GRAPH },
      { logger },
    );
    expect(decodeJwt(obo.result.accessToken).xms_cc).toEqual(['cp1']);
    const signedIn = await signIn(capable, `nina-${newId()}@contoso.test`, GRAPH, logger);
    expect(decodeJwt(signedIn.result.accessToken).xms_cc).toEqual(['cp1']);
    const refreshed = await capable.tokens.acquireTokenSilent(
      { homeAccountId: signedIn.result.account!.homeAccountId, scopes: GRAPH, forceRefresh: true },
      { logger },
    );
    expect(decodeJwt(refreshed.result.accessToken).xms_cc).toEqual(['cp1']);
  });

  it('refuses capabilities that are not a list of names', () => {
    for (const clientCapabilities of ['cp1', ['cp 1'], [''], [1]]) {
      expect(() => newApp(newStore('memory'), { clientCapabilities: clientCapabilities as string[] })).toThrow(
        expect.objectContaining({ code: 'invalid_options' }),
      );
    }
  });
});

describe('claims on an acquisition', () => {
  it('is coalesced apart from claim-less calls; identical claims calls share one run', async () => {
    const store = countingStore(newStore('table'));
    const app = newApp(store, { clientCapabilities: ['cp1'] });
    const logger = captureLogger();
    const oid = newId();
    const caller = { oid, tid: app.tenantId };
    const assertion = await authority.callerToken(app, oid);
    const first = await app.tokens.acquireTokenOnBehalfOf({ caller, assertion, scopes: GRAPH }, { logger });
    const claims = nbf(Math.floor(Date.now() / 1000) - 60);
    const before = await authority.requests(app.clientId);
    const outcomes = await Promise.all([
      ...Array.from({ length: 3 }, () =>
        app.tokens.acquireTokenOnBehalfOf({ caller, assertion, scopes: GRAPH }, { logger }),
      ),
      ...Array.from({ length: 3 }, () =>
        app.tokens.acquireTokenOnBehalfOf({ caller, assertion, scopes: GRAPH, claims }, { logger }),
      ),
    ]);
    const [plain, withClaims] = [outcomes.slice(0, 3), outcomes.slice(3)];
    expect(plain.filter((o) => o.joined)).toHaveLength(2);
    expect(withClaims.filter((o) => o.joined)).toHaveLength(2);
    expect(new Set(withClaims.map((o) => o.result.accessToken)).size).toBe(1);
    expect(withClaims[0]!.result.fromCache).toBe(false);
    expect(withClaims[0]!.result.accessToken).not.toBe(first.result.accessToken);
    expect((await authority.requests(app.clientId)).token).toBe(before.token + 1);
  });

  it("on-behalf-of on one device replaces that device's token only; the person's other devices keep theirs", async () => {
    const store = countingStore(newStore('table'));
    const app = newApp(store, { clientCapabilities: ['cp1'] });
    const logger = captureLogger();
    const oid = newId();
    const caller = { oid, tid: app.tenantId };
    const device = (uti: string) =>
      authority.mint({ oid, sub: oid, tid: app.tenantId, aud: app.clientId, scp: 'access_as_user', uti });
    const [laptop, phone] = [await device('laptop'), await device('phone')];
    const laptopToken = await app.tokens.acquireTokenOnBehalfOf(
      { caller, assertion: laptop, scopes: GRAPH },
      { logger },
    );
    const phoneToken = await app.tokens.acquireTokenOnBehalfOf({ caller, assertion: phone, scopes: GRAPH }, { logger });
    const { at } = await authority.criticalEvent(oid, 'reissue', app.tenantId);

    store.counts.read = store.counts.write = 0;
    const renewed = await app.tokens.acquireTokenOnBehalfOf(
      { caller, assertion: laptop, scopes: GRAPH, claims: nbf(at) },
      { logger },
    );
    expect(store.counts).toMatchObject({ read: 1, write: 1 });
    expect(decodeJwt(renewed.result.accessToken).iat).toBeGreaterThanOrEqual(at);
    const stored = await storedAccessTokens(app, `${oid}.${app.tenantId}`);
    expect(stored.sort()).toEqual([renewed.result.accessToken, phoneToken.result.accessToken].sort());
    expect(stored).not.toContain(laptopToken.result.accessToken);
    const phoneAgain = await app.tokens.acquireTokenOnBehalfOf({ caller, assertion: phone, scopes: GRAPH }, { logger });
    expect(phoneAgain.result.accessToken).toBe(phoneToken.result.accessToken);
  });

  it('that fails still removes the cached token of those scopes, in one write; then asks no more writes', async () => {
    const store = countingStore(newStore('table'));
    const app = newApp(store, { clientCapabilities: ['cp1'] });
    const logger = captureLogger();
    const partitionKey = `${app.clientId}.${app.tenantId}`;
    const first = await app.tokens.acquireTokenByClientCredential({ scopes: APP_SCOPES }, { logger });
    const claims = nbf(Math.floor(Date.now() / 1000) - 60);
    await authority.failNext(app.clientId, 1, 503);
    store.counts.read = store.counts.write = 0;
    const failed = await app.tokens.acquireTokenByClientCredential({ scopes: APP_SCOPES, claims }, { logger }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toBeDefined();
    expect(store.counts).toMatchObject({ read: 1, write: 1 });
    expect(await storedAccessTokens(app, partitionKey)).not.toContain(first.result.accessToken);

    await authority.failNext(app.clientId, 1, 503);
    store.counts.read = store.counts.write = 0;
    await expect(
      app.tokens.acquireTokenByClientCredential({ scopes: APP_SCOPES, claims }, { logger }),
    ).rejects.toThrow();
    expect(store.counts).toMatchObject({ read: 1, write: 0 });

    const next = await app.tokens.acquireTokenByClientCredential({ scopes: APP_SCOPES }, { logger });
    expect(next.result.fromCache).toBe(false);
    expect(next.result.accessToken).not.toBe(first.result.accessToken);
  });

  it('refuses claims that are not a JSON object, before any store or authority traffic', async () => {
    const store = countingStore(newStore('memory'));
    const app = newApp(store, { clientCapabilities: ['cp1'] });
    const before = await authority.requests(app.clientId);
    for (const claims of ['', 'nope', '[]', 'null', `{"a":"${'x'.repeat(MAX_CLAIMS_LENGTH)}"}`]) {
      const error = await app.tokens.acquireTokenByClientCredential({ scopes: APP_SCOPES, claims }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(hasErrorCode(error, 'invalid_claims'), claims.slice(0, 20)).toBe(true);
    }
    expect(store.counts).toEqual({ read: 0, write: 0, delete: 0, list: 0 });
    expect((await authority.requests(app.clientId)).total).toBe(before.total);
  });
});
