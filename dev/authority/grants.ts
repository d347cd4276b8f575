import { createHash } from 'node:crypto';
import { mergeClaims } from './claims.js';
import { reachSecond } from './critical-events.js';
import { invalidGrant, invalidRequest, OAuthError } from './errors.js';
import {
  notBefore,
  required,
  requireNoInteraction,
  revokedGrant,
  userTokens,
  type GrantDeps,
  type GrantHandler,
  type GrantRequest,
  type GrantResult,
} from './grant-common.js';
import { appObjectId, tenantIdFor } from './ids.js';
import { onBehalfOf } from './on-behalf-of.js';
import type { RefreshTokenStore } from './refresh-tokens.js';
import { parseAppScope } from './scopes.js';
import { issueAppToken, type TokenResponse } from './tokens.js';

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

async function clientCredentials(req: GrantRequest, deps: GrantDeps): Promise<GrantResult> {
  const resource = parseAppScope(required(req.form, 'scope'));
  const tid = tenantIdFor(req.tenant);
  await reachSecond(notBefore(deps, appObjectId(req.clientId), tid, req.claims));
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
