import { createHash } from 'node:crypto';
import { appObjectId, base64UrlJson, opaqueToken } from './ids.js';
import type { SigningKey } from './keys.js';
import type { OptionalClaims } from './optional-claims.js';
import type { UserScopes } from './scopes.js';
import type { SignedInUser } from './users.js';

export interface TokenContext {
  readonly key: SigningKey;
  readonly lifetimeSeconds: number;
  /** Of the access tokens of clients that handle claims challenges (`xms_cc` with `cp1`). */
  readonly caeLifetimeSeconds: number;
  readonly optionalClaims: OptionalClaims;
  issuer(tid: string): string;
}

/**
 * A CAE token lives longer (resource APIs revoke it by claims challenges) and carries `xms_cc` when its resource's
 * registration requests that optional claim, as Entra's do.
 */
function accessTokenTerms(ctx: TokenContext, cae: boolean, resource: string) {
  return {
    claims: cae && ctx.optionalClaims.requestsXmsCc(resource) ? { xms_cc: ['cp1'] } : {},
    lifetimeSeconds: cae ? ctx.caeLifetimeSeconds : ctx.lifetimeSeconds,
  };
}

/** The success body of the token endpoint, as Entra sends it. */
export interface TokenResponse {
  token_type: 'Bearer';
  scope?: string;
  expires_in: number;
  ext_expires_in: number;
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  client_info?: string;
}

/** Entra's `sub` is pairwise: one value per user and application, unlike `oid`. */
export function pairwiseSubject(oid: string, clientId: string): string {
  return createHash('sha256')
    .update(`${oid}\u0000${clientId.toLowerCase()}`)
    .digest()
    .subarray(0, 32)
    .toString('base64url');
}

/** What MSAL turns into homeAccountId `uid.utid`: a guest's home account. */
export function clientInfo(user: SignedInUser): string {
  const home = user.home ?? user;
  return base64UrlJson({ uid: home.oid, utid: home.tid });
}

function uti(): string {
  return opaqueToken(16);
}

/**
 * Entra's opaque per-token claims (`aio`, `rh`), random here and about as long: they make a token's size and
 * compressibility, and so a cache document's, close to a real one's.
 */
function opaqueClaims(): { aio: string; rh: string } {
  return { aio: opaqueToken(96), rh: `0.${opaqueToken(40)}.` };
}

export async function issueAppToken(
  ctx: TokenContext,
  clientId: string,
  tid: string,
  resource: string,
  cae: boolean,
): Promise<TokenResponse> {
  const oid = appObjectId(clientId);
  const terms = accessTokenTerms(ctx, cae, resource);
  const accessToken = await ctx.key.sign(
    {
      ...terms.claims,
      aud: resource,
      iss: ctx.issuer(tid),
      tid,
      oid,
      sub: oid,
      azp: clientId,
      appid: clientId,
      azpacr: '1',
      idtyp: 'app',
      roles: [],
      ...opaqueClaims(),
      uti: uti(),
      ver: '2.0',
    },
    { expiresInSeconds: terms.lifetimeSeconds },
  );
  return {
    token_type: 'Bearer',
    expires_in: terms.lifetimeSeconds,
    ext_expires_in: terms.lifetimeSeconds,
    access_token: accessToken,
  };
}

export interface UserTokenRequest {
  readonly clientId: string;
  readonly user: SignedInUser;
  readonly scopes: UserScopes;
  readonly nonce?: string;
  /** MSAL sends `client_info=1`; Entra answers with client_info only then. */
  readonly wantsClientInfo: boolean;
  /** The client declared the `cp1` capability. */
  readonly cae: boolean;
}

/** The tokens of a user; the caller adds the refresh token (see `completeGrant`). */
export async function issueUserTokens(ctx: TokenContext, req: UserTokenRequest): Promise<TokenResponse> {
  const { user, clientId, scopes } = req;
  const iss = ctx.issuer(user.tid);
  const sub = pairwiseSubject(user.oid, clientId);
  const identity = { iss, tid: user.tid, oid: user.oid, sub, name: user.name, preferred_username: user.username };
  const terms = accessTokenTerms(ctx, req.cae, scopes.resource);
  const accessToken = await ctx.key.sign(
    {
      ...terms.claims,
      ...identity,
      aud: scopes.resource,
      azp: clientId,
      azpacr: '1',
      scp: scopes.names.join(' '),
      ...opaqueClaims(),
      uti: uti(),
      ver: '2.0',
    },
    { expiresInSeconds: terms.lifetimeSeconds },
  );
  const response: TokenResponse = {
    token_type: 'Bearer',
    scope: [...scopes.resourceScopes, ...scopes.oidc].join(' '),
    expires_in: terms.lifetimeSeconds,
    ext_expires_in: terms.lifetimeSeconds,
    access_token: accessToken,
  };
  if (scopes.oidc.includes('openid')) {
    // No nonce claim unless one was sent: msal-node rejects an id_token nonce it did not ask for.
    const nonce = req.nonce ? { nonce: req.nonce } : {};
    response.id_token = await ctx.key.sign(
      { ...identity, ...nonce, ...opaqueClaims(), aud: clientId, uti: uti(), ver: '2.0' },
      { expiresInSeconds: 3600 },
    );
  }
  if (req.wantsClientInfo) response.client_info = clientInfo(user);
  return response;
}
