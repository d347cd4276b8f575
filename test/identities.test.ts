import { describe, expect, it } from 'vitest';
import { PartitionedTokenCache, TokenCacheError, createMemoryStore } from '../lib/index.js';
import { newId, newKeyRing } from './support/stack.js';

describe('tenant ids', () => {
  it('PartitionedTokenCache refuses a tenant given as a domain name or alias (invalid_options)', () => {
    const options = (tenantId: string) => ({
      auth: { clientId: newId(), tenantId, clientSecret: 'x' },
      cache: { store: createMemoryStore(), keyRing: newKeyRing() },
    });
    for (const tenantId of ['contoso.onmicrosoft.com', 'organizations', 'common', `${newId()}x`]) {
      let thrown: unknown;
      try {
        new PartitionedTokenCache(options(tenantId));
      } catch (error) {
        thrown = error;
      }
      expect(thrown, tenantId).toBeInstanceOf(TokenCacheError);
      expect((thrown as TokenCacheError).code, tenantId).toBe('invalid_options');
      expect((thrown as TokenCacheError).message, tenantId).toMatch(
        /auth\.tenantId must be the tenant's id \(a GUID\)/,
      );
    }
    const upper = new PartitionedTokenCache(options(newId().toUpperCase()));
    expect(upper.tenantId).toBe(upper.tenantId.toLowerCase());
  });
});
