/**
 * A Graph-like downstream API on plain HTTP (loopback): `GET /v1.0/me` accepts bearer tokens of the local
 * authority, validated with jose (signature against its JWKS, issuer, audience, lifetime).
 *
 * Continuous Access Evaluation, as Microsoft Graph does it: given the authority's `criticalEvents` feed, a token of a
 * client that declared the `cp1` capability (`xms_cc`) issued before its user's latest critical event gets a 401
 * claims challenge. A token without `cp1` is never challenged: Graph challenges CAE-capable clients only, and the
 * others get short-lived tokens (an hour) instead.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { formatClaimsChallenge } from '../lib/index.js';
import type { CriticalEvent, CriticalEventFeed } from './authority/critical-events.js';
import { httpsRequest } from './https-trust.js';

/** The JWKS itself, or where to fetch it once at start (with the CA to trust for https). */
export type JwksSource = JSONWebKeySet | { url: string; ca?: string };

export interface DownstreamOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  jwks: JwksSource;
  /** Accepted `iss` values, or a predicate. */
  issuers: ((iss: string) => boolean) | string[];
  /** Accepted `aud` values. */
  audience: string | string[];
  /**
   * The local authority's critical events (`LocalAuthority.cae`; it runs in the same process). Without it, no
   * token is challenged.
   */
  criticalEvents?: CriticalEventFeed;
}

export interface DownstreamApi {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** Requests to the API (admin requests not counted). */
  requests(): number;
  /** Requests answered with a claims challenge (CAE). */
  challenges(): number;
  /**
   * Requests with a valid token of tenant `tid`, and those answered with a claims challenge — also over
   * `GET /_admin/requests?tid=…` — so tests sharing the API each count their own (each uses a tenant of its own).
   */
  requestsOf(tid: string): TenantCounts;
  close(): Promise<void>;
}

export interface TenantCounts {
  total: number;
  challenges: number;
}

