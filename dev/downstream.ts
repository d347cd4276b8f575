/**
 * A Graph-like downstream API on plain HTTP (loopback): `GET /v1.0/me` accepts bearer tokens of the local
 * authority, validated with jose (signature against its JWKS, issuer, audience, lifetime).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
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
}

export interface DownstreamApi {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** Requests to the API (admin requests not counted). */
  requests(): number;
  close(): Promise<void>;
}

export async function startDownstreamApi(opts: DownstreamOptions): Promise<DownstreamApi> {
  const keySet = createLocalJWKSet(await loadJwks(opts.jwks));
  const acceptsIssuer =
    typeof opts.issuers === 'function' ? opts.issuers : (iss: string) => (opts.issuers as string[]).includes(iss);
  let count = 0;

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
    if (req.method === 'GET' && path === '/_admin/requests') return sendJson(res, 200, { total: count });
    count++;
    if (req.method !== 'GET' || path !== '/v1.0/me') {
      return sendJson(res, 404, graphError('Request_ResourceNotFound', `No resource ${req.method} ${path}.`));
    }
    try {
      sendJson(res, 200, meFor(await validate(req)));
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
    close: () => closeServer(server),
  };
}

class TokenRejected extends Error {}

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
