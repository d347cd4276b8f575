import { describe, expect, it } from 'vitest';
import {
  COSMOS_ID_MAX_LENGTH,
  TABLE_KEY_MAX_LENGTH,
  decodeKey,
  encodeCosmosId,
  encodeKey,
} from '../../lib/stores/keys.js';

describe('encodeCosmosId', () => {
  it('escapes the ids "." and "..", injectively, and encodes every other key as encodeKey does', () => {
    expect(encodeCosmosId('.')).toBe('~2E');
    expect(encodeCosmosId('..')).toBe('~2E~2E');
    expect(decodeKey(encodeCosmosId('.'))).toBe('.');
    expect(decodeKey(encodeCosmosId('..'))).toBe('..');
    for (const key of ['...', '.a', 'a.', '~2E', '~2E~2E', 'bg.1', 'a/..', '. ', '.'.repeat(300)]) {
      expect(encodeCosmosId(key)).toBe(encodeKey(key, COSMOS_ID_MAX_LENGTH));
      expect(encodeCosmosId(key)).not.toBe(encodeCosmosId('.'));
      expect(encodeCosmosId(key)).not.toBe(encodeCosmosId('..'));
    }
    // Table keys go in quoted OData literals, not URL path segments: their encoding is unchanged.
    expect(encodeKey('..', TABLE_KEY_MAX_LENGTH)).toBe('..');
  });
});