export async function startDownstreamApi(opts: DownstreamOptions): Promise<DownstreamApi> {
  const keySet = createLocalJWKSet(await loadJwks(opts.jwks));
  const acceptsIssuer =
    typeof opts.issuers === 'function' ? opts.issuers : (iss: string) => (opts.issuers as string[]).includes(iss);
  let count = 0;
  let challenges = 0;
  const byTenant = new Map<string, TenantCounts>();
  const tenantCounts = (tid: string): TenantCounts => ({ total: 0, challenges: 0, ...byTenant.get(tid.toLowerCase()) });
  const countTenant = (claims: JWTPayload, challenged: boolean): void => {
    if (typeof claims.tid !== 'string') return;
    const counts = tenantCounts(claims.tid);
    counts.total++;
    if (challenged) counts.challenges++;
    byTenant.set(claims.tid.toLowerCase(), counts);
  };

  const validate = async (req: IncomingMessage): Promise<JWTPayload> => {
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!match) throw new TokenRejected('An Authorization header with a Bearer token is required.');
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(match[1]!, keySet, {
        algorithms: ['RS256'],
        audience: opts.audience,
        requiredClaims: ['iss', 'aud', 'exp'],
      }));
    } catch (e) {
      throw new TokenRejected(describeJoseError(e));
    }
    if (typeof claims.iss !== 'string' || !acceptsIssuer(claims.iss)) {
      throw new TokenRejected(`The issuer '${String(claims.iss)}' is not accepted.`);
    }
    return claims;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method === 'GET' && path === '/_admin/requests') {
      const tid = new URL(req.url ?? '/', 'http://localhost').searchParams.get('tid');
      return sendJson(res, 200, tid ? tenantCounts(tid) : { total: count, challenges });
    }
    count++;
    if (req.method !== 'GET' || path !== '/v1.0/me') {
      return sendJson(res, 404, graphError('Request_ResourceNotFound', `No resource ${req.method} ${path}.`));
    }
    try {
      const claims = await validate(req);
      const feed = opts.criticalEvents;
      const event = feed && predatingEvent(claims, feed);
      countTenant(claims, event !== undefined);
      if (feed && event) {
        challenges++;
        res.setHeader('www-authenticate', claimsChallenge(feed.authorizationUri, event));
        return sendJson(res, 401, graphError('InvalidAuthenticationToken', caeMessage(event)));
      }
      sendJson(res, 200, meFor(claims));
    } catch (e) {
      if (!(e instanceof TokenRejected)) throw e;
      res.setHeader(
        'www-authenticate',
        `Bearer error="invalid_token", error_description="${e.message.replace(/"/g, "'")}"`,
      );
      sendJson(res, 401, graphError('InvalidAuthenticationToken', e.message));
    }
  };

  const server = createServer({ keepAlive: true }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      console.error(`downstream API: internal error: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) sendJson(res, 500, graphError('InternalServerError', 'Internal error.'));
      else res.destroy();
    });
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    requests: () => count,
    challenges: () => challenges,
    requestsOf: tenantCounts,
    close: () => closeServer(server),
  };
}

class TokenRejected extends Error {}

/** The critical event a CAE token (`xms_cc` with `cp1`) predates, if any. */
function predatingEvent(claims: JWTPayload, feed: CriticalEventFeed): CriticalEvent | undefined {
  const capabilities = Array.isArray(claims.xms_cc) ? (claims.xms_cc as unknown[]) : [];
  if (!capabilities.some((c) => typeof c === 'string' && c.toLowerCase() === 'cp1')) return undefined;
  if (typeof claims.oid !== 'string' || typeof claims.tid !== 'string') return undefined;
  const event = feed.latest(claims.oid, claims.tid);
  return event && (claims.iat ?? 0) < event.at ? event : undefined;
}

/**
 * Graph's claims challenge: `Bearer realm="", authorization_uri="…", error="insufficient_claims", claims="…"` with the
 * claims request `{"access_token":{"nbf":{"essential":true,"value":"<event epoch seconds>"}}}` in base64.
 */
export function claimsChallenge(authorizationUri: string, event: CriticalEvent): string {
  const claims = { access_token: { nbf: { essential: true, value: String(event.at) } } };
  return formatClaimsChallenge({ claims: JSON.stringify(claims), authorizationUri, realm: '' });
}

function caeMessage(event: CriticalEvent): string {
  const code =
    event.kind === 'revoke_session' ? 'TokenIssuedBeforeRevocationTimestamp' : 'TokenCreatedWithOutdatedPolicies';
  return `Continuous access evaluation resulted in challenge with result: InteractionRequired and code: ${code}`;
}

/** `/me` for a user token; the calling app for an app-only token. */
function meFor(claims: JWTPayload): Record<string, unknown> {
  const isApp = claims.idtyp === 'app' || typeof claims.scp !== 'string';
  if (isApp) return { appId: claims.azp ?? claims.appid, roles: claims.roles ?? [], tenantId: claims.tid };
  return {
    id: claims.oid,
    displayName: claims.name,
    userPrincipalName: claims.preferred_username,
    tenantId: claims.tid,
  };
}

function describeJoseError(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return 'The token is expired.';
  if (e instanceof joseErrors.JWTClaimValidationFailed) return `Claim '${e.claim}' is not valid: ${e.reason}.`;
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'The token signature is not valid.';
  if (e instanceof joseErrors.JWKSNoMatchingKey) return 'No signing key matches the token.';
  if (e instanceof joseErrors.JOSEError) return `The token is not valid (${e.code}).`;
  return 'The token is not valid.';
}

function graphError(code: string, message: string) {
  return { error: { code, message, innerError: { date: new Date().toISOString() } } };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function loadJwks(source: JwksSource): Promise<JSONWebKeySet> {
  if ('keys' in source) return source;
  const response = source.url.startsWith('https:')
    ? await fetchOverHttps(source.url, source.ca)
    : await fetch(source.url).then(async (r) => ({ status: r.status, body: await r.text() }));
  if (response.status !== 200) throw new Error(`JWKS ${source.url}: HTTP ${response.status}`);
  const jwks = JSON.parse(response.body) as JSONWebKeySet;
  if (!Array.isArray(jwks.keys)) throw new Error(`JWKS ${source.url}: no keys array`);
  return jwks;
}

async function fetchOverHttps(url: string, ca: string | undefined) {
  const agent = ca ? new Agent({ ca }) : undefined;
  try {
    return await httpsRequest(agent, url, { timeoutMs: 10_000 });
  } finally {
    agent?.destroy();
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}
