import { describe, expect, it } from 'vitest';
import { MAX_OBO_TOKENS_PER_TARGET } from '../lib/index.js';
import { signIn } from './support/signin.js';
import { authority, captureLogger, newApp, newId, newStore, type TestApp } from './support/stack.js';
import { countingStore, readStored, section } from './support/stored.js';

const GRAPH = ['https://graph.microsoft.com/User.Read'];

/** The incoming tokens of `count` devices of one user: same user, app and scopes, each its own token. */
async function devices(app: TestApp, oid: string, tid: string, count: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      authority.mint({ oid, sub: oid, tid, aud: app.clientId, scp: 'access_as_user', uti: `device-${i}` }),
    ),
  );
}

describe('several devices of one person', () => {
  it('two assertions alternating 10 times each on one instance: 2 authority requests and 2 writes in all', async () => {
    const store = countingStore(newStore('table'));
    const app = newApp(store);
    const logger = captureLogger();
    const oid = newId();
    const caller = { oid, tid: app.tenantId };
    const [laptop, phone] = (await devices(app, oid, app.tenantId, 2)) as [string, string];
    const before = await authority.requests(app.clientId);
    const fromCache: boolean[] = [];
    for (let round = 0; round < 10; round++) {
      for (const assertion of [laptop, phone]) {
        const outcome = await app.tokens.acquireTokenOnBehalfOf({ caller, assertion, scopes: GRAPH }, { logger });
        fromCache.push(outcome.result.fromCache);
      }
    }
    expect(fromCache).toEqual([false, false, ...Array<boolean>(18).fill(true)]);
    expect((await authority.requests(app.clientId)).token).toBe(before.token + 2);
    expect(store.counts).toMatchObject({ read: 20, write: 2 });
  });

  it(`keeps the newest ${MAX_OBO_TOKENS_PER_TARGET} assertions' tokens per scope set, evicting the oldest first`, async () => {
    const store = newStore('table');
    const app = newApp(store);
    const logger = captureLogger();
    const oid = newId();
    const caller = { oid, tid: app.tenantId };
    const assertions = await devices(app, oid, app.tenantId, MAX_OBO_TOKENS_PER_TARGET + 2);
    for (const assertion of assertions) {
      await app.tokens.acquireTokenOnBehalfOf({ caller, assertion, scopes: GRAPH }, { logger });
    }
    const stored = await readStored(store, app.keyRing, `${oid}.${app.tenantId}`);
    expect(Object.keys(section(stored, 'AccessToken'))).toHaveLength(MAX_OBO_TOKENS_PER_TARGET);
    const newest = assertions.slice(-MAX_OBO_TOKENS_PER_TARGET);
    for (const assertion of newest) {
      const outcome = await app.tokens.acquireTokenOnBehalfOf({ caller, assertion, scopes: GRAPH }, { logger });
      expect(outcome.result.fromCache).toBe(true);
    }
    const oldest = await app.tokens.acquireTokenOnBehalfOf(
      { caller, assertion: assertions[0]!, scopes: GRAPH },
      { logger },
    );
    expect(oldest.result.fromCache).toBe(false);
  });

  it("the web app's silent token stays served from the cache while the person's devices call the web API", async () => {
    const store = newStore('table');
    const app = newApp(store);
    const logger = captureLogger();
    const signedIn = await signIn(app, `una-${newId()}@contoso.test`, GRAPH, logger);
    const homeAccountId = signedIn.result.account!.homeAccountId;
    const [oid, tid] = signedIn.partitionKey.split('.') as [string, string];
    const [laptop, phone] = (await devices(app, oid, tid, 2)) as [string, string];
    for (const assertion of [laptop, phone]) {
      await app.tokens.acquireTokenOnBehalfOf({ caller: { oid, tid }, assertion, scopes: GRAPH }, { logger });
    }
    const before = await authority.requests(app.clientId);
    const silent = await app.tokens.acquireTokenSilent({ homeAccountId, scopes: GRAPH }, { logger });
    expect(silent.result.fromCache).toBe(true);
    expect(silent.result.accessToken).toBe(signedIn.result.accessToken);
    for (const assertion of [laptop, phone]) {
      const obo = await app.tokens.acquireTokenOnBehalfOf(
        { caller: { oid, tid }, assertion, scopes: GRAPH },
        { logger },
      );
      expect(obo.result.fromCache).toBe(true);
    }
    expect((await authority.requests(app.clientId)).token).toBe(before.token);
  });
});
