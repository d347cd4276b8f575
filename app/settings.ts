import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  DEFAULT_AUTHORITY_HOST,
  DEFAULT_CACHE_LIFETIME_MS,
  DEFAULT_COMPRESS,
  DEFAULT_COSMOS_CONTAINER_ID,
  DEFAULT_COSMOS_DATABASE_ID,
  DEFAULT_REDIS_KEY_PREFIX,
  DEFAULT_SWEEP_BUDGET,
  DEFAULT_TABLE_NAME,
  DEFAULT_WARM_TIER_BYTES,
  entraV1Issuer,
} from '../lib/index.js';

const MIB = 1024 * 1024;

/**
 * Every app setting the code reads, in one place: typed, validated, frozen. A missing or malformed setting is a
 * startup error that names it. `local.settings.sample.json` and the README list the same settings.
 */
export interface AppSettings {
  readonly identity: {
    /** AUTH_TENANT_ID — the app registration's home tenant. */
    readonly tenantId: string;
    /** AUTH_CLIENT_ID — the app registration's client id (also this web API's audience). */
    readonly clientId: string;
    /** AUTH_CLIENT_SECRET or AUTH_CLIENT_CERTIFICATE_PATH (PEM with private key and certificate). */
    readonly credential:
      | { readonly clientSecret: string }
      | { readonly clientCertificate: { thumbprintSha256: string; privateKey: string; x5c?: string } };
    /** AUTH_AUTHORITY_HOST — default the library's `DEFAULT_AUTHORITY_HOST`. */
    readonly authorityHost: string;
    /** AUTH_CA_PATH — extra CA to trust for the authority (local development authority only). */
    readonly ca?: string;
    /**
     * AUTH_CLIENT_CAPABILITIES — client capabilities declared on every token request, comma-separated; `none` declares
     * none. Default `cp1`: the app handles claims challenges (Continuous Access Evaluation) in every flow.
     */
    readonly clientCapabilities: readonly string[];
  };
  readonly web: WebSettings;
  readonly daemons: DaemonSettings;
  readonly cache: {
    /** CACHE_STORE — `cosmos`, `table`, `redis` or `memory`. */
    readonly store: 'cosmos' | 'table' | 'redis' | 'memory';
    /** CACHE_KEYS — key ring `id:base64key,...`, current key first. Required. */
    readonly keys: string;
    /** CACHE_COMPRESS — deflate before encrypting. Default true. */
    readonly compress: boolean;
    /** CACHE_LIFETIME_DAYS — a document untouched this long may be removed. Default 90. */
    readonly lifetimeDays: number;
    /** CACHE_CREATE_IF_MISSING — create the database/container/table on first use. Default false. */
    readonly createIfMissing: boolean;
    /** CACHE_WARM_TIER_MIB — per-instance warm tier (revalidated MSAL clients), in MiB; 0 turns it off. Default 32. */
    readonly warmTierMiB: number;
    readonly cosmos?: {
      /** COSMOS_ENDPOINT */ readonly endpoint: string;
      /** COSMOS_KEY — omit to use Microsoft Entra ID (managed identity). */ readonly key?: string;
      /** COSMOS_DATABASE — default `tokencache`. */ readonly databaseId: string;
      /** COSMOS_CONTAINER — default `msal`. */ readonly containerId: string;
      /** COSMOS_RECORDS_CONTAINER — the app's own records (opt-ins, cursor). Default `records`. */
      readonly recordsContainerId: string;
    };
    readonly table?: {
      /** TABLE_CONNECTION_STRING — or TABLE_ACCOUNT_URL for Microsoft Entra ID (managed identity). */
      readonly connectionString?: string;
      readonly accountUrl?: string;
      /** TABLE_NAME — default `msalcache`. */
      readonly tableName: string;
      /** TABLE_RECORDS_NAME — the app's own records (opt-ins, cursor). Default `msalrecords`. */
      readonly recordsTableName: string;
    };
    readonly redis?: {
      /** REDIS_URL — `redis://` or `rediss://` (TLS) host, port and database. */
      readonly url: string;
      /** REDIS_PASSWORD — access key or ACL password; omit for Microsoft Entra ID on Azure hosts. */
      readonly password?: string;
      /** REDIS_USERNAME — ACL user; with Entra ID the identity's object id (default: the token's `oid`). */
      readonly username?: string;
      /** REDIS_KEY_PREFIX — default `msalcache:`. */
      readonly keyPrefix: string;
      /** REDIS_RECORDS_KEY_PREFIX — the app's own records (opt-ins, cursor). Default `msalrecords:`. */
      readonly recordsKeyPrefix: string;
    };
  };
}

