/**
 * Microsoft Entra ID sign-in for `@vercel/cosmosdb-server`, which checks no credentials at all: a server opted in
 * with {@link requireEntraIdTokens} answers a request 401, as Azure Cosmos DB does, unless its `authorization` is
 * `type=aad&ver=1.0&sig=<token>` with a token the service would take as far as its claims go — issued by Entra ID,
 * for this account (its endpoint, or `https://cosmos.azure.com`), within its lifetime. The signature and the role
 * assignments that the service checks too are not emulated. Requests signed with the account key are refused, as on
 * an account with local authentication disabled.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

const PREFIX = 'type=aad&ver=1.0&sig=';
const ENTRA_ID_ISSUERS = ['https://sts.windows.net/', 'https://login.microsoftonline.com/'];
const ANY_ACCOUNT_AUDIENCE = 'https://cosmos.azure.com';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Why the service would refuse the request's credentials, or `undefined` when it would take them. */
export function refusal(authorization: string | undefined, accountEndpoint: string, nowMs = Date.now()) {
  if (authorization === undefined) return 'no authorization header';
  // The SDK sends key signatures URL-encoded and Entra ID tokens as they are; the service takes both.
  const value = authorization.startsWith('type%3D') ? decodeURIComponent(authorization) : authorization;
  if (!value.startsWith(PREFIX)) return 'not signed in with Microsoft Entra ID';
  const claims = payloadOf(value.slice(PREFIX.length));
  if (!claims) return 'the token is not a JWT';
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

function payloadOf(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    return typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Puts the check in front of the server's request handler; `accountEndpoint` is the URL clients connect to. */
export function requireEntraIdTokens(server: Server, accountEndpoint: () => string): void {
  const handlers = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const reason = refusal(req.headers.authorization, accountEndpoint());
    if (reason === undefined) {
      for (const handler of handlers) handler.call(server, req, res);
      return;
    }
    // Drained first: answering before the body is read would reset a keep-alive connection mid-request.
    req.resume();
    req.once('end', () => {
      res.statusCode = 401;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ code: 'Unauthorized', message: `Request blocked: ${reason}.` }));
    });
  });
}
