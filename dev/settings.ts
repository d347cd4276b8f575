/**
 * The app settings of a local run on embedded defaults: the local authority stands in for Microsoft Entra ID,
 * Azurite for Table storage, the local downstream API for Microsoft Graph. `npm start` and the end-to-end tests
 * build their environment from here, so both run the app exactly as configured the same way.
 */
export const DEV_TENANT_ID = '7d0d9c1e-3f2a-4c55-9a61-0b7e5d8a1c01';
export const DEV_CLIENT_ID = '4f8e2b7a-1c3d-4e5f-8a9b-0c1d2e3f4a5b';
export const DEV_CLIENT_SECRET = 'dev-client-secret';
/**
 * The command-line client's app registration on the local authority (`dev/cli`): a public client (device code
 * flow, no secret) that calls this app's web API with the scope `api://{DEV_CLIENT_ID}/access_as_user`.
 */
export const DEV_PUBLIC_CLIENT_ID = '2b6d9f3c-5e7a-4c1b-8d2e-6f4a0c9b7e11';

export interface EmbeddedParts {
  /** `https://127.0.0.1:PORT` of the local authority. */
  readonly authorityUrl: string;
  /** Path of a PEM file holding the authority's certificate. */
  readonly authorityCaPath: string;
  readonly tableConnectionString: string;
  readonly tableName?: string;
  /** `http://127.0.0.1:PORT` of the local downstream API. */
  readonly downstreamUrl: string;
  /** `http://localhost:PORT` where the functions are served. */
  readonly appUrl: string;
  readonly cacheKeys: string;
  readonly sessionKeys: string;
  readonly tenantId?: string;
  readonly clientId?: string;
}

export function embeddedSettings(parts: EmbeddedParts): Record<string, string> {
  const tenantId = parts.tenantId ?? DEV_TENANT_ID;
  const clientId = parts.clientId ?? DEV_CLIENT_ID;
  return {
    AUTH_TENANT_ID: tenantId,
    AUTH_CLIENT_ID: clientId,
    AUTH_CLIENT_SECRET: DEV_CLIENT_SECRET,
    AUTH_AUTHORITY_HOST: parts.authorityUrl,
    AUTH_CA_PATH: parts.authorityCaPath,
    CACHE_STORE: 'table',
    TABLE_CONNECTION_STRING: parts.tableConnectionString,
    TABLE_NAME: parts.tableName ?? 'msalcache',
    TABLE_RECORDS_NAME: parts.tableName ? `${parts.tableName}records` : 'msalrecords',
    CACHE_CREATE_IF_MISSING: 'true',
    CACHE_KEYS: parts.cacheKeys,
    SESSION_KEYS: parts.sessionKeys,
    DOWNSTREAM_API_URL: `${parts.downstreamUrl}/v1.0/me`,
    DOWNSTREAM_SCOPES: 'https://graph.microsoft.com/User.Read',
    APP_DAEMON_API_URL: `${parts.downstreamUrl}/v1.0/me`,
    APP_DAEMON_SCOPES: 'https://graph.microsoft.com/.default',
    WEBAPP_REDIRECT_URI: `${parts.appUrl}/api/auth/callback`,
    WEBAPP_POST_LOGOUT_URI: `${parts.appUrl}/api/home`,
  };
}
