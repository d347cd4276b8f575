import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { JSONWebKeySet } from 'jose';
import { AuthorityAdmin, handleAdmin, type RefreshTokenInfo } from './admin.js';
import { handleAuthorize } from './authorize.js';
import { RequestCounters, type RequestCounts } from './counters.js';
import { HttpError, redirect, sendHtml, sendJson, sendText } from './http.js';
import { createSigningKey, type MintOptions } from './keys.js';
import { issuerFor, jwksUriFor, openIdConfiguration } from './metadata.js';
import { signedOutPage } from './pages.js';
import { CodeStore, FailureInjector, InteractionRequirements, RefreshTokenStore } from './state.js';
import { createTlsMaterial } from './tls.js';
import { handleToken, type TokenEndpointDeps } from './token.js';
import { DEFAULT_USERS, UserDirectory, type DevUser } from './users.js';

export type { DevUser } from './users.js';
export type { RequestCounts } from './counters.js';
export type { RefreshTokenInfo } from './admin.js';
export type { MintOptions } from './keys.js';

export interface AuthorityOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** The one secret every client must present. Default 'dev-client-secret'. */
  clientSecret?: string;
  /** Default 3600. */
  accessTokenLifetimeSeconds?: number;
  /** Default: Alice, Bob, Carol and Dave with fixed oids, in every tenant. */
  users?: DevUser[];
}

export interface LocalAuthority {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** The PEM certificate clients must trust. */
  readonly ca: string;
  /** '127.0.0.1:PORT', for MSAL's knownAuthorities. */
  readonly host: string;
  /** The public signing keys (the JWKS document). */
  readonly jwks: JSONWebKeySet;
  /** `${url}/${tenantId}`: what MSAL gets as `authority`. */
  authorityUrl(tenantId: string): string;
  /** `${url}/${tenantId}/v2.0` */
  issuer(tenantId: string): string;
  jwksUri(tenantId: string): string;
  /** The openid-configuration as a JSON string, for MSAL's `authorityMetadata`. */
  metadata(tenantId: string): string;
  /** Signs `claims` with the authority key; `iss` defaults to issuer(claims.tid) and `ver` to '2.0'. */
  mint(claims: Record<string, unknown>, opts?: MintOptions): Promise<string>;
  /** Request counts for one client id, or over all requests. */
  requests(clientId?: string): RequestCounts;
  refreshTokens(clientId: string, oid: string): RefreshTokenInfo[];
  revoke(oid: string, tid?: string): number;
  requireInteraction(oid: string, claims: string | Record<string, unknown> | null): void;
  failNext(count: number, status: number, retryAfter?: number): void;
  close(): Promise<void>;
}

const TENANT_SEGMENT = /^[A-Za-z0-9._-]{1,128}$/;

export async function startLocalAuthority(options: AuthorityOptions = {}): Promise<LocalAuthority> {
  const hostName = options.host ?? '127.0.0.1';
  const [tls, key] = await Promise.all([createTlsMaterial(), createSigningKey()]);
  const counters = new RequestCounters();
  const state = {
    codes: new CodeStore(),
    refreshTokens: new RefreshTokenStore(),
    interaction: new InteractionRequirements(),
    failures: new FailureInjector(),
  };
  const users = new UserDirectory(options.users ?? DEFAULT_USERS);
  const lifetimeSeconds = options.accessTokenLifetimeSeconds ?? 3600;

  let baseUrl = '';
  const issuer = (tenant: string) => issuerFor(baseUrl, tenant);
  const mint = (claims: Record<string, unknown>, opts?: MintOptions) => {
    const defaults: Record<string, unknown> = { ver: '2.0' };
    if (typeof claims.tid === 'string') defaults.iss = issuer(claims.tid);
    return key.sign({ ...defaults, ...claims }, opts);
  };
  const admin = new AuthorityAdmin(counters, state.refreshTokens, state.interaction, state.failures, mint);
  const tokenDeps: TokenEndpointDeps = {
    ...state,
    get baseUrl() {
      return baseUrl;
    },
    key,
    tokens: { key, lifetimeSeconds, issuer },
    clientSecret: options.clientSecret ?? 'dev-client-secret',
    counters,
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', baseUrl);
    const segments = url.pathname.split('/').filter(Boolean);
    const [first = '', ...rest] = segments;
    const path = rest.join('/');
    const method = req.method ?? 'GET';

    if (first === '_admin' && rest.length === 1) return handleAdmin(req, res, rest[0]!, url, admin);
    if (!TENANT_SEGMENT.test(first)) {
      counters.countOther();
      throw new HttpError(404, 'Not found');
    }
    if (path === 'v2.0/.well-known/openid-configuration' && method === 'GET') {
      counters.countMetadata();
      return sendJson(res, 200, openIdConfiguration(baseUrl, first), { 'cache-control': 'max-age=3600' });
    }
    if (path === 'discovery/v2.0/keys' && method === 'GET') {
      counters.countJwks();
      return sendJson(res, 200, key.jwks, { 'cache-control': 'max-age=3600' });
    }
    if (path === 'oauth2/v2.0/authorize' && (method === 'GET' || method === 'POST')) {
      return handleAuthorize(req, res, first, url, {
        users,
        codes: state.codes,
        countAuthorize: (clientId) => counters.count('authorize', clientId),
      });
    }
    if (path === 'oauth2/v2.0/token' && method === 'POST') return handleToken(req, res, first, tokenDeps);
    if (path === 'oauth2/v2.0/logout' && method === 'GET') {
      counters.count('logout', url.searchParams.get('client_id') ?? undefined);
      const target = url.searchParams.get('post_logout_redirect_uri');
      if (target && /^https?:\/\//i.test(target)) return redirect(res, target);
      return sendHtml(res, 200, signedOutPage());
    }
    counters.countOther();
    throw new HttpError(404, 'Not found');
  };

  const server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    route(req, res).catch((e: unknown) => answerError(res, e));
  });
  await listen(server, options.port ?? 0, hostName);
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = hostName.includes(':') ? `[${hostName}]` : hostName;
  baseUrl = `https://${hostForUrl}:${port}`;

  return {
    url: baseUrl,
    ca: tls.cert,
    host: `${hostForUrl}:${port}`,
    jwks: key.jwks,
    authorityUrl: (tenantId) => `${baseUrl}/${tenantId}`,
    issuer,
    jwksUri: (tenantId) => jwksUriFor(baseUrl, tenantId),
    metadata: (tenantId) => JSON.stringify(openIdConfiguration(baseUrl, tenantId)),
    mint,
    requests: (clientId) => admin.requests(clientId),
    refreshTokens: (clientId, oid) => admin.refreshTokens(clientId, oid),
    revoke: (oid, tid) => admin.revoke(oid, tid),
    requireInteraction: (oid, claims) => admin.requireInteraction(oid, claims),
    failNext: (count, status, retryAfter) => admin.failNext(count, status, retryAfter),
    close: () => closeServer(server),
  };
}

function answerError(res: ServerResponse, e: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (e instanceof HttpError) return sendText(res, e.status, e.message);
  // Only the message: request bodies (secrets, tokens) never reach the log.
  console.error(`local authority: internal error: ${e instanceof Error ? e.message : String(e)}`);
  sendText(res, 500, 'Internal error');
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}
