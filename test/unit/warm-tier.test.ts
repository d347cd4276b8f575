import { describe, expect, it } from 'vitest';
import { OpenedDocument, encodeDocumentText, type CacheDocument } from '../../lib/cache/document.js';
import { WarmTier } from '../../lib/cache/warm-tier.js';

describe('warm tier bookkeeping', () => {
  it('evicts the least recently used entries until the bytes held are within the bound', () => {
    const tier = new WarmTier<string>(100);
    tier.put('a', 'A', 40);
    tier.put('b', 'B', 40);
    expect(tier.take('a')).toBe('A'); // used: now the most recent once put back
    tier.put('a', 'A', 40);
    tier.put('c', 'C', 40); // 120 > 100: b, the least recently used, goes
    expect([tier.has('a'), tier.has('b'), tier.has('c')]).toEqual([true, false, true]);
    expect(tier.bytes).toBe(80);
    tier.put('d', 'D', 90); // only d fits
    expect([tier.has('a'), tier.has('c'), tier.has('d'), tier.bytes]).toEqual([false, false, true, 90]);
  });

  it('an entry taken is out of the tier until put back, and put replaces the partition entry', () => {
    const tier = new WarmTier<string>(100);
    tier.put('a', 'first', 10);
    expect(tier.take('a')).toBe('first');
    expect(tier.take('a')).toBeUndefined();
    expect(tier.bytes).toBe(0);
    tier.put('a', 'second', 10);
    tier.put('a', 'third', 30);
    expect([tier.size, tier.bytes, tier.take('a')]).toEqual([1, 30, 'third']);
  });

  it('keeps nothing larger than the bound', () => {
    const tier = new WarmTier<string>(50);
    tier.put('small', 'S', 10);
    expect(tier.put('big', 'B', 51)).toBe(false);
    expect([tier.has('big'), tier.has('small'), tier.bytes]).toEqual([false, true, 10]);
  });
});

describe('opened document', () => {
  const tricky: CacheDocument = {
    msal: {
      AccessToken: {
        'k-1': { secret: 'a,"updated":{}}', target: 'x', updated: 5 },
        updated: { secret: '}', credential_type: 'AccessToken' },
      },
      updated: { note: 'a section another MSAL might write' },
    },
    updated: { AccessToken: { 'k-1': 1, updated: 2 } },
  };

  it('hands MSAL its part as the same JSON the parsed document holds, without parsing the whole text', () => {
    for (const doc of [tricky, { msal: {}, updated: {} }, { msal: { Account: { a: { x: 1 } } }, updated: {} }]) {
      const opened = new OpenedDocument(encodeDocumentText(doc));
      expect(JSON.parse(opened.msalText)).toEqual(doc.msal);
      expect(opened.doc).toEqual(doc);
    }
  });

  it('falls back to parsing a text whose parts it cannot tell apart, and rejects one that is not a document', () => {
    const reordered = JSON.stringify({ updated: {}, msal: { Account: {} } });
    expect(JSON.parse(new OpenedDocument(reordered).msalText)).toEqual({ Account: {} });
    expect(() => new OpenedDocument('{"msal":{"a":').msalText).toThrow(/bad_envelope|not JSON/);
    expect(() => new OpenedDocument('[]').msalText).toThrow(/no MSAL cache/);
  });
});
