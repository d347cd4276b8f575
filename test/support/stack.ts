/**
 * What tests use of the stack the global setup started: the emulators, the local authority (through its admin
 * endpoints, since it runs in the main process) and the downstream API. Every helper isolates a test by fresh
 * names: its own table/container, client id, tenant id.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, inject } from 'vitest';
import { httpsRequest, trustingAgent } from '../../dev/https-trust.js';
import {
  PartitionedTokenCache,
  createCosmosStore,
  createKeyRing,
  createMemoryStore,
  createRedisStore,
  createTableStore,
  type CacheStore,
  type KeyRing,
  type WarmTierOptions,
  type TokenCacheLogger,
} from '../../lib/index.js';
import { redisSkipNote } from './emulators.js';
import { logLine, newCacheKey } from './log-audit.js';

export const CLIENT_SECRET = 'dev-client-secret';

export function stack() {
  return inject('stack');
}

let agent: ReturnType<typeof trustingAgent> | undefined;

async function admin<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const { url, ca } = stack().authority;
  agent ??= trustingAgent(ca);
  const response = await httpsRequest(agent, `${url}/_admin/${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  if (response.status !== 200) throw new Error(`authority admin ${path}: HTTP ${response.status} ${response.body}`);
  return JSON.parse(response.body) as T;
}

export interface RequestCounts {
  total: number;
  token: number;
  byGrant: Record<string, number>;
  authorize: number;
  metadata: number;
  jwks: number;
}

/** The local authority, as seen from a test worker. */
export const authority = {
  requests: (clientId: string) => admin<RequestCounts>('GET', `requests?client_id=${encodeURIComponent(clientId)}`),
  mint: async (claims: Record<string, unknown>, opts: { expiresInSeconds?: number; notBeforeSeconds?: number } = {}) =>
    (await admin<{ token: string }>('POST', 'mint', { claims, ...opts })).token,
  refreshTokens: async (clientId: string, oid: string) =>
    (
      await admin<{
        refreshTokens: { token: string; issuedAt: string; issuedBy: string; revoked: boolean; superseded: boolean }[];
      }>('GET', `refresh-tokens?client_id=${encodeURIComponent(clientId)}&oid=${encodeURIComponent(oid)}`)
    ).refreshTokens,
  revoke: (oid: string, tid?: string) => admin('POST', 'revoke', { oid, ...(tid ? { tid } : {}) }),
  requireInteraction: (oid: string, claims: Record<string, unknown> | null) =>
    admin('POST', 'require-interaction', { oid, claims }),
  /** An incoming token of user `oid` for `app`'s web API, as a client app would send it (the OBO assertion). */
  callerToken: (app: { clientId: string; tenantId: string }, oid: string) =>
    authority.mint({ oid, sub: oid, tid: app.tenantId, aud: app.clientId, scp: 'access_as_user' }),
  /** The same for the function app's web API, whose audience is `api://{clientId}`; `extra` claims are added. */
  webApiToken: (app: { clientId: string; tenantId: string }, oid: string, extra: Record<string, unknown> = {}) =>
    authority.mint({ oid, sub: oid, tid: app.tenantId, aud: `api://${app.clientId}`, scp: 'access_as_user', ...extra }),
  /** The next `count` token requests of `clientId` answer `status`. */
  failNext: (clientId: string, count: number, status: number, oauth?: { error: string; aadsts: number }) =>
    admin('POST', 'fail', { count, status, client_id: clientId, ...(oauth ?? {}) }),
  /** A CAE critical event; `at` (epoch seconds): tokens issued before it predate it. */
  criticalEvent: (oid: string, kind: 'revoke_session' | 'reissue', tid?: string) =>
    admin<{ at: number; revoked: number }>('POST', 'critical-event', { oid, kind, ...(tid ? { tid } : {}) }),
  /** Whether the registration of API `resource` (a token audience) requests the `xms_cc` optional claim (default yes). */
  requestXmsCc: (resource: string, requested: boolean) =>
    admin('POST', 'optional-claims', { resource, xms_cc: requested }),
  /** Redeeming a refresh token of `clientId` supersedes every older one of the user (stricter than Entra). */
  strictRotation: (clientId: string, enabled = true) =>
    admin('POST', 'strict-rotation', { enabled, client_id: clientId }),
  secretsMark: async () => (await admin<{ mark: number }>('POST', 'secrets-mark', {})).mark,
  /** Every secret the authority issued or received after `mark` (all test files' alike). */
  secretsSince: (mark: number) =>
    admin<{ truncated: boolean; secrets: { kind: string; value: string }[] }>('GET', `secrets?since=${mark}`),
};

