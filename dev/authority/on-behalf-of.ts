import { errors as joseErrors, type JWTPayload } from 'jose';
import {
  required,
  requireNoInteraction,
  revokedGrant,
  userTokens,
  type GrantDeps,
  type GrantRequest,
  type GrantResult,
} from './grant-common.js';
import { invalidGrant, invalidRequest } from './errors.js';
import { isGuid, tenantIdFor } from './ids.js';
import type { SignedInUser } from './users.js';

/** The jwt-bearer grant: a web API exchanges its caller's token for one to a downstream API, as that user. */
export async function onBehalfOf(
  { form, tenant, clientId, claims }: GrantRequest,
  deps: GrantDeps,
): Promise<GrantResult> {
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
