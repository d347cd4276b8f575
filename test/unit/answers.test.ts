/** A warm client's kept answers (lib/cache/answers.ts); end to end in test/warm-tier.test.ts. */
import type { AuthenticationResult } from '@azure/msal-node';
import { describe, expect, it } from 'vitest';
import { keptAnswer, servedAnswer } from '../../lib/cache/answers.js';

function result(): AuthenticationResult {
  const claims = { oid: 'o', tid: 't', roles: ['b', 'a'], xms: { nested: ['x'] } };
  return {
    authority: 'https://login.example/t/',
    uniqueId: 'o',
    tenantId: 't',
    scopes: ['api://a/.default'],
    account: {
      homeAccountId: 'o.t',
      environment: 'login.example',
      tenantId: 't',
      username: 'u@example.com',
      localAccountId: 'o',
      name: 'Person',
      idTokenClaims: claims,
      tenantProfiles: new Map([
        ['t', { tenantId: 't', localAccountId: 'o', name: 'Person', username: 'u@example.com', isHomeTenant: true }],
      ]),
    },
    idToken: 'id.token.sig',
    idTokenClaims: claims,
    accessToken: 'access.token.sig',
    fromCache: false,
    expiresOn: new Date(2_000_000_000_000),
    extExpiresOn: new Date(2_000_000_000_000),
    tokenType: 'Bearer',
    correlationId: 'c',
  };
}

/** Changes everything a caller could reach in its result. */
function changeAll(served: AuthenticationResult): void {
  const claims = served.idTokenClaims as { roles: string[]; xms: { nested: string[] } };
  claims.roles.sort();
  claims.roles.push('added');
  claims.xms.nested.push('added');
  (served.account!.idTokenClaims as { roles: string[] }).roles.push('added to the account');
  for (const profile of served.account!.tenantProfiles!.values()) profile.name = 'changed';
  served.account!.tenantProfiles!.clear();
  served.account!.name = 'changed';
  served.scopes.push('changed');
  served.expiresOn!.setTime(0);
  served.extExpiresOn!.setTime(0);
  served.accessToken = '[redacted]';
}

describe('kept answers', () => {
  it('each call gets a copy it may change in full, deep values included, without changing what the next call gets', () => {
    const kept = keptAnswer(result())!;
    const first = servedAnswer(kept, 'one');
    expect(() => changeAll(first)).not.toThrow();
    const second = servedAnswer(kept, 'two');
    expect(second).toEqual({ ...result(), correlationId: 'two', fromCache: true });
    // One claims object in the result and its account, as msal-node gives it.
    expect(second.account!.idTokenClaims).toBe(second.idTokenClaims);
  });

  it('is a copy of the result it was made from, and keeps nothing with an object member it would not copy', () => {
    const original = result();
    const kept = keptAnswer(original)!;
    original.accessToken = '[redacted]';
    (original.idTokenClaims as { roles: string[] }).roles.push('added');
    expect(servedAnswer(kept, 'x').accessToken).toBe('access.token.sig');
    expect((servedAnswer(kept, 'x').idTokenClaims as { roles: string[] }).roles).toEqual(['b', 'a']);
    expect(keptAnswer({ ...result(), unknownMember: { shared: true } } as AuthenticationResult)).toBeUndefined();
  });
});