/** The downstream API of the stack, as seen from a test worker. */
export const downstream = {
  /** Requests with a valid token of tenant `tid`, and how many were answered with a claims challenge. */
  requests: async (tid: string): Promise<{ total: number; challenges: number }> => {
    const response = await fetch(`${stack().downstream.url}/_admin/requests?tid=${encodeURIComponent(tid)}`);
    if (response.status !== 200) throw new Error(`downstream admin requests: HTTP ${response.status}`);
    return (await response.json()) as { total: number; challenges: number };
  },
};

export function newId(): string {
  return randomUUID();
}

export function newKeyRing(id = 'k1'): KeyRing {
  return createKeyRing([newCacheKey(id)]);
}

export type StoreKind = 'memory' | 'cosmos' | 'table' | 'redis';

/**
 * One `describe` per store kind, named `${name} on the ${kind} store`. A kind this run cannot test — Redis without
 * redis-server, possible outside CI only (see global-setup) — is a skipped suite whose name says why, not left out.
 */
export function describeStores(kinds: readonly StoreKind[], name: string, body: (kind: StoreKind) => void): void {
  for (const kind of kinds) {
    const skipped = kind === 'redis' && stack().redis === undefined;
    describe.skipIf(skipped)(`${name} on the ${kind} store${kind === 'redis' ? redisSkipNote() : ''}`, () =>
      body(kind),
    );
  }
}

/**
 * A fresh, empty store of a kind (own table / container named `{c|t}{suffix}`, own Redis key prefix `r{suffix}:`),
 * connected to the run's emulators.
 */
export function newStore(kind: StoreKind, suffix = randomBytes(6).toString('hex')): CacheStore {
  const s = stack();
  switch (kind) {
    case 'memory':
      return createMemoryStore();
    case 'cosmos':
      return createCosmosStore({
        endpoint: s.cosmos.endpoint,
        key: s.cosmos.key,
        databaseId: 'tests',
        containerId: `c${suffix}`,
        createIfMissing: true,
        connectionPolicy: { enableEndpointDiscovery: false },
      });
    case 'table':
      return createTableStore({
        connectionString: s.table.connectionString,
        tableName: `t${suffix}`,
        createIfMissing: true,
        allowInsecureConnection: true,
      });
    case 'redis':
      if (!s.redis) throw new Error('redis-server is not available in this run');
      return createRedisStore({ url: s.redis.url, keyPrefix: `r${suffix}:` });
  }
}

export interface TestApp {
  readonly clientId: string;
  readonly tenantId: string;
  readonly tokens: PartitionedTokenCache;
  readonly store: CacheStore;
  readonly keyRing: KeyRing;
}

/**
 * A confidential client app registration of its own (fresh client id and tenant) with its token cache over `store`
 * — an app instance. Two instances of one app share `clientId`, `tenantId` and `keyRing`.
 */
export function newApp(
  store: CacheStore,
  options: {
    keyRing?: KeyRing;
    clientId?: string;
    tenantId?: string;
    warmTier?: WarmTierOptions;
    logger?: TokenCacheLogger;
    clientCapabilities?: string[];
    /** The library's telemetry lines (off unless asked for: most tests assert on warnings only). */
    telemetry?: boolean;
  } = {},
): TestApp {
  const { url, ca } = stack().authority;
  const clientId = options.clientId ?? newId();
  const tenantId = options.tenantId ?? newId();
  const keyRing = options.keyRing ?? newKeyRing();
  const tokens = new PartitionedTokenCache({
    auth: {
      clientId,
      tenantId,
      authorityHost: url,
      clientSecret: CLIENT_SECRET,
      ...(options.clientCapabilities ? { clientCapabilities: options.clientCapabilities } : {}),
    },
    cache: { store, keyRing, ...(options.warmTier ? { warmTier: options.warmTier } : {}) },
    system: { ca, logger: options.logger ?? captureLogger(), telemetry: options.telemetry ?? false },
  });
  return { clientId, tenantId, tokens, store, keyRing };
}

/**
 * A logger that keeps every line, to assert on warnings; every line also goes to the file's log audit, which
 * searches it for secrets.
 */
export function captureLogger(): TokenCacheLogger & { lines: string[] } {
  const lines: string[] = [];
  const push =
    (level: string) =>
    (...args: unknown[]) =>
      lines.push(logLine(`${level}:`, ...args));
  return { lines, info: push('info'), warn: push('warn'), error: push('error') };
}
