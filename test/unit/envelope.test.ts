import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { open, seal } from '../../lib/cache/envelope.js';
import { createKeyRing, parseKeyRing, generateKeySetting } from '../../lib/cache/keyring.js';
import { TokenCacheError } from '../../lib/errors.js';
import { newCacheKey } from '../support/log-audit.js';

const keyA = newCacheKey('a');
const keyB = newCacheKey('b');
const plaintext = Buffer.from(JSON.stringify({ msal: { RefreshToken: { k: { secret: 'rt-secret-value' } } } }));

/** `code: message` of the library error `fn` throws. */
function reason(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof TokenCacheError ? `${error.code}: ${error.message}` : `other: ${String(error)}`;
  }
  return undefined;
}

describe('envelope', () => {
  it('round-trips, with and without compression, and hides the plaintext', () => {
    const ring = createKeyRing([keyA]);
    for (const compress of [false, true]) {
      const sealed = seal(ring, 'oid.tid', plaintext, { compress });
      expect(sealed.includes(Buffer.from('rt-secret-value'))).toBe(false);
      expect(open(ring, 'oid.tid', sealed)).toEqual({ plaintext, keyId: 'a' });
    }
  });

  it('uses a fresh nonce each time', () => {
    const ring = createKeyRing([keyA]);
    expect(seal(ring, 'p', plaintext).equals(seal(ring, 'p', plaintext))).toBe(false);
  });

  it('binds the document to its partition', () => {
    const ring = createKeyRing([keyA]);
    const sealed = seal(ring, 'alice.tenant', plaintext);
    expect(reason(() => open(ring, 'bob.tenant', sealed))).toMatch(/^bad_envelope: .*failed authentication/);
  });

  it('rejects a flipped byte anywhere, a truncation, a foreign document and an unknown version', () => {
    const ring = createKeyRing([keyA]);
    const sealed = seal(ring, 'p', plaintext);
    for (const index of [5, 8, 20, sealed.length - 1]) {
      const tampered = Buffer.from(sealed);
      tampered[index] = (tampered[index] ?? 0) ^ 1;
      expect(reason(() => open(ring, 'p', tampered))).toMatch(/^(bad_envelope|key_not_in_ring): /);
    }
    expect(reason(() => open(ring, 'p', sealed.subarray(0, sealed.length - 20)))).toMatch(
      /^bad_envelope: .*failed authentication/,
    );
    expect(reason(() => open(ring, 'p', sealed.subarray(0, 10)))).toMatch(/^bad_envelope: .*truncated/);
    expect(reason(() => open(ring, 'p', Buffer.from('{"Account":{}}')))).toMatch(
      /^bad_envelope: .*not a cache envelope/,
    );
    const future = Buffer.from(sealed);
    future[3] = 9;
    expect(reason(() => open(ring, 'p', future))).toMatch(/^unknown_format_version: .*version 9/);
  });

  it('reads under an older key of the ring and reports which key sealed it', () => {
    const sealed = seal(createKeyRing([keyA]), 'p', plaintext);
    expect(open(createKeyRing([keyB, keyA]), 'p', sealed).keyId).toBe('a');
    expect(reason(() => open(createKeyRing([keyB]), 'p', sealed))).toMatch(/^key_not_in_ring: .*"a"/);
  });
});

describe('key ring setting', () => {
  it('parses current-first and generates valid settings', () => {
    const ring = parseKeyRing(`${generateKeySetting('new')}, ${generateKeySetting('old')}`);
    expect(ring.current.id).toBe('new');
    expect(ring.ids).toEqual(['new', 'old']);
  });

  it('rejects bad settings without echoing key material', () => {
    const secret = randomBytes(16).toString('base64');
    for (const bad of [
      '',
      'nocolon',
      `short:${secret}`,
      'bad id!:AAAA',
      `a:${randomBytes(32).toString('base64')},a:${randomBytes(32).toString('base64')}`,
    ]) {
      let error: unknown;
      try {
        parseKeyRing(bad);
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'invalid_key_ring' });
      expect((error as Error).message).not.toContain(secret);
    }
  });
});