export interface WebSettings {
  /** AUTH_API_AUDIENCES — accepted `aud` of incoming tokens, comma-separated. Default `{clientId},api://{clientId}`. */
  readonly audiences: readonly string[];
  /** AUTH_ALLOWED_TENANTS — tenants whose users may call, comma-separated. Default the app's tenant. */
  readonly allowedTenants: readonly string[];
  /**
   * AUTH_V1_ISSUER — issuer of v1.0 access tokens, `{tenantId}` standing for the token's tenant. Default
   * `https://sts.windows.net/{tenantId}/` (Microsoft Entra; what an API gets when its manifest does not request v2).
   */
  readonly v1Issuer: string;
  /** AUTH_REQUIRED_SCOPE — scope the caller's token must carry in `scp`. Default `access_as_user`. */
  readonly requiredScope: string;
  /** DOWNSTREAM_API_URL — what the web API and web app call for the user. Default Graph `/v1.0/me`. */
  readonly downstreamUrl: string;
  /** DOWNSTREAM_SCOPES — delegated scopes for it, space-separated. Default `https://graph.microsoft.com/User.Read`. */
  readonly downstreamScopes: readonly string[];
  /** WEBAPP_REDIRECT_URI — the sign-in callback registered on the app. Default `http://localhost:7071/api/auth/callback`. */
  readonly redirectUri: string;
  /** WEBAPP_POST_LOGOUT_URI — where the authority returns after sign-out. Default `http://localhost:7071/api/home`. */
  readonly postLogoutUri: string;
  /** SESSION_KEYS — key ring (`id:base64key,...`) for the sign-in and session cookies. Required for the web app. */
  readonly sessionKeys: string | undefined;
}

export interface DaemonSettings {
  /** APP_DAEMON_API_URL — what the app daemon calls as the app. Default Graph `/v1.0/organization`. */
  readonly appApiUrl: string;
  /** APP_DAEMON_SCOPES — default `https://graph.microsoft.com/.default`. */
  readonly appScopes: readonly string[];
  /** USER_DAEMON_CONCURRENCY — users processed at once. Default 8. */
  readonly userConcurrency: number;
  /** USER_DAEMON_MAX_USERS — per-run budget of users. Default 1000. */
  readonly userBudget: number;
  /** SWEEPER_MAX_DELETES — most expired documents the sweeper removes per run. Default 1000. */
  readonly sweeperBudget: number;
}

export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function required(env: Env, name: string, why: string): string {
  const value = optional(env, name);
  if (value === undefined) throw new SettingsError(`setting ${name} is missing: ${why}`);
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const value = optional(env, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new SettingsError(`setting ${name} must be true or false, got "${value}"`);
}

function positiveNumber(env: Env, name: string, fallback: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new SettingsError(`setting ${name} must be a positive number, got "${raw}"`);
  return value;
}

function nonNegativeNumber(env: Env, name: string, fallback: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new SettingsError(`setting ${name} must be a number ≥ 0, got "${raw}"`);
  return value;
}

function url(env: Env, name: string, fallback?: string): string {
  const value = optional(env, name) ?? fallback;
  if (value === undefined) throw new SettingsError(`setting ${name} is missing`);
  try {
    return new URL(value).toString().replace(/\/+$/, '');
  } catch {
    throw new SettingsError(`setting ${name} must be an absolute URL, got "${value}"`);
  }
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = optional(env, name) ?? fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new SettingsError(`setting ${name} must be one of ${allowed.join(', ')}, got "${value}"`);
  }
  return value as T;
}

function readFile(name: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new SettingsError(`setting ${name} names a file that cannot be read: ${(error as Error).message}`);
  }
}

function credential(env: Env): AppSettings['identity']['credential'] {
  const secret = optional(env, 'AUTH_CLIENT_SECRET');
  const certPath = optional(env, 'AUTH_CLIENT_CERTIFICATE_PATH');
  if (secret && certPath)
    throw new SettingsError('set only one of AUTH_CLIENT_SECRET and AUTH_CLIENT_CERTIFICATE_PATH');
  if (secret) return { clientSecret: secret };
  if (!certPath) throw new SettingsError('setting AUTH_CLIENT_SECRET or AUTH_CLIENT_CERTIFICATE_PATH is missing');
  return { clientCertificate: parseCertificate(readFile('AUTH_CLIENT_CERTIFICATE_PATH', certPath)) };
}

function parseCertificate(pem: string): { thumbprintSha256: string; privateKey: string; x5c: string } {
  const key = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC )?PRIVATE KEY-----/.exec(pem)?.[0];
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!key || !cert) {
    throw new SettingsError('AUTH_CLIENT_CERTIFICATE_PATH must name a PEM file with a private key and a certificate');
  }
  const der = Buffer.from(cert.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  return { thumbprintSha256: createHash('sha256').update(der).digest('hex'), privateKey: key, x5c: cert };
}

