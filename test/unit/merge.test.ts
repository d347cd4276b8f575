import { describe, expect, it } from 'vitest';
import type { CacheDocument, JsonObject } from '../../lib/cache/document.js';
import { MAX_OBO_TOKENS_PER_TARGET, mergeDocuments, pruneDocument, stampChanges } from '../../lib/cache/merge.js';

const at = (secret: string, cachedAt: number, expiresOn = 4_000_000_000) => ({
  credential_type: 'AccessToken',
  secret,
  cached_at: String(cachedAt),
  expires_on: String(expiresOn),
});
const rt = (secret: string) => ({ credential_type: 'RefreshToken', secret });

function doc(msal: JsonObject, updated: CacheDocument['updated'] = {}): CacheDocument {
  return { msal, updated };
}

describe('three-way merge', () => {
  const base = doc({ AccessToken: { a: at('a0', 1), b: at('b0', 1) }, RefreshToken: { r: rt('r0') } });

  it('keeps changes only one side made, from both sides', () => {
    const ours = stampChanges(
      base,
      { AccessToken: { a: at('a1', 2), b: at('b0', 1) }, RefreshToken: { r: rt('r0') } },
      10,
    );
    const theirs = stampChanges(
      base,
      { AccessToken: { a: at('a0', 1), b: at('b1', 2), c: at('c1', 2) }, RefreshToken: { r: rt('r0') } },
      11,
    );
    const merged = mergeDocuments(base, ours, theirs);
    expect(merged.msal.AccessToken).toEqual({ a: at('a1', 2), b: at('b1', 2), c: at('c1', 2) });
  });

  it('keeps the newer entry when both changed it (our metadata time, then MSAL timestamps)', () => {
    const oursNewer = mergeDocuments(
      base,
      stampChanges(base, { ...base.msal, RefreshToken: { r: rt('ours') } }, 20),
      stampChanges(base, { ...base.msal, RefreshToken: { r: rt('theirs') } }, 10),
    );
    expect(oursNewer.msal.RefreshToken).toEqual({ r: rt('ours') });
    expect(oursNewer.updated.RefreshToken?.r).toBe(20);
    const theirsNewer = mergeDocuments(
      base,
      stampChanges(base, { ...base.msal, RefreshToken: { r: rt('ours') } }, 10),
      stampChanges(base, { ...base.msal, RefreshToken: { r: rt('theirs') } }, 20),
    );
    expect(theirsNewer.msal.RefreshToken).toEqual({ r: rt('theirs') });
    // Written by another MSAL without our metadata: fall back to cached_at.
    const native = mergeDocuments(
      base,
      doc({ ...base.msal, AccessToken: { a: at('ours', 5), b: at('b0', 1) } }),
      doc({ ...base.msal, AccessToken: { a: at('theirs', 7), b: at('b0', 1) } }),
    );
    expect((native.msal.AccessToken as JsonObject).a).toEqual(at('theirs', 7));
  });

  it('lets a deletion by one side survive', () => {
    const oursDeleted = stampChanges(base, { AccessToken: { b: at('b0', 1) }, RefreshToken: { r: rt('r0') } }, 10);
    const theirsChanged = stampChanges(
      base,
      { AccessToken: { a: at('a9', 9), b: at('b0', 1) }, RefreshToken: { r: rt('r0') } },
      11,
    );
    expect(mergeDocuments(base, oursDeleted, theirsChanged).msal.AccessToken).toEqual({ b: at('b0', 1) });
    expect(mergeDocuments(base, theirsChanged, oursDeleted).msal.AccessToken).toEqual({ b: at('b0', 1) });
  });

  it('keeps sections, entries and fields it does not know', () => {
    const foreign = { AppMetadata: {}, FutureThing: { x: { any: ['shape', 1] } }, Version: 3 };
    const withForeign = doc({
      ...base.msal,
      ...foreign,
      AccessToken: { a: { ...at('a0', 1), unknown_field: 'keep' } },
    });
    const ours = stampChanges(withForeign, { ...withForeign.msal, RefreshToken: { r: rt('r1') } }, 10);
    const theirs = stampChanges(withForeign, { ...withForeign.msal, IdToken: { i: { secret: 'id' } } }, 11);
    const merged = mergeDocuments(withForeign, ours, theirs);
    expect(merged.msal.FutureThing).toEqual(foreign.FutureThing);
    expect(merged.msal.Version).toBe(3);
    expect((merged.msal.AccessToken as JsonObject).a).toEqual({ ...at('a0', 1), unknown_field: 'keep' });
    expect(merged.msal.RefreshToken).toEqual({ r: rt('r1') });
    expect(merged.msal.IdToken).toEqual({ i: { secret: 'id' } });
  });

  it('treats a section missing on one side as empty, not as deleted', () => {
    const ours = stampChanges(
      base,
      { ...base.msal, AccessToken: { ...(base.msal.AccessToken as JsonObject), n: at('n', 3) } },
      10,
    );
    const theirs = doc({ AccessToken: base.msal.AccessToken ?? {} });
    expect(mergeDocuments(base, ours, theirs).msal.AccessToken).toHaveProperty('n');
  });
});

describe('pruneDocument', () => {
  it('removes only expired access tokens and their metadata', () => {
    const d = doc(
      { AccessToken: { old: at('o', 1, 100), fresh: at('f', 1, 300) }, RefreshToken: { r: rt('r') } },
      { AccessToken: { old: 1, fresh: 2 } },
    );
    const pruned = pruneDocument(d, 200);
    expect(Object.keys(pruned.msal.AccessToken as JsonObject)).toEqual(['fresh']);
    expect(pruned.updated.AccessToken).toEqual({ fresh: 2 });
    expect(pruned.msal.RefreshToken).toEqual(d.msal.RefreshToken);
    expect(pruneDocument(d, 50)).toBe(d);
  });
});

describe('pruneDocument with on-behalf-of tokens', () => {
  it('keeps only the newest OBO tokens per user, client and scopes; others untouched', () => {
    const obo = (i: number, target: string) => ({
      ...at(`obo${i}`, i),
      home_account_id: 'u.t',
      client_id: 'c',
      realm: 't',
      target,
      userAssertionHash: `hash${i}`,
    });
    const tokens: JsonObject = {};
    for (let i = 0; i < 10; i++) tokens[`a${i}`] = obo(i, 'scope.read');
    tokens.other = obo(99, 'other.scope');
    tokens.plain = at('plain', 1);
    const pruned = pruneDocument(doc({ AccessToken: tokens }), 0);
    const keys = Object.keys(pruned.msal.AccessToken as JsonObject).sort();
    const newest = Array.from({ length: MAX_OBO_TOKENS_PER_TARGET }, (_, i) => `a${9 - i}`);
    expect(keys).toEqual([...newest, 'other', 'plain'].sort());
  });
});
