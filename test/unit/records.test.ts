import { describe, expect, it } from 'vitest';
import { createKeyRing, openRecord, sealRecord, TokenCacheError } from '../../lib/index.js';
import { newCacheKey } from '../support/log-audit.js';

const older = newCacheKey('k1');
const newer = newCacheKey('k2');
const data = Buffer.from(JSON.stringify({ status: 'active' }));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof TokenCacheError ? error.code : `not a library error: ${String(error)}`;
  }
  return undefined;
}

describe('sealRecord / openRecord', () => {
  it('round-trips under the key it was sealed for, also after a rotation, and hides the contents', () => {
    const sealed = sealRecord(createKeyRing([older]), 'bg.a.b', data);
    expect(Buffer.from(sealed).includes(Buffer.from('active'))).toBe(false);
    expect(Buffer.from(openRecord(createKeyRing([newer, older]), 'bg.a.b', sealed))).toEqual(data);
  });

  it('refuses a record copied to another key, tampered, or never sealed (bad_envelope)', () => {
    const ring = createKeyRing([older]);
    const sealed = Buffer.from(sealRecord(ring, 'bg.a.b', data));
    expect(codeOf(() => openRecord(ring, 'bg.c.d', sealed))).toBe('bad_envelope');
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 20]! ^= 1;
    expect(codeOf(() => openRecord(ring, 'bg.a.b', tampered))).toBe('bad_envelope');
    expect(codeOf(() => openRecord(ring, 'bg.a.b', data))).toBe('bad_envelope');
  });

  it('says when a newer instance sealed it under a key this ring lacks (key_not_in_ring)', () => {
    const sealed = sealRecord(createKeyRing([newer, older]), 'bg.a.b', data);
    expect(codeOf(() => openRecord(createKeyRing([older]), 'bg.a.b', sealed))).toBe('key_not_in_ring');
  });
});
