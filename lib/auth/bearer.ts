import type { INetworkModule, NetworkRequestOptions } from '@azure/msal-node';
import {
  createRemoteJWKSet,
  customFetch,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { abortable, throwIfAborted } from '../abort.js';
import { TokenCacheError } from '../errors.js';
import { createNetworkClient } from './network.js';

/** Clock skew tolerated on `exp` and `nbf`. */
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 60;
/** How long one fetch of the signing keys may take. */
export const DEFAULT_JWKS_TIMEOUT_MS = 5_000;
/** What a 503 for unavailable signing keys tells the client to wait. */
const KEYS_RETRY_AFTER_SECONDS = 5;

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
  /**
   * How long a fetch of the signing keys may take; then the validation fails with `bearer_keys_unavailable` and the
   * request is abandoned. @defaultValue {@link DEFAULT_JWKS_TIMEOUT_MS}
   */
  readonly jwksTimeoutMs?: number;
}

/** A validated caller: its token (the on-behalf-of assertion) and its claims. */
export interface ValidatedCaller {
  readonly token: string;
  readonly claims: CallerClaims;
}

export interface BearerValidator {
  /**
   * Validates an `Authorization` header value. Throws {@link BearerError}; never returns unvalidated claims.
   * `abortSignal` stops waiting (for the signing keys, the one network-bound step): a `TokenCacheError` with code
   * `aborted`.
   */
  validate(
    authorizationHeader: string | null | undefined,
    options?: { readonly abortSignal?: AbortSignal },
  ): Promise<ValidatedCaller>;
}

/** Claims of a validated caller. Only these may form a partition key. */
export interface CallerClaims extends JWTPayload {
  readonly oid: string;
  readonly tid: string;
  readonly scp: string;
}

/**
 * A bearer token that was not accepted, with a reason safe to return to the caller:
 * - `bearer_invalid` (401, `invalid_token`): missing, malformed, expired, for another audience, tenant or issuer;
 * - `bearer_insufficient_scope` (403, `insufficient_scope`): valid, but without a required scope;
 * - `bearer_keys_unavailable` (503, `temporarily_unavailable`): the signing keys could not be fetched now, so
 *   nothing is known about the token — answer 503 with `Retry-After: retryAfterSeconds`, not 401 (a client throws a
 *   token away on 401).
 */
export class BearerError extends TokenCacheError {
  declare readonly code: 'bearer_invalid' | 'bearer_insufficient_scope' | 'bearer_keys_unavailable';
  readonly status: 401 | 403 | 503;
  readonly error: 'invalid_token' | 'insufficient_scope' | 'temporarily_unavailable';
  /** With status 503: seconds after which a retry may succeed. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    status: 401 | 403 | 503,
    error: 'invalid_token' | 'insufficient_scope' | 'temporarily_unavailable',
    description: string,
    options?: { cause?: unknown },
  ) {
    super(BEARER_CODES[error], description, options);
    this.name = 'BearerError';
    this.status = status;
    this.error = error;
    this.retryAfterSeconds = status === 503 ? KEYS_RETRY_AFTER_SECONDS : undefined;
  }

  /** The RFC 6750 challenge header (for 401 and 403). */
  get challenge(): string {
    return `Bearer error="${this.error}", error_description="${this.message.replace(/["\\]/g, "'")}"`;
  }
}

const BEARER_CODES = {
  invalid_token: 'bearer_invalid',
  insufficient_scope: 'bearer_insufficient_scope',
  temporarily_unavailable: 'bearer_keys_unavailable',
} as const;

/**
 * Microsoft Entra's issuer of v1.0 access tokens for a tenant: `https://sts.windows.net/{tenantId}/`.
 *
 * @example
 * ```ts
 * const bearer = createBearerValidator({ ...options, v1IssuerFor: entraV1Issuer });
 * ```
 */
export function entraV1Issuer(tenantId: string): string {
  return `https://sts.windows.net/${tenantId}/`;
}

/** Longest bearer token accepted (Entra access tokens are a few KB). */
const MAX_TOKEN_LENGTH = 16_384;
const GUID_LIKE = /^[A-Za-z0-9-]{1,64}$/;

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
  const keys = createKeyResolver(
    options.jwksUri,
    options.networkClient ?? createNetworkClient(),
    options.jwksTimeoutMs ?? DEFAULT_JWKS_TIMEOUT_MS,
  );
  return {
    validate: async (header, { abortSignal } = {}) => {
      throwIfAborted(abortSignal);
      return abortable(validateBearer(header, options, keys), abortSignal);
    },
  };
}

/**
 * A cached JWKS resolver that fetches through MSAL's network module (so a development CA is trusted too). A key
 * set that cannot be fetched (unreachable, 5xx, timed out, not a key set) is a `bearer_keys_unavailable` error;
 * only a fetched key set without the token's key makes the token invalid.
 */
function createKeyResolver(jwksUri: string, network: INetworkModule, timeoutMs: number): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(new URL(jwksUri), {
    timeoutDuration: timeoutMs,
    [customFetch]: async (url: string, init: { signal?: AbortSignal }) => {
      const response = await sendGet(network, url, timeoutMs, init.signal);
      return new Response(JSON.stringify(response.body), {
        status: response.status,
        headers: { 'content-type': 'application/json' },
      });
    },
  });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      throw new BearerError(503, 'temporarily_unavailable', 'the signing keys could not be fetched now', {
        cause: error,
      });
    }
  };
}

/**
 * A GET through MSAL's network module, which has no abort signal of its own: the signal goes along in the options
 * (the library's network client destroys the request on abort), the timeout as the module's timeout argument, and
 * the wait ends when the signal fires whatever the module does.
 */
function sendGet(network: INetworkModule, url: string, timeoutMs: number, signal: AbortSignal | undefined) {
  const options = (signal ? { signal } : {}) as NetworkRequestOptions;
  const sent = network.sendGetRequestAsync<unknown>(url, options, timeoutMs);
  if (!signal) return sent;
  return new Promise<Awaited<typeof sent>>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    sent.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function validateBearer(
  header: string | null | undefined,
  policy: BearerValidatorOptions,
  keys: JWTVerifyGetKey,
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
    if (error instanceof BearerError) throw error;
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
