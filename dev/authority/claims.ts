import { OAuthError } from './errors.js';

/**
 * What the `claims` request parameter asks of the access token. msal-node sends it as JSON, e.g.
 * `{"access_token":{"xms_cc":{"values":["cp1"]}},"id_token":{...}}` with `clientCapabilities: ['cp1']`, and merges a
 * resource's claims challenge (`{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}`) into it.
 */
export interface ClaimsRequest {
  /** The client can handle claims challenges (`xms_cc` lists `cp1`): Continuous Access Evaluation applies. */
  readonly cp1: boolean;
  /** The `nbf` (epoch seconds) a claims challenge asked the new access token not to predate. */
  readonly notBefore?: number;
}

export const NO_CLAIMS: ClaimsRequest = { cp1: false };

const SECTIONS = ['access_token', 'id_token', 'userinfo'] as const;

/** Entra's answer to a `claims` value it cannot read. */
export function malformedClaims(reason: string): OAuthError {
  return new OAuthError(
    400,
    'invalid_request',
    50117,
    `Failed to deserialize the claims request parameter: ${reason}. It must be a JSON object such as ` +
      '{"access_token":{"xms_cc":{"values":["cp1"]}}}.',
  );
}

/** Parses the `claims` parameter (absent or empty: nothing asked); throws `invalid_request` when malformed. */
export function parseClaims(raw: string | null | undefined): ClaimsRequest {
  if (!raw?.trim()) return NO_CLAIMS;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw malformedClaims('it is not valid JSON');
  }
  const root = objectOrThrow(value, 'the value');
  for (const section of SECTIONS) if (root[section] !== undefined) objectOrThrow(root[section], section);
  const accessToken = (root.access_token ?? {}) as Record<string, unknown>;
  return {
    cp1: capabilities(accessToken.xms_cc).includes('cp1'),
    ...notBefore(accessToken.nbf),
  };
}

/** Both requests' wishes: an authorization code's from /authorize, and the token request's. */
export function mergeClaims(a: ClaimsRequest, b: ClaimsRequest): ClaimsRequest {
  const times = [a.notBefore, b.notBefore].filter((t) => t !== undefined);
  return { cp1: a.cp1 || b.cp1, ...(times.length > 0 ? { notBefore: Math.max(...times) } : {}) };
}

function capabilities(xmsCc: unknown): string[] {
  if (xmsCc === undefined) return [];
  const values = objectOrThrow(xmsCc, 'access_token.xms_cc').values;
  if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) {
    throw malformedClaims('access_token.xms_cc.values must be an array of strings');
  }
  return values.map((v) => v.toLowerCase());
}

function notBefore(nbf: unknown): { notBefore?: number } {
  if (nbf === undefined) return {};
  const value = objectOrThrow(nbf, 'access_token.nbf').value;
  const seconds = typeof value === 'string' && /^\d{1,12}$/.test(value) ? Number(value) : value;
  if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || seconds < 0) {
    throw malformedClaims('access_token.nbf.value must be epoch seconds');
  }
  return { notBefore: seconds };
}

function objectOrThrow(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformedClaims(`${where} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}
