import { createHash } from 'node:crypto';
import { errors as joseErrors, type JWTPayload } from 'jose';
import { mergeClaims, type ClaimsRequest } from './claims.js';
import { reachSecond, type CriticalEvents } from './critical-events.js';
import { invalidGrant, invalidRequest, missingParameter, OAuthError } from './errors.js';
import { isGuid, tenantIdFor } from './ids.js';
import type { DeviceCodeStore } from './device-codes.js';
import type { SigningKey } from './keys.js';
import { parseAppScope, parseUserScopes, splitScopes } from './scopes.js';
import type { RefreshTokenRecord, RefreshTokenStore, RotationPolicy } from './refresh-tokens.js';
import type { CodeStore, InteractionRequirements } from './state.js';
import { issueAppToken, issueUserTokens, type TokenContext, type TokenResponse } from './tokens.js';
import type { SignedInUser } from './users.js';

export interface GrantDeps {
  readonly baseUrl: string;
  readonly key: SigningKey;
  readonly tokens: TokenContext;
  readonly codes: CodeStore;
  readonly refreshTokens: RefreshTokenStore;
  readonly interaction: InteractionRequirements;
  readonly devices: DeviceCodeStore;
  readonly criticalEvents: CriticalEvents;
  readonly rotation: RotationPolicy;
}

export interface GrantRequest {
  readonly form: URLSearchParams;
  /** The tenant segment of the path. */
  readonly tenant: string;
  /** Already authenticated (a confidential client), or a public client: see `publicClient`. */
  readonly clientId: string;
  /**
   * The request carried no client credential: a public client, which only the grants in `PUBLIC_CLIENT_GRANTS`
   * accept (each checks what it redeems was issued to a public client).
   */
  readonly publicClient: boolean;
  /** The request's `claims` parameter, parsed before anything is redeemed. */
  readonly claims: ClaimsRequest;
}

/** What a grant decided; the token endpoint completes it with `completeGrant` right before it answers. */
export interface GrantResult {
  readonly response: TokenResponse;
  readonly refreshToken?: PendingRefreshToken;
}

/** A refresh token to issue with the response (`offline_access` was asked for). */
export interface PendingRefreshToken {
  readonly clientId: string;
  readonly user: SignedInUser;
  readonly issuedBy: string;
  readonly publicClient: boolean;
  /** The refresh token this request redeemed, if any. */
  readonly redeemed?: RefreshTokenRecord;
  /** Strict rotation: the new refresh token supersedes every older one of the user and client. */
  readonly supersedeOlder: boolean;
}

export type GrantHandler = (req: GrantRequest, deps: GrantDeps) => Promise<GrantResult>;

/** RFC 8628's grant type, as Entra documents it. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** What msal-node sends (Entra accepts it too). */
export const DEVICE_CODE_GRANT_SHORT = 'device_code';

export const GRANTS: Readonly<Record<string, GrantHandler>> = {
  client_credentials: clientCredentials,
  authorization_code: authorizationCode,
  refresh_token: refreshToken,
  'urn:ietf:params:oauth:grant-type:jwt-bearer': onBehalfOf,
  [DEVICE_CODE_GRANT]: deviceCode,
  [DEVICE_CODE_GRANT_SHORT]: deviceCode,
};

/**
 * The grants a public client (an app registration that allows public client flows: no secret, no certificate)
 * may use without a client credential. Entra has no other way to tell a public client's request: it carries none.
 */
export const PUBLIC_CLIENT_GRANTS: ReadonlySet<string> = new Set([
  DEVICE_CODE_GRANT,
  DEVICE_CODE_GRANT_SHORT,
  'refresh_token',
]);

/**
 * Issues the pending refresh token, synchronously: called with nothing awaited between it and the write of the
 * response, the authority's issue order is the order its answers leave in, however many requests run at once.
 */
export function completeGrant(result: GrantResult, store: RefreshTokenStore): TokenResponse {
  const pending = result.refreshToken;
  if (!pending) return result.response;
  // Revoked while this request was signing its tokens: the revocation wins, as it would have a moment earlier.
  if (pending.redeemed?.revoked) throw revokedGrant();
  const { publicClient, supersedeOlder } = pending;
  const refreshToken = store.issue(pending.clientId, pending.user, pending.issuedBy, { publicClient, supersedeOlder });
  return { ...result.response, refresh_token: refreshToken };
}

function required(form: URLSearchParams, name: string): string {
  const value = form.get(name);
  if (!value) throw missingParameter(name);
  return value;
}

async function clientCredentials(req: GrantRequest, deps: GrantDeps): Promise<GrantResult> {
  const resource = parseAppScope(required(req.form, 'scope'));
  const tid = tenantIdFor(req.tenant);
  return { response: await issueAppToken(deps.tokens, req.clientId, tid, resource, req.claims.cp1) };
}

