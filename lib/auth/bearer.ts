import type { INetworkModule } from '@azure/msal-node';
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { TokenCacheError } from '../errors.js';
import { createNetworkClient } from './network.js';

/** Clock skew tolerated on `exp` and `nbf`. */
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 60;

/** What a web API accepts, and where the signing keys are. */
export interface BearerValidatorOptions {
  /** Accepted `aud` values (the API's client id and/or its `api://…` URI). */
  readonly audiences: readonly string[];
  /** Tenants whose users may call; the issuer must be that tenant's. */
  readonly allowedTenants: readonly string[];
  /**
   * The issuer of the authority's v2.0 access tokens (`ver: "2.0"`) for a tenant, e.g.
   * `https://login.microsoftonline.com/{tid}/v2.0`.
   */
  readonly issuerFor: (tenantId: string) => string;
  /**
   * The issuer of v1.0 access tokens (`ver: "1.0"`) for a tenant — what Microsoft Entra issues for an API whose
   * manifest does not request v2 (`requestedAccessTokenVersion` null or 1; their `aud` is the App ID URI, so list
   * it in `audiences`): {@link entraV1Issuer} in the public cloud. The token's `ver` picks the issuer; every other
   * check is the same. @defaultValue none: v1.0 tokens are refused
   */
  readonly v1IssuerFor?: (tenantId: string) => string;
  /** Every one of these must be in the token's `scp`. */
  readonly requiredScopes: readonly string[];
  /** The authority's JWKS, e.g. `https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys`. */
  readonly jwksUri: string;
  /**
   * Fetches the JWKS (pass `PartitionedTokenCache.networkClient` to share its connections and trusted CAs).
   * @defaultValue a keep-alive `node:https` client
   */
  readonly networkClient?: INetworkModule;
  /** Seconds of clock skew tolerated on `exp` / `nbf`. @defaultValue {@link DEFAULT_CLOCK_TOLERANCE_SECONDS} */
  readonly clockToleranceSeconds?: number;
}

/** A validated caller: its token (the on-behalf-of assertion) and its claims. */
export interface ValidatedCaller {
  readonly token: string;
  readonly claims: CallerClaims;
}

export interface BearerValidator {
  /** Validates an `Authorization` header value. Throws {@link BearerError}; never returns unvalidated claims. */
  validate(authorizationHeader: string | null | undefined): Promise<ValidatedCaller>;
}

/** Claims of a validated caller. Only these may form a partition key. */
export interface CallerClaims extends JWTPayload {
  readonly oid: string;
  readonly tid: string;
  readonly scp: string;
}

/**
 * A rejected bearer token, code `bearer_invalid` (401, `invalid_token`) or `bearer_insufficient_scope` (403,
 * `insufficient_scope`), with a reason safe to return to the caller.
 */
export class BearerError extends TokenCacheError {
  declare readonly code: 'bearer_invalid' | 'bearer_insufficient_scope';
  readonly status: 401 | 403;
  readonly error: 'invalid_token' | 'insufficient_scope';
  constructor(status: 401 | 403, error: 'invalid_token' | 'insufficient_scope', description: string) {
    super(error === 'invalid_token' ? 'bearer_invalid' : 'bearer_insufficient_scope', description);
    this.name = 'BearerError';
    this.status = status;
    this.error = error;
  }

  /** The RFC 6750 challenge header. */
  get challenge(): string {
    return `Bearer error="${this.error}", error_description="${this.message.replace(/["\\]/g, "'")}"`;
  }
}

/** Microsoft Entra's issuer of v1.0 access tokens for a tenant: `https://sts.windows.net/{tenantId}/`. */
export function entraV1Issuer(tenantId: string): string {
  return `https://sts.windows.net/${tenantId}/`;
}

/** Longest bearer token accepted (Entra access tokens are a few KB). */
const MAX_TOKEN_LENGTH = 16_384;
const GUID_LIKE = /^[A-Za-z0-9-]{1,64}$/;

type KeyResolver = ReturnType<typeof createRemoteJWKSet>;

