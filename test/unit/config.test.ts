import { describe, expect, it } from 'vitest';
import { SettingsError, parseSettings } from '../../app/settings.js';

const base = {
  AUTH_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  AUTH_CLIENT_ID: 'client-1',
  AUTH_CLIENT_SECRET: 'not-a-real-secret',
  CACHE_KEYS: 'k1:AAAA',
  TABLE_CONNECTION_STRING: 'UseDevelopmentStorage=true',
};

function error(env: Record<string, string>): string {
  try {
    parseSettings(env);
  } catch (e) {
    expect(e).toBeInstanceOf(SettingsError);
    return (e as Error).message;
  }
  throw new Error('expected a SettingsError');
}

describe('configuration', () => {
  it('refuses to start without a cache key ring: no silent plaintext, no fallback key', () => {
    expect(error({ ...base, CACHE_KEYS: '' })).toMatch(/CACHE_KEYS is missing/);
  });

  it('names the missing or malformed setting', () => {
    expect(error({ ...base, AUTH_TENANT_ID: '' })).toMatch(/AUTH_TENANT_ID/);
    expect(error({ ...base, CACHE_STORE: 'mongo' })).toMatch(
      /CACHE_STORE must be one of cosmos, table, (redis, )?memory/,
    );
    expect(error({ ...base, CACHE_COMPRESS: 'yes' })).toMatch(/CACHE_COMPRESS must be true or false/);
    expect(error({ ...base, CACHE_LIFETIME_DAYS: '-1' })).toMatch(/CACHE_LIFETIME_DAYS/);
    expect(error({ ...base, AUTH_AUTHORITY_HOST: 'not a url' })).toMatch(/AUTH_AUTHORITY_HOST must be an absolute URL/);
    expect(error({ ...base, CACHE_STORE: 'cosmos' })).toMatch(/COSMOS_ENDPOINT/);
    expect(error({ ...base, TABLE_CONNECTION_STRING: '' })).toMatch(/TABLE_CONNECTION_STRING or TABLE_ACCOUNT_URL/);
    expect(error({ ...base, AUTH_CLIENT_SECRET: '' })).toMatch(/AUTH_CLIENT_SECRET or AUTH_CLIENT_CERTIFICATE_PATH/);
    expect(error({ ...base, AUTH_CLIENT_CERTIFICATE_PATH: '/nonexistent.pem' })).toMatch(/only one of/);
    expect(error({ ...base, AUTH_CLIENT_CAPABILITIES: 'cp 1' })).toMatch(/AUTH_CLIENT_CAPABILITIES must list names/);
    expect(error({ ...base, AUTH_CLIENT_CAPABILITIES: 'cp1,none' })).toMatch(/AUTH_CLIENT_CAPABILITIES/);
  });

  it('declares cp1 by default; none declares no capability', () => {
    expect(parseSettings(base).identity.clientCapabilities).toEqual(['cp1']);
    expect(parseSettings({ ...base, AUTH_CLIENT_CAPABILITIES: 'none' }).identity.clientCapabilities).toEqual([]);
    expect(parseSettings({ ...base, AUTH_CLIENT_CAPABILITIES: 'cp1, cp2' }).identity.clientCapabilities).toEqual([
      'cp1',
      'cp2',
    ]);
  });

  it('requires tenant ids, not domain names: a domain would match no token tid and no partition', () => {
    expect(error({ ...base, AUTH_TENANT_ID: 'contoso.onmicrosoft.com' })).toMatch(
      /AUTH_TENANT_ID must be the tenant's id \(a GUID\), not a domain name or alias: got "contoso.onmicrosoft.com"/,
    );
    expect(error({ ...base, AUTH_TENANT_ID: 'common' })).toMatch(/AUTH_TENANT_ID must be the tenant's id/);
    expect(error({ ...base, AUTH_ALLOWED_TENANTS: `${base.AUTH_TENANT_ID},fabrikam.com` })).toMatch(
      /AUTH_ALLOWED_TENANTS must list tenant ids \(GUIDs\): "fabrikam.com" is not one/,
    );
    const upper = parseSettings({ ...base, AUTH_TENANT_ID: base.AUTH_TENANT_ID.toUpperCase() });
    expect(upper.identity.tenantId).toBe(base.AUTH_TENANT_ID);
    expect(upper.web.allowedTenants).toEqual([base.AUTH_TENANT_ID]);
  });

  it('takes the v1.0 issuer as a URL with {tenantId} in it', () => {
    expect(parseSettings(base).web.v1Issuer).toBe('https://sts.windows.net/{tenantId}/');
    expect(error({ ...base, AUTH_V1_ISSUER: 'https://sts.windows.net/' })).toMatch(
      /AUTH_V1_ISSUER must contain \{tenantId\}/,
    );
    expect(error({ ...base, AUTH_V1_ISSUER: '{tenantId}' })).toMatch(/AUTH_V1_ISSUER must be an absolute URL/);
  });

  it('applies documented defaults and freezes the result', () => {
    const config = parseSettings(base);
    expect(config.cache).toMatchObject({ store: 'table', compress: true, lifetimeDays: 90, createIfMissing: false });
    expect(config.identity.authorityHost).toBe('https://login.microsoftonline.com');
    expect(config.web.audiences).toEqual(['client-1', 'api://client-1']);
    expect(config.web.allowedTenants).toEqual(['72f988bf-86f1-41af-91ab-2d7cd011db47']);
    expect(config.web.requiredScope).toBe('access_as_user');
    expect(Object.isFrozen(config.cache)).toBe(true);
    expect(JSON.stringify(config)).not.toMatch(/undefined/);
  });
});
