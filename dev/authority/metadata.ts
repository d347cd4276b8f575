import { isGuid } from './ids.js';

/** Entra publishes a `{tenantid}` placeholder as the issuer of its multi-tenant endpoints. */
const MULTI_TENANT = new Set(['common', 'organizations', 'consumers']);

export function issuerFor(baseUrl: string, tenant: string): string {
  return `${baseUrl}/${tenant}/v2.0`;
}

export function jwksUriFor(baseUrl: string, tenant: string): string {
  return `${baseUrl}/${tenant}/discovery/v2.0/keys`;
}

/**
 * The v2.0 openid-configuration of one tenant (the fields MSAL reads, plus Entra's usual ones). The endpoints a
 * browser opens (authorize, logout) are on `browserUrl`, the others on `baseUrl`. msal-node does not read
 * `device_authorization_endpoint`: it derives the device code endpoint from `token_endpoint` (`/token` →
 * `/devicecode`), which is the same URL.
 */
export function openIdConfiguration(baseUrl: string, tenant: string, browserUrl = baseUrl): Record<string, unknown> {
  const tenantUrl = `${baseUrl}/${tenant}`;
  const browserTenantUrl = `${browserUrl}/${tenant}`;
  const issuerTenant = MULTI_TENANT.has(tenant.toLowerCase())
    ? '{tenantid}'
    : isGuid(tenant)
      ? tenant.toLowerCase()
      : tenant;
  return {
    issuer: issuerFor(baseUrl, issuerTenant),
    authorization_endpoint: `${browserTenantUrl}/oauth2/v2.0/authorize`,
    token_endpoint: `${tenantUrl}/oauth2/v2.0/token`,
    jwks_uri: jwksUriFor(baseUrl, tenant),
    end_session_endpoint: `${browserTenantUrl}/oauth2/v2.0/logout`,
    device_authorization_endpoint: `${tenantUrl}/oauth2/v2.0/devicecode`,
    token_endpoint_auth_methods_supported: ['client_secret_post'],
    response_types_supported: ['code'],
    response_modes_supported: ['query', 'form_post'],
    grant_types_supported: [
      'authorization_code',
      'client_credentials',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
      'urn:ietf:params:oauth:grant-type:device_code',
    ],
    code_challenge_methods_supported: ['S256'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    claims_supported: [
      'sub',
      'iss',
      'aud',
      'exp',
      'iat',
      'nbf',
      'name',
      'nonce',
      'oid',
      'tid',
      'preferred_username',
      'ver',
    ],
    request_uri_parameter_supported: false,
    http_logout_supported: true,
    frontchannel_logout_supported: false,
    tenant_region_scope: null,
    cloud_instance_name: new URL(baseUrl).host,
  };
}
