import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseClaims, type ClaimsRequest } from './claims.js';
import { OAuthError } from './errors.js';
import { readForm, redirect, sendHtml, withQuery } from './http.js';
import { tenantIdFor } from './ids.js';
import { errorPage, formPostPage, signInPage } from './pages.js';
import { splitScopes } from './scopes.js';
import type { SecretLog } from './secrets.js';
import type { CodeStore, InteractionRequirements } from './state.js';
import type { SignedInUser, UserDirectory } from './users.js';

export interface AuthorizeDeps {
  readonly users: UserDirectory;
  readonly codes: CodeStore;
  readonly interaction: InteractionRequirements;
  readonly secrets: SecretLog;
  countAuthorize(clientId: string | undefined): void;
}

interface AuthorizeRequest {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly responseMode: 'query' | 'form_post';
  readonly codeChallenge: string;
  readonly scopes: string[];
  readonly state?: string;
  readonly nonce?: string;
  readonly claims: ClaimsRequest;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const PKCE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** GET shows the account picker (or signs in `login_hint` at once); POST is the picker's answer. */
export async function handleAuthorize(
  req: IncomingMessage,
  res: ServerResponse,
  tenant: string,
  url: URL,
  deps: AuthorizeDeps,
): Promise<void> {
  const params = req.method === 'POST' ? await readForm(req) : url.searchParams;
  deps.countAuthorize(params.get('client_id') ?? undefined);
  const parsed = parseAuthorizeRequest(params);
  if (typeof parsed === 'string') return sendHtml(res, 400, errorPage(parsed));

  const tid = tenantIdFor(tenant);
  const loginHint = params.get('login_hint')?.trim();
  let user: SignedInUser | undefined;
  if (req.method === 'POST') {
    const oid = params.get('user');
    user = oid ? deps.users.byOid(tid, oid) : loginHint ? deps.users.byLoginHint(tid, loginHint) : undefined;
    if (!user) return sendHtml(res, 400, errorPage('No account was chosen, or the chosen account does not exist.'));
  } else if (loginHint) {
    user = deps.users.byLoginHint(tid, loginHint);
  } else if (params.get('prompt') === 'none') {
    return respond(res, parsed, { error: 'login_required', error_description: 'AADSTS50058: No account was given.' });
  } else {
    const pickerParams = new URLSearchParams(params);
    pickerParams.delete('user');
    pickerParams.delete('login_hint');
    return sendHtml(res, 200, signInPage(url.pathname, pickerParams, deps.users.listFor(tid)));
  }

  // The person is here: a step-up the authority required of them is met when this sign-in asks for its claims.
  deps.interaction.satisfy(user.oid, params.get('claims'));
  const code = deps.codes.issue({
    clientId: parsed.clientId,
    redirectUri: parsed.redirectUri,
    codeChallenge: parsed.codeChallenge,
    scopes: parsed.scopes,
    user,
    ...(parsed.nonce ? { nonce: parsed.nonce } : {}),
    claims: parsed.claims,
  });
  deps.secrets.record('authorization_code', code);
  respond(res, parsed, { code });
}

function respond(res: ServerResponse, request: AuthorizeRequest, fields: Record<string, string>): void {
  const result = { ...fields, state: request.state };
  if (request.responseMode === 'form_post') sendHtml(res, 200, formPostPage(request.redirectUri, result));
  else redirect(res, withQuery(request.redirectUri, result));
}

/** The validated request, or the reason it is refused. */
function parseAuthorizeRequest(params: URLSearchParams): AuthorizeRequest | string {
  const clientId = params.get('client_id');
  if (!clientId) return "AADSTS900144: The request must contain the parameter 'client_id'.";
  const redirectUri = params.get('redirect_uri');
  if (!redirectUri) return "AADSTS900144: The request must contain the parameter 'redirect_uri'.";
  const redirectProblem = checkRedirectUri(redirectUri);
  if (redirectProblem) return `AADSTS50011: The redirect URI '${redirectUri}' is not valid: ${redirectProblem}.`;
  if (params.get('response_type') !== 'code') {
    return `AADSTS70005: response_type '${params.get('response_type') ?? ''}' is not supported; use 'code'.`;
  }
  const responseMode = params.get('response_mode') ?? 'query';
  if (responseMode !== 'query' && responseMode !== 'form_post') {
    return `AADSTS900352: response_mode '${responseMode}' is not supported; use 'query' or 'form_post'.`;
  }
  const scopes = splitScopes(params.get('scope'));
  if (scopes.length === 0) return "AADSTS900144: The request must contain the parameter 'scope'.";
  const codeChallenge = params.get('code_challenge');
  if (!codeChallenge) return 'AADSTS9002325: Proof Key for Code Exchange is required (code_challenge is missing).';
  if (params.get('code_challenge_method') !== 'S256') {
    return "AADSTS501491: code_challenge_method must be 'S256' (plain is not accepted by this authority).";
  }
  if (!PKCE_CHALLENGE.test(codeChallenge)) {
    return 'AADSTS501491: code_challenge must be the base64url SHA-256 of the verifier (43 characters).';
  }
  let claims: ClaimsRequest;
  try {
    claims = parseClaims(params.get('claims'));
  } catch (e) {
    if (!(e instanceof OAuthError)) throw e;
    return `AADSTS${e.aadsts}: ${e.description}`;
  }
  const state = params.get('state') || undefined;
  const nonce = params.get('nonce') || undefined;
  return { clientId, redirectUri, responseMode, codeChallenge, scopes, state, nonce, claims };
}

function checkRedirectUri(value: string): string | undefined {
  let uri: URL;
  try {
    uri = new URL(value);
  } catch {
    return 'not an absolute URL';
  }
  if (uri.hash) return 'it must not contain a fragment';
  if (uri.protocol === 'https:') return undefined;
  if (uri.protocol === 'http:' && LOOPBACK_HOSTS.has(uri.hostname)) return undefined;
  return 'use https, or http on localhost / 127.0.0.1 / [::1]';
}
