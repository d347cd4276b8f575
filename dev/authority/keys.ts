import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyOptions,
} from 'jose';

export interface MintOptions {
  /** Lifetime from now; negative gives an already expired token. Default 3600. */
  expiresInSeconds?: number;
  /** `nbf` relative to now; positive gives a token not valid yet. Default 0. */
  notBeforeSeconds?: number;
}

export interface SigningKey {
  readonly kid: string;
  readonly jwks: JSONWebKeySet;
  /** Signs `claims` (RS256); iat/nbf/exp are filled from `opts` unless `claims` sets them. */
  sign(claims: Record<string, unknown>, opts?: MintOptions): Promise<string>;
  /** Verifies a token signed by this key; throws a jose error otherwise. */
  verify(token: string, options?: JWTVerifyOptions): Promise<JWTPayload>;
}

/** A fresh RSA key pair, in memory only, for the authority's token signatures. */
export async function createSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwks: JSONWebKeySet = { keys: [{ ...publicJwk, kid, use: 'sig', alg: 'RS256' }] };
  const keySet = createLocalJWKSet(jwks);
  return {
    kid,
    jwks,
    sign: (claims, opts) => signClaims(privateKey, kid, claims, opts),
    verify: async (token, options) => (await jwtVerify(token, keySet, { algorithms: ['RS256'], ...options })).payload,
  };
}

async function signClaims(
  privateKey: CryptoKey,
  kid: string,
  claims: Record<string, unknown>,
  opts: MintOptions = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    iat: now,
    nbf: now + (opts.notBeforeSeconds ?? 0),
    exp: now + (opts.expiresInSeconds ?? 3600),
    ...claims,
  };
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid }).sign(privateKey);
}