/**
 * A validator of incoming access tokens (Microsoft Entra v2.0 and, when configured, v1.0 issuers; RS256) with a
 * cached JWKS, for web APIs.
 *
 * @example
 * ```ts
 * const bearer = createBearerValidator({
 *   audiences: [clientId, `api://${clientId}`],
 *   allowedTenants: [tenantId],
 *   issuerFor: (tid) => `https://login.microsoftonline.com/${tid}/v2.0`,
 *   v1IssuerFor: entraV1Issuer,
 *   requiredScopes: ['access_as_user'],
 *   jwksUri: `https://login.microsoftonline.com/${tenantId}/discovery/v2.0/keys`,
 *   networkClient: tokens.networkClient,
 * });
 * const caller = await bearer.validate(request.headers.get('authorization'));
 * ```
 */
export function createBearerValidator(options: BearerValidatorOptions): BearerValidator {
  const keys = createKeyResolver(options.jwksUri, options.networkClient ?? createNetworkClient());
  return { validate: (header) => validateBearer(header, options, keys) };
}

/** A cached JWKS resolver that fetches through MSAL's network module (so a development CA is trusted too). */
function createKeyResolver(jwksUri: string, network: INetworkModule): KeyResolver {
  return createRemoteJWKSet(new URL(jwksUri), {
    [customFetch]: async (url: string) => {
      const response = await network.sendGetRequestAsync<unknown>(url);
      return new Response(JSON.stringify(response.body), {
        status: response.status,
        headers: { 'content-type': 'application/json' },
      });
    },
  });
}

async function validateBearer(
  header: string | null | undefined,
  policy: BearerValidatorOptions,
  keys: KeyResolver,
): Promise<ValidatedCaller> {
  if (!header) throw new BearerError(401, 'invalid_token', 'no Authorization header');
  const match = /^Bearer[ ]+(\S*)\s*$/i.exec(header);
  if (!match) throw new BearerError(401, 'invalid_token', 'Authorization header is not a Bearer token');
  const token = match[1] ?? '';
  if (token.length === 0) throw new BearerError(401, 'invalid_token', 'Bearer token is empty');
  if (token.length > MAX_TOKEN_LENGTH) throw new BearerError(401, 'invalid_token', 'Bearer token is too long');
  try {
    if (decodeProtectedHeader(token).alg !== 'RS256') {
      throw new BearerError(401, 'invalid_token', 'token must be signed with RS256');
    }
  } catch (error) {
    if (error instanceof BearerError) throw error;
    throw new BearerError(401, 'invalid_token', 'token is not a JWT');
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      algorithms: ['RS256'],
      audience: [...policy.audiences],
      clockTolerance: policy.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp', 'iss', 'aud'],
    }));
  } catch (error) {
    throw new BearerError(401, 'invalid_token', describeJoseError(error));
  }
  const { tid, oid, scp } = payload;
  if (typeof tid !== 'string' || !GUID_LIKE.test(tid))
    throw new BearerError(401, 'invalid_token', 'token has no valid tid');
  if (!policy.allowedTenants.includes(tid.toLowerCase())) {
    throw new BearerError(401, 'invalid_token', 'tenant is not allowed to call this API');
  }
  const issuerFor = payload.ver === '2.0' ? policy.issuerFor : payload.ver === '1.0' ? policy.v1IssuerFor : undefined;
  if (!issuerFor) {
    throw new BearerError(401, 'invalid_token', `token version ${String(payload.ver).slice(0, 8)} is not accepted`);
  }
  if (payload.iss !== issuerFor(tid)) throw new BearerError(401, 'invalid_token', 'unexpected token issuer');
  if (typeof oid !== 'string' || !GUID_LIKE.test(oid))
    throw new BearerError(401, 'invalid_token', 'token has no valid oid');
  const scopes = typeof scp === 'string' ? scp.split(' ') : [];
  const missing = policy.requiredScopes.filter((s) => !scopes.includes(s));
  if (missing.length > 0) {
    throw new BearerError(403, 'insufficient_scope', `token lacks the required scope ${missing.join(' ')}`);
  }
  return { token, claims: { ...payload, oid, tid, scp: scp as string } };
}

function describeJoseError(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'token is expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'token is not yet valid';
    if (error.claim === 'aud') return 'token audience is not this API';
    return `token claim ${error.claim} is invalid`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'token signature is invalid';
  if (error instanceof errors.JWKSNoMatchingKey) return 'token is signed by an unknown key';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'token algorithm is not allowed';
  if (error instanceof errors.JWTInvalid || error instanceof errors.JWSInvalid) return 'token is malformed';
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JOSEError)
    return `token could not be validated (${error.code})`;
  return 'token could not be validated';
}
