import { describe, expect, it } from 'vitest';
import { authority, captureLogger, newApp, newId, newStore } from './support/stack.js';
import { countingStore } from './support/stored.js';

const GRAPH = ['https://graph.microsoft.com/User.Read'];

describe('identical concurrent acquisitions in one process', () => {
  it('on-behalf-of: 10 calls of one user arriving together on a cold partition ask the authority once', async () => {
    const store = countingStore(newStore('table'));
    const app = newApp(store);
    const logger = captureLogger();
    const oid = newId();
    const claims = { oid, tid: app.tenantId };
    const assertion = await authority.callerToken(app, oid);
    const before = await authority.requests(app.clientId);
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () =>
        app.tokens.acquireTokenOnBehalfOf({ caller: claims, assertion, scopes: GRAPH }, { logger }),
      ),
    );
    expect((await authority.requests(app.clientId)).token).toBe(before.token + 1);
    expect(new Set(outcomes.map((o) => o.result.accessToken)).size).toBe(1);
    expect(outcomes.filter((o) => o.joined)).toHaveLength(9);
    expect(store.counts).toEqual({ read: 1, write: 1, delete: 0, list: 0 });

    // Another user, or the same user with another incoming token, is not held up by or mixed with these.
    const other = newId();
    const otherToken = await authority.callerToken(app, other);
    const [mine, theirs] = await Promise.all([
      app.tokens.acquireTokenOnBehalfOf({ caller: claims, assertion, scopes: GRAPH }, { logger }),
      app.tokens.acquireTokenOnBehalfOf(
        { caller: { oid: other, tid: app.tenantId }, assertion: otherToken, scopes: GRAPH },
        { logger },
      ),
    ]);
    expect(mine.joined).toBeFalsy();
    expect(mine.result.fromCache).toBe(true);
    expect(theirs.joined).toBeFalsy();
    expect(theirs.partitionKey).toBe(`${other}.${app.tenantId}`);
  });

  it('client credentials: 10 concurrent cold calls ask the authority once', async () => {
    const app = newApp(newStore('memory'));
    const logger = captureLogger();
    const before = await authority.requests(app.clientId);
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () =>
        app.tokens.acquireTokenByClientCredential({ scopes: ['api://downstream/.default'] }, { logger }),
      ),
    );
    expect((await authority.requests(app.clientId)).token).toBe(before.token + 1);
    expect(outcomes.filter((o) => o.joined)).toHaveLength(9);
  });

  it('calls that shared a run each get their own result: what one changes in it, the others keep', async () => {
    const app = newApp(newStore('memory'));
    const scopes = ['api://shared/.default'];
    const changing = app.tokens.acquireTokenByClientCredential({ scopes }).then((outcome) => {
      outcome.result.accessToken = '[redacted by the first caller]';
      outcome.result.scopes.push('changed');
      return outcome;
    });
    const joining = app.tokens.acquireTokenByClientCredential({ scopes });
    const [changed, joined] = await Promise.all([changing, joining]);
    expect(joined.joined).toBe(true);
    expect(changed.result.accessToken).toBe('[redacted by the first caller]');
    expect(joined.result.accessToken).not.toBe('[redacted by the first caller]');
    expect(joined.result.accessToken.split('.')).toHaveLength(3);
    expect(joined.result.scopes).toEqual(scopes);
  });
});
