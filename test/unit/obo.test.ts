import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../lib/cache/document.js';
import { visibleEntries, withHiddenEntries } from '../../lib/cache/obo.js';

/** msal-node's key of an access token for one user, client and scopes: the same for every incoming token. */
const K = 'u.t-login-accesstoken-c-t-user.read';
const token = (secret: string, userAssertionHash?: string): JsonObject => ({
  credential_type: 'AccessToken',
  secret,
  ...(userAssertionHash ? { userAssertionHash } : {}),
});

describe('on-behalf-of access tokens per incoming token', () => {
  const stored = {
    Account: { a: { home_account_id: 'u.t' } },
    AccessToken: { [K]: token('web app'), [`${K}-A`]: token('laptop', 'A'), [`${K}-B`]: token('phone', 'B') },
  };

  it("shows an on-behalf-of invocation its own incoming token's access token only, other flows none of them", () => {
    expect(visibleEntries(stored, 'A')).toEqual({ ...stored, AccessToken: { [`${K}-A`]: token('laptop', 'A') } });
    expect(visibleEntries(stored, undefined)).toEqual({ ...stored, AccessToken: { [K]: token('web app') } });
  });

  it('after msal-node saved a new token under its own key, keeps every other token and re-keys the new one', () => {
    // What MSAL holds after saving laptop's new token: its key has no assertion hash; the old one is gone.
    const msal = { Account: stored.Account, AccessToken: { [K]: token('laptop 2', 'A') } };
    expect(withHiddenEntries(msal, stored, 'A')).toEqual({
      Account: stored.Account,
      AccessToken: { [`${K}-A`]: token('laptop 2', 'A'), [K]: token('web app'), [`${K}-B`]: token('phone', 'B') },
    });
  });

  it("moves a token stored under msal-node's own key (before this layout) to its incoming token's key", () => {
    const legacy = { AccessToken: { [K]: token('phone', 'B') } };
    const msal = { AccessToken: { [K]: token('web app 2') } };
    expect(withHiddenEntries(msal, legacy, undefined)).toEqual({
      AccessToken: { [K]: token('web app 2'), [`${K}-B`]: token('phone', 'B') },
    });
  });
});