async function authorizationCode({ form, clientId, claims }: GrantRequest, deps: GrantDeps): Promise<GrantResult> {
  const code = required(form, 'code');
  const redirectUri = required(form, 'redirect_uri');
  const redemption = deps.codes.redeem(code);
  if (redemption.status !== 'ok') throw unusableCode(redemption.status);
  const grant = redemption.grant;
  if (grant.clientId !== clientId) {
    throw invalidGrant(70000, 'The provided authorization code was issued to a different client.');
  }
  if (grant.redirectUri !== redirectUri) {
    throw invalidGrant(
      500112,
      `The reply address '${redirectUri}' does not match the reply address '${grant.redirectUri}' provided when requesting Authorization code.`,
    );
  }
  const verifier = form.get('code_verifier');
  if (!verifier) throw invalidRequest(9002325, 'Proof Key for Code Exchange is required: code_verifier is missing.');
  if (createHash('sha256').update(verifier).digest('base64url') !== grant.codeChallenge) {
    throw invalidGrant(
      501481,
      'The Code_Verifier does not match the code_challenge supplied in the authorization request.',
    );
  }
  const scope = form.get('scope') ?? grant.scopes.join(' ');
  const issuedBy = 'authorization_code';
  return userTokens(deps, {
    clientId,
    user: grant.user,
    scope,
    form,
    issuedBy,
    publicClient: false,
    nonce: grant.nonce,
    claims: mergeClaims(grant.claims, claims),
  });
}

function unusableCode(status: 'unknown' | 'expired' | 'redeemed'): OAuthError {
  switch (status) {
    case 'unknown':
      return invalidGrant(70000, "The provided value for the 'code' parameter is not valid.");
    case 'expired':
      return invalidGrant(70008, 'The provided authorization code has expired.');
    case 'redeemed':
      return invalidGrant(
        54005,
        'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
      );
  }
}

async function refreshToken(req: GrantRequest, deps: GrantDeps): Promise<GrantResult> {
  const { form, clientId, publicClient, claims } = req;
  const record = deps.refreshTokens.get(required(form, 'refresh_token'));
  if (!record) throw invalidGrant(9002313, 'Invalid request. Request is malformed or invalid.');
  if (record.clientId !== clientId) throw invalidGrant(70000, 'Provided grant is invalid or malformed.');
  // A confidential client's refresh token needs its credential; a public client's must come without one.
  if (publicClient !== record.publicClient) {
    throw publicClient ? missingClientCredential() : credentialFromPublicClient();
  }
  if (record.revoked) throw revokedGrant();
  if (record.superseded) {
    throw invalidGrant(
      70000,
      'The refresh token was superseded by a newer one of the same user and client (strict rotation of the local authority).',
    );
  }
  requireNoInteraction(deps, record.user);
  const scope = required(form, 'scope');
  const user = record.user;
  const issuedBy = 'refresh_token';
  return userTokens(deps, { clientId, user, scope, form, issuedBy, publicClient, redeemed: record, claims });
}

/** The token endpoint's answer to a confidential client's request without a credential. */
export function missingClientCredential(): OAuthError {
  return new OAuthError(
    401,
    'invalid_client',
    7000218,
    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
  );
}

function credentialFromPublicClient(): OAuthError {
  return new OAuthError(
    401,
    'invalid_client',
    700025,
    "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
  );
}

/**
 * The device code grant (RFC 8628 as Entra runs it): `authorization_pending` until the user approves on the
 * verification page, then the tokens, once. The scopes are those the device code was requested with.
 */
async function deviceCode(
  { form, tenant, clientId, publicClient, claims }: GrantRequest,
  deps: GrantDeps,
): Promise<GrantResult> {
  const poll = deps.devices.poll(required(form, 'device_code'), clientId, tenantIdFor(tenant));
  switch (poll.status) {
    case 'unknown':
      throw new OAuthError(400, 'bad_verification_code', 70018, "The provided value for 'device_code' is not valid.");
    case 'mismatch':
      throw invalidGrant(70000, 'The provided device code was issued to another client or in another tenant.');
    case 'pending':
      throw new OAuthError(
        400,
        'authorization_pending',
        70016,
        'OAuth 2.0 device flow error. Authorization is pending. Continue polling.',
      );
    case 'declined':
      throw new OAuthError(400, 'authorization_declined', 70000, 'The end user declined the authorization request.');
    case 'expired':
      throw new OAuthError(400, 'expired_token', 70019, 'Verification code expired. Have the user retry the sign-in.');
    case 'redeemed':
      throw invalidGrant(54005, 'The device code was already redeemed; start a new sign-in.');
    case 'approved': {
      const scope = poll.request.scopes.join(' ');
      const issuedBy = 'device_code';
      const asked = mergeClaims(poll.request.claims, claims);
      return userTokens(deps, { clientId, user: poll.user, scope, form, issuedBy, publicClient, claims: asked });
    }
  }
}

function revokedGrant(): OAuthError {
  return invalidGrant(
    50173,
    'The provided grant has expired due to it being revoked, a fresh auth token is needed. ' +
      'The user might have changed or reset their password.',
    // Entra adds this sub-error; MSAL then raises InteractionRequiredAuthError and drops the refresh token.
    { suberror: 'bad_token' },
  );
}