/** Parses and validates settings. Pure: tests pass their own environment. */
export function parseSettings(env: Env): AppSettings {
  const store = oneOf(env, 'CACHE_STORE', ['cosmos', 'table', 'redis', 'memory'] as const, 'table');
  const caPath = optional(env, 'AUTH_CA_PATH');
  const config: AppSettings = {
    identity: {
      tenantId: tenantId(env),
      clientId: required(env, 'AUTH_CLIENT_ID', 'the client id of the app registration'),
      credential: credential(env),
      authorityHost: url(env, 'AUTH_AUTHORITY_HOST', DEFAULT_AUTHORITY_HOST),
      ...(caPath ? { ca: readFile('AUTH_CA_PATH', caPath) } : {}),
      clientCapabilities: clientCapabilities(env),
    },
    web: webSettings(env),
    daemons: {
      appApiUrl: url(env, 'APP_DAEMON_API_URL', 'https://graph.microsoft.com/v1.0/organization'),
      appScopes: list(env, 'APP_DAEMON_SCOPES', ' ', ['https://graph.microsoft.com/.default']),
      userConcurrency: positiveNumber(env, 'USER_DAEMON_CONCURRENCY', 8),
      userBudget: positiveNumber(env, 'USER_DAEMON_MAX_USERS', 1000),
      sweeperBudget: positiveNumber(env, 'SWEEPER_MAX_DELETES', DEFAULT_SWEEP_BUDGET),
    },
    cache: {
      store,
      keys: required(env, 'CACHE_KEYS', 'the key ring that encrypts cached tokens at rest ("id:base64key,...")'),
      compress: bool(env, 'CACHE_COMPRESS', DEFAULT_COMPRESS),
      lifetimeDays: positiveNumber(env, 'CACHE_LIFETIME_DAYS', DEFAULT_CACHE_LIFETIME_MS / 86_400_000),
      createIfMissing: bool(env, 'CACHE_CREATE_IF_MISSING', false),
      warmTierMiB: nonNegativeNumber(env, 'CACHE_WARM_TIER_MIB', DEFAULT_WARM_TIER_BYTES / MIB),
      ...(store === 'cosmos'
        ? {
            cosmos: {
              endpoint: url(env, 'COSMOS_ENDPOINT'),
              ...(optional(env, 'COSMOS_KEY') ? { key: optional(env, 'COSMOS_KEY') } : {}),
              databaseId: optional(env, 'COSMOS_DATABASE') ?? DEFAULT_COSMOS_DATABASE_ID,
              containerId: optional(env, 'COSMOS_CONTAINER') ?? DEFAULT_COSMOS_CONTAINER_ID,
              recordsContainerId: optional(env, 'COSMOS_RECORDS_CONTAINER') ?? 'records',
            },
          }
        : {}),
      ...(store === 'table' ? { table: tableSettings(env) } : {}),
      ...(store === 'redis' ? { redis: redisSettings(env) } : {}),
    },
  };
  return deepFreeze(config);
}

function list(env: Env, name: string, separator: string, fallback: readonly string[]): readonly string[] {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const items = raw
    .split(separator)
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  if (items.length === 0) throw new SettingsError(`setting ${name} must list at least one value`);
  return items;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** AUTH_TENANT_ID: a domain name would name no token's `tid`, so the app partition and allow-list would be wrong. */
function tenantId(env: Env): string {
  const value = required(env, 'AUTH_TENANT_ID', 'the tenant of the app registration');
  if (!GUID.test(value)) {
    throw new SettingsError(
      `setting AUTH_TENANT_ID must be the tenant's id (a GUID), not a domain name or alias: got "${value}" ` +
        '(find it in the Entra admin center, Overview, Tenant ID)',
    );
  }
  return value.toLowerCase();
}

function allowedTenants(env: Env): readonly string[] {
  const tenants = list(env, 'AUTH_ALLOWED_TENANTS', ',', [tenantId(env)]);
  const named = tenants.find((t) => !GUID.test(t));
  if (named !== undefined) {
    throw new SettingsError(`setting AUTH_ALLOWED_TENANTS must list tenant ids (GUIDs): "${named}" is not one`);
  }
  return tenants.map((t) => t.toLowerCase());
}

function v1Issuer(env: Env): string {
  const value = optional(env, 'AUTH_V1_ISSUER') ?? entraV1Issuer('{tenantId}');
  if (!value.includes('{tenantId}')) {
    throw new SettingsError(`setting AUTH_V1_ISSUER must contain {tenantId} where the tenant id goes, got "${value}"`);
  }
  if (!URL.canParse(value.replace('{tenantId}', '00000000-0000-0000-0000-000000000000'))) {
    throw new SettingsError(`setting AUTH_V1_ISSUER must be an absolute URL, got "${value}"`);
  }
  return value;
}

function clientCapabilities(env: Env): readonly string[] {
  const names = list(env, 'AUTH_CLIENT_CAPABILITIES', ',', ['cp1']);
  if (names.length === 1 && names[0]!.toLowerCase() === 'none') return [];
  for (const name of names) {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(name) || name.toLowerCase() === 'none') {
      throw new SettingsError(
        `setting AUTH_CLIENT_CAPABILITIES must list names such as cp1, or be none; got "${name}"`,
      );
    }
  }
  return names;
}

