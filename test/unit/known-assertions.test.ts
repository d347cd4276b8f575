import { describe, expect, it } from 'vitest';
import { KnownAssertions, MAX_KNOWN_ASSERTIONS } from '../../lib/cache/obo.js';

describe('KnownAssertions', () => {
  const token = (n: number) => `eyJhbGciOiJSUzI1NiJ9.${'p'.repeat(200)}${n}.${'s'.repeat(40)}`;

  it('knows exactly the tokens added: not one of the same length a character apart', () => {
    const known = new KnownAssertions();
    known.add(token(1), 'h1');
    expect(known.hashOf(token(1))).toBe('h1');
    expect(known.hashOf(token(2))).toBeUndefined();
    expect(known.hashOf(`${token(1).slice(0, -1)}t`)).toBeUndefined();
    expect(known.hashOf(token(1).slice(0, -1))).toBeUndefined();
    expect(known.hashOf(`${token(1)}x`)).toBeUndefined();
  });

  it(`keeps the ${MAX_KNOWN_ASSERTIONS} most recently added, and counts the bytes of those it keeps`, () => {
    const known = new KnownAssertions();
    known.add(token(0), 'h0');
    const one = known.bytes;
    expect(one).toBeGreaterThan(token(0).length);
    known.add(token(0), 'h0');
    expect(known.bytes).toBe(one);
    for (let n = 1; n <= MAX_KNOWN_ASSERTIONS; n++) known.add(token(n), `h${n}`);
    expect(known.hashOf(token(0))).toBeUndefined();
    for (let n = 1; n <= MAX_KNOWN_ASSERTIONS; n++) expect(known.hashOf(token(n))).toBe(`h${n}`);
    expect(known.bytes).toBe(one * MAX_KNOWN_ASSERTIONS);
  });
});
