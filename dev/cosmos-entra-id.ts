/**
 * Microsoft Entra ID sign-in for `@vercel/cosmosdb-server`, which checks no credentials at all: a server opted in
 * with {@link requireEntraIdTokens} answers as Azure Cosmos DB does for a request signed with an Entra ID token
 * (`type=aad&ver=1.0&sig=<token>`):
 * - 401 unless the token is one the service would take as far as its claims go — issued by Entra ID, for this account
 *   (its endpoint, or `https://cosmos.azure.com`), within its lifetime;
 * - 403 (substatus 5300) to creating, replacing or deleting a database or container: Entra ID data-plane roles cannot,
 *   only the control plane (or the account key) can.
 * The signature and the role assignments that the service checks too are not emulated. Requests signed with the
 * account key are served, as on an account with local authentication enabled (tests set up with it, as a deployment
 * would); any other authorization is answered 401.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { decodeJwt, type JWTPayload } from 'jose';

const PREFIX = 'type=aad&ver=1.0&sig=';
const KEY_PREFIX = 'type=master&ver=1.0&sig=';
const ENTRA_ID_ISSUERS = ['https://sts.windows.net/', 'https://login.microsoftonline.com/'];
const ANY_ACCOUNT_AUDIENCE = 'https://cosmos.azure.com';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** What signs a request: the account key, an Entra ID token, or neither. */
type Signature = { readonly kind: 'key' } | { readonly kind: 'entraId'; readonly token: string } | undefined;

function signatureOf(authorization: string | undefined): Signature {
  if (authorization === undefined) return undefined;
  // The SDK sends key signatures URL-encoded and Entra ID tokens as they are; the service takes both.
  const value = authorization.startsWith('type%3D') ? decodeURIComponent(authorization) : authorization;
  if (value.startsWith(KEY_PREFIX)) return { kind: 'key' };
  if (value.startsWith(PREFIX)) return { kind: 'entraId', token: value.slice(PREFIX.length) };
  return undefined;
}

/** Why the service would refuse this Entra ID token, or `undefined` when it would take it. */
function refusal(token: string, accountEndpoint: string, nowMs = Date.now()): string | undefined {
  let claims: JWTPayload;
  try {
    claims = decodeJwt(token);
  } catch {
    return 'the token is not a JWT';
  }
  const { iss, aud, exp, nbf } = claims;
  if (typeof iss !== 'string' || !ENTRA_ID_ISSUERS.some((issuer) => iss.startsWith(issuer))) {
    return 'the token was not issued by Microsoft Entra ID';
  }
  const audiences = [accountEndpoint.replace(/\/+$/, ''), ANY_ACCOUNT_AUDIENCE];
  if (typeof aud !== 'string' || !audiences.includes(aud.replace(/\/+$/, '')))
    return 'the token is for another audience';
  if (typeof exp !== 'number' || exp * 1000 <= nowMs) return 'the token has expired';
  if (typeof nbf === 'number' && nbf * 1000 > nowMs) return 'the token is not valid yet';
  return undefined;
}

/** Puts the check in front of the server's request handler; `accountEndpoint` is the URL clients connect to. */
export function requireEntraIdTokens(server: Server, accountEndpoint: () => string): void {
  const handlers = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const signature = signatureOf(req.headers.authorization);
    if (signature === undefined) {
      answer(req, res, 401, {
        code: 'Unauthorized',
        message: 'Request blocked: neither an account key signature nor a Microsoft Entra ID token.',
      });
      return;
    }
    if (signature.kind === 'entraId') {
      const reason = refusal(signature.token, accountEndpoint());
      if (reason !== undefined) {
        answer(req, res, 401, { code: 'Unauthorized', message: `Request blocked: ${reason}.` });
        return;
      }
      const request = `${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`;
      if (isControlPlane(request)) {
        const message = `Request blocked by Auth: The given request [${request}] cannot be authorized by AAD token in data plane.`;
        answer(req, res, 403, { code: 'Forbidden', message }, { 'x-ms-substatus': '5300' });
        return;
      }
    }
    for (const handler of handlers) handler.call(server, req, res);
  });
}

/**
 * Whether `request` (`METHOD /path`) creates, replaces or deletes a database or a container (`/dbs`, `/dbs/{db}`,
 * `/dbs/{db}/colls[/{coll}]`).
 */
function isControlPlane(request: string): boolean {
  return /^(?!GET |HEAD )\S+ \/dbs(?:\/[^/]+(?:\/colls(?:\/[^/]+)?)?)?\/?$/.test(request);
}

function answer(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: object,
  headers: Record<string, string> = {},
): void {
  // Drained first: answering before the body is read would reset a keep-alive connection mid-request.
  req.resume();
  req.once('end', () => {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.end(JSON.stringify(body));
  });
}