function webSettings(env: Env): WebSettings {
  const clientId = optional(env, 'AUTH_CLIENT_ID') ?? '';
  return {
    audiences: list(env, 'AUTH_API_AUDIENCES', ',', [clientId, `api://${clientId}`]),
    allowedTenants: allowedTenants(env),
    v1Issuer: v1Issuer(env),
    requiredScope: optional(env, 'AUTH_REQUIRED_SCOPE') ?? 'access_as_user',
    downstreamUrl: url(env, 'DOWNSTREAM_API_URL', 'https://graph.microsoft.com/v1.0/me'),
    downstreamScopes: list(env, 'DOWNSTREAM_SCOPES', ' ', ['https://graph.microsoft.com/User.Read']),
    redirectUri: url(env, 'WEBAPP_REDIRECT_URI', 'http://localhost:7071/api/auth/callback'),
    postLogoutUri: url(env, 'WEBAPP_POST_LOGOUT_URI', 'http://localhost:7071/api/home'),
    sessionKeys: optional(env, 'SESSION_KEYS'),
  };
}

/** A timer schedule (NCRONTAB, six fields) from a setting, read when the function registers. */
export function scheduleSetting(
  name: 'APP_DAEMON_SCHEDULE' | 'USER_DAEMON_SCHEDULE' | 'SWEEPER_SCHEDULE',
  fallback: string,
): string {
  const value = optional(process.env, name) ?? fallback;
  if (value.split(/\s+/).length !== 6) {
    throw new SettingsError(`setting ${name} must be an NCRONTAB expression with six fields, got "${value}"`);
  }
  return value;
}

function tableSettings(env: Env): NonNullable<AppSettings['cache']['table']> {
  const connectionString = optional(env, 'TABLE_CONNECTION_STRING');
  const accountUrl = optional(env, 'TABLE_ACCOUNT_URL');
  if (!connectionString && !accountUrl) {
    throw new SettingsError('CACHE_STORE=table needs TABLE_CONNECTION_STRING or TABLE_ACCOUNT_URL');
  }
  return {
    ...(connectionString ? { connectionString } : { accountUrl: url(env, 'TABLE_ACCOUNT_URL') }),
    tableName: optional(env, 'TABLE_NAME') ?? DEFAULT_TABLE_NAME,
    recordsTableName: optional(env, 'TABLE_RECORDS_NAME') ?? 'msalrecords',
  };
}

function redisSettings(env: Env): NonNullable<AppSettings['cache']['redis']> {
  const value = optional(env, 'REDIS_URL');
  if (value === undefined)
    throw new SettingsError('CACHE_STORE=redis needs REDIS_URL (redis://host:port or rediss://)');
  let protocol: string;
  try {
    protocol = new URL(value).protocol;
  } catch {
    throw new SettingsError(
      `setting REDIS_URL must be a redis:// or rediss:// URL, got "${value.replace(/\/\/[^@/]*@/, '//***@')}"`,
    );
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new SettingsError(`setting REDIS_URL must be a redis:// or rediss:// URL, not ${protocol}//`);
  }
  const password = optional(env, 'REDIS_PASSWORD');
  const username = optional(env, 'REDIS_USERNAME');
  const keyPrefix = optional(env, 'REDIS_KEY_PREFIX') ?? DEFAULT_REDIS_KEY_PREFIX;
  const recordsKeyPrefix = optional(env, 'REDIS_RECORDS_KEY_PREFIX') ?? 'msalrecords:';
  for (const [name, prefix] of [
    ['REDIS_KEY_PREFIX', keyPrefix],
    ['REDIS_RECORDS_KEY_PREFIX', recordsKeyPrefix],
  ] as const) {
    if (/[{}]/.test(prefix)) throw new SettingsError(`setting ${name} must not contain { or }`);
  }
  return {
    url: value,
    ...(password ? { password } : {}),
    ...(username ? { username } : {}),
    keyPrefix,
    recordsKeyPrefix,
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The process's settings, read from `process.env` (the app's one reader of it; the library reads none). */
export function loadSettings(): AppSettings {
  return parseSettings(process.env);
}
