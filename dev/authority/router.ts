import type { IncomingMessage, ServerResponse } from 'node:http';
import { handleAdmin, type AuthorityAdmin } from './admin.js';
import { handleAuthorize, type AuthorizeDeps } from './authorize.js';
import type { RequestCounters } from './counters.js';
import { handleDeviceAuth, handleDeviceCode, type DeviceFlowDeps } from './device.js';
import { HttpError, redirect, sendHtml, sendJson, sendText } from './http.js';
import type { SigningKey } from './keys.js';
import { signedOutPage } from './pages.js';
import { handleSessions, SESSIONS_PATH, type SessionsDeps } from './sessions.js';
import { handleToken, type TokenEndpointDeps } from './token.js';

export interface RouterDeps {
  readonly counters: RequestCounters;
  readonly admin: AuthorityAdmin;
  readonly key: SigningKey;
  readonly authorize: AuthorizeDeps;
  readonly token: TokenEndpointDeps;
  readonly device: DeviceFlowDeps;
  readonly sessions: SessionsDeps;
  /** The openid-configuration of a tenant. */
  metadata(tenant: string): Record<string, unknown>;
}

/**
 * Which endpoints a listener serves: all of them, or only the pages a browser opens (authorize, the device code
 * verification page, logout and the dev sessions page).
 */
export type Surface = 'all' | 'browser';

const TENANT_SEGMENT = /^[A-Za-z0-9._-]{1,128}$/;

export function requestListener(
  deps: RouterDeps,
  surface: Surface,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    route(req, res, deps, surface).catch((e: unknown) => answerError(res, e));
  };
}

async function route(req: IncomingMessage, res: ServerResponse, deps: RouterDeps, surface: Surface): Promise<void> {
  // Only the path and query are read; the origin is a placeholder.
  const url = new URL(req.url ?? '/', 'http://authority.invalid');
  const [first = '', ...rest] = url.pathname.split('/').filter(Boolean);
  const path = rest.join('/');
  const method = req.method ?? 'GET';
  const { counters } = deps;

  if (url.pathname === SESSIONS_PATH && (method === 'GET' || method === 'POST')) {
    counters.countOther();
    return handleSessions(req, res, deps.sessions);
  }
  if (TENANT_SEGMENT.test(first)) {
    if (path === 'oauth2/v2.0/authorize' && (method === 'GET' || method === 'POST')) {
      return handleAuthorize(req, res, first, url, deps.authorize);
    }
    if (path === 'oauth2/v2.0/deviceauth' && (method === 'GET' || method === 'POST')) {
      return handleDeviceAuth(req, res, first, url, deps.device);
    }
    if (path === 'oauth2/v2.0/logout' && method === 'GET') {
      counters.count('logout', url.searchParams.get('client_id') ?? undefined);
      const target = url.searchParams.get('post_logout_redirect_uri');
      if (target && /^https?:\/\//i.test(target)) return redirect(res, target);
      return sendHtml(res, 200, signedOutPage());
    }
  }
  if (surface === 'all') {
    if (first === '_admin' && rest.length === 1) return handleAdmin(req, res, rest[0]!, url, deps.admin);
    if (TENANT_SEGMENT.test(first)) {
      if (path === 'v2.0/.well-known/openid-configuration' && method === 'GET') {
        counters.countMetadata();
        return sendJson(res, 200, deps.metadata(first), { 'cache-control': 'max-age=3600' });
      }
      if (path === 'discovery/v2.0/keys' && method === 'GET') {
        counters.countJwks();
        return sendJson(res, 200, deps.key.jwks, { 'cache-control': 'max-age=3600' });
      }
      if (path === 'oauth2/v2.0/token' && method === 'POST') return handleToken(req, res, first, deps.token);
      if (path === 'oauth2/v2.0/devicecode' && method === 'POST') {
        return handleDeviceCode(req, res, first, deps.device);
      }
    }
  }
  counters.countOther();
  throw new HttpError(404, 'Not found');
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