async function onBehalfOf({ form, tenant, clientId, claims }: GrantRequest, deps: GrantDeps): Promise<GrantResult> {
  const use = required(form, 'requested_token_use');
  if (use !== 'on_behalf_of') {
    throw invalidRequest(50027, `requested_token_use '${use}' is not supported; use 'on_behalf_of'.`);
  }
  const assertion = await verifyAssertion(required(form, 'assertion'), clientId, deps);
  const assertionTid = typeof assertion.tid === 'string' ? assertion.tid.toLowerCase() : undefined;
  const user: SignedInUser = {
    oid: String(assertion.oid).toLowerCase(),
    tid: isGuid(tenant) ? tenant.toLowerCase() : (assertionTid ?? tenantIdFor(tenant)),
    name: typeof assertion.name === 'string' ? assertion.name : '',
    username: typeof assertion.preferred_username === 'string' ? assertion.preferred_username : '',
  };
  // The session the assertion came from was revoked after it was issued: only a new sign-in gives a new one.
  const revocation = deps.criticalEvents.latest(user.oid, user.tid, 'revoke_session');
  if (revocation && (assertion.iat ?? 0) < revocation.at) throw revokedGrant();
  requireNoInteraction(deps, user);
  const scope = required(form, 'scope');
  const issuedBy = 'on_behalf_of';
  return userTokens(deps, { clientId, user, scope, form, issuedBy, publicClient: false, claims });
}

/** The incoming token of an OBO request: signed here, in date, for this client, and a user's. */
async function verifyAssertion(assertion: string, clientId: string, deps: GrantDeps): Promise<JWTPayload> {
  let claims: JWTPayload;
  try {
    claims = await deps.key.verify(assertion);
  } catch (e) {
    const outOfTime =
      e instanceof joseErrors.JWTExpired || (e instanceof joseErrors.JWTClaimValidationFailed && e.claim === 'nbf');
    if (outOfTime) throw invalidGrant(500133, 'Assertion is not within its valid time range.');
    throw invalidGrant(50013, 'Assertion failed signature validation.');
  }
  if (typeof claims.iss !== 'string' || !claims.iss.startsWith(`${deps.baseUrl}/`)) {
    throw invalidGrant(50013, 'Assertion issuer is not this authority.');
  }
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.some((aud) => aud === clientId || aud === `api://${clientId}`)) {
    throw invalidGrant(50013, 'Assertion audience does not match the Client app presenting the assertion.');
  }
  if (typeof claims.oid !== 'string' || claims.idtyp === 'app') {
    throw invalidGrant(
      50013,
      'Assertion is not a user token: an app-only token cannot be exchanged on behalf of a user.',
    );
  }
  return claims;
}

function requireNoInteraction(deps: GrantDeps, user: SignedInUser): void {
  const claims = deps.interaction.claimsFor(user.oid);
  if (claims === undefined) return;
  throw new OAuthError(
    400,
    'interaction_required',
    50076,
    'Due to a configuration change made by your administrator, or because you moved to a new location, ' +
      'you must use multi-factor authentication to access this resource.',
    { claims },
  );
}

interface UserGrant {
  readonly clientId: string;
  readonly user: SignedInUser;
  readonly scope: string;
  readonly form: URLSearchParams;
  readonly issuedBy: string;
  readonly publicClient: boolean;
  readonly nonce?: string;
  readonly redeemed?: RefreshTokenRecord;
  readonly claims: ClaimsRequest;
}

/** How far ahead a claims challenge's `nbf` may be for the authority to wait for it rather than ignore it. */
const MAX_NBF_WAIT_SECONDS = 5;

async function userTokens(deps: GrantDeps, grant: UserGrant): Promise<GrantResult> {
  const { clientId, user, scope, issuedBy, publicClient, redeemed, claims } = grant;
  const scopes = parseUserScopes(scope);
  await reachSecond(notBefore(deps, user, claims));
  const response = await issueUserTokens(deps.tokens, {
    clientId,
    user,
    scopes,
    wantsClientInfo: grant.form.get('client_info') === '1',
    cae: claims.cp1,
    ...(grant.nonce ? { nonce: grant.nonce } : {}),
  });
  if (!splitScopes(scope).some((s) => s.toLowerCase() === 'offline_access')) return { response };
  const supersedeOlder = redeemed !== undefined && deps.rotation.isStrict(clientId);
  const refreshToken = { clientId, user, issuedBy, publicClient, supersedeOlder, ...(redeemed ? { redeemed } : {}) };
  return { response, refreshToken };
}

/** The second the user's new tokens must not predate: their latest critical event's, or the challenge's `nbf`. */
function notBefore(deps: GrantDeps, user: SignedInUser, claims: ClaimsRequest): number {
  const eventAt = deps.criticalEvents.latest(user.oid, user.tid)?.at ?? 0;
  const asked = claims.notBefore ?? 0;
  return asked <= Date.now() / 1000 + MAX_NBF_WAIT_SECONDS ? Math.max(eventAt, asked) : eventAt;
}
