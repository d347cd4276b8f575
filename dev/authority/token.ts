import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseClaims } from './claims.js';
import type { RequestCounters } from './counters.js';
import { entraErrorBody, injectedFailure, invalidRequest, missingParameter, OAuthError } from './errors.js';
import type { FailureInjector } from './failures.js';
import type { GrantDeps } from './grant-common.js';
import { completeGrant, GRANTS, missingClientCredential, PUBLIC_CLIENT_GRANTS } from './grants.js';
import { HttpError, readForm, sendJson } from './http.js';
import type { TokenHolds } from './holds.js';
import { newTraceId } from './ids.js';
import type { SecretKind, SecretLog } from './secrets.js';
import type { TokenResponse } from './tokens.js';

export interface TokenEndpointDeps extends GrantDeps {
  readonly clientSecret: string;
  readonly counters: RequestCounters;
  readonly failures: FailureInjector;
  readonly holds: TokenHolds;
  readonly secrets: SecretLog;
}

/** POST /{tenant}/oauth2/v2.0/token */
export async function handleToken(
  req: IncomingMessage,
  res: ServerResponse,
  tenant: string,
  deps: TokenEndpointDeps,
): Promise<void> {
  const correlationId = headerValue(req, 'client-request-id');
  const headers: Record<string, string> = { 'x-ms-request-id': newTraceId() };
  if (correlationId) headers['client-request-id'] = correlationId;
  try {
    const form = await readTokenForm(req, deps);
    recordReceivedSecrets(form, deps.secrets);
    const clientId = form.get('client_id');
    deps.counters.count('token', clientId ?? undefined, form.get('grant_type') ?? undefined);
    const failure = deps.failures.take(clientId ?? undefined);
    if (failure) throw injectedFailure(failure.status, failure.retryAfter, failure.oauth);

    const grantType = form.get('grant_type');
    if (!grantType) throw missingParameter('grant_type');
    const grant = Object.hasOwn(GRANTS, grantType) ? GRANTS[grantType] : undefined;
    if (!grant) {
      throw new OAuthError(
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grantType}'.`,
      );
    }
    if (!clientId) throw missingParameter('client_id');
    // A public client presents no credential at all; the grant checks that what it redeems was issued to one.
    const publicClient =
      PUBLIC_CLIENT_GRANTS.has(grantType) && !form.has('client_secret') && !form.has('client_assertion');
    if (!publicClient) authenticateClient(form, deps.clientSecret);
    const claims = parseClaims(form.get('claims'));
    const result = await grant({ form, tenant, clientId, publicClient, claims }, deps);
    const held = deps.holds.pass(clientId);
    if (held) await held;
    const response = completeGrant(result, deps.refreshTokens);
    recordIssuedSecrets(response, deps.secrets);
    sendJson(res, 200, response, headers);
  } catch (e) {
    if (!(e instanceof OAuthError)) throw e;
    if (e.extras.retryAfterSeconds !== undefined) headers['retry-after'] = String(e.extras.retryAfterSeconds);
    sendJson(res, e.status, entraErrorBody(e, correlationId), headers);
  }
}

async function readTokenForm(req: IncomingMessage, deps: TokenEndpointDeps): Promise<URLSearchParams> {
  try {
    return await readForm(req);
  } catch (e) {
    if (!(e instanceof HttpError)) throw e;
    deps.counters.count('token', undefined, undefined);
    throw invalidRequest(900144, e.message);
  }
}

const RECEIVED_SECRETS: Readonly<Record<string, SecretKind>> = {
  code_verifier: 'code_verifier',
  client_secret: 'client_secret',
  code: 'authorization_code',
  refresh_token: 'refresh_token',
  device_code: 'device_code',
  assertion: 'access_token',
};

function recordReceivedSecrets(form: URLSearchParams, secrets: SecretLog): void {
  for (const [name, kind] of Object.entries(RECEIVED_SECRETS)) secrets.record(kind, form.get(name));
}

function recordIssuedSecrets(response: TokenResponse, secrets: SecretLog): void {
  secrets.record('access_token', response.access_token);
  secrets.record('id_token', response.id_token);
  secrets.record('refresh_token', response.refresh_token);
}

function authenticateClient(form: URLSearchParams, expectedSecret: string): void {
  if (form.has('client_assertion')) {
    throw new OAuthError(
      401,
      'invalid_client',
      700027,
      'Client assertions are not supported by the local authority; use client_secret.',
    );
  }
  const secret = form.get('client_secret');
  if (!secret) throw missingClientCredential();
  if (!sameSecret(secret, expectedSecret)) {
    throw new OAuthError(
      401,
      'invalid_client',
      7000215,
      'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.',
    );
  }
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
