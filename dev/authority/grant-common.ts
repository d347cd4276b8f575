/** What every grant of the token endpoint shares: its inputs, its result, and the issuance of a user's tokens. */
import type { ClaimsRequest } from './claims.js';
import { reachSecond, type CriticalEvents } from './critical-events.js';
import type { DeviceCodeStore } from './device-codes.js';
import { invalidGrant, missingParameter, OAuthError } from './errors.js';
import type { SigningKey } from './keys.js';
import type { RefreshTokenRecord, RefreshTokenStore, RotationPolicy } from './refresh-tokens.js';
import { parseUserScopes, splitScopes } from './scopes.js';
import type { CodeStore, InteractionRequirements } from './state.js';
import { issueUserTokens, type TokenContext, type TokenResponse } from './tokens.js';
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

export function required(form: URLSearchParams, name: string): string {
  const value = form.get(name);
  if (!value) throw missingParameter(name);
  return value;
}

export function revokedGrant(): OAuthError {
  return invalidGrant(
    50173,
    'The provided grant has expired due to it being revoked, a fresh auth token is needed. ' +
      'The user might have changed or reset their password.',
    // Entra adds this sub-error; MSAL then raises InteractionRequiredAuthError and drops the refresh token.
    { suberror: 'bad_token' },
  );
}

export function requireNoInteraction(deps: GrantDeps, user: SignedInUser): void {
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

export interface UserGrant {
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

export async function userTokens(deps: GrantDeps, grant: UserGrant): Promise<GrantResult> {
  const { clientId, user, scope, issuedBy, publicClient, redeemed, claims } = grant;
  const scopes = parseUserScopes(scope);
  await reachSecond(notBefore(deps, user.oid, user.tid, claims));
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

/**
 * The second the new tokens of `oid` (a user, or an app's service principal) in `tid` must not predate: their latest
 * critical event's, or a claims challenge's `nbf`.
 */
export function notBefore(deps: GrantDeps, oid: string, tid: string, claims: ClaimsRequest): number {
  const eventAt = deps.criticalEvents.latest(oid, tid)?.at ?? 0;
  const asked = claims.notBefore ?? 0;
  return asked <= Date.now() / 1000 + MAX_NBF_WAIT_SECONDS ? Math.max(eventAt, asked) : eventAt;
}
