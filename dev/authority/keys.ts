import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
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
  /** The private key as a JWK, for the state file only. */
  readonly privateJwk: JWK;
  /** Signs `claims` (RS256); iat/nbf/exp are filled from `opts` unless `claims` sets them. */
  sign(claims: Record<string, unknown>, opts?: MintOptions): Promise<string>;
  /** Verifies a token signed by this key; throws a jose error otherwise. */
  verify(token: string, options?: JWTVerifyOptions): Promise<JWTPayload>;
}

const PRIVATE_RSA_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth']);

/** The RSA key of the authority's token signatures: `saved` (a private JWK), or else a new one. */
export async function createSigningKey(saved?: JWK): Promise<SigningKey> {
  const privateKey = saved ? await importPrivateJwk(saved) : await newPrivateKey();
  const privateJwk = await exportJWK(privateKey);
  const publicJwk = Object.fromEntries(
    Object.entries(privateJwk).filter(([name]) => !PRIVATE_RSA_MEMBERS.has(name)),
  ) as JWK;
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwks: JSONWebKeySet = { keys: [{ ...publicJwk, kid, use: 'sig', alg: 'RS256' }] };
  const keySet = createLocalJWKSet(jwks);
  return {
    kid,
    jwks,
    privateJwk,
    sign: (claims, opts) => signClaims(privateKey, kid, claims, opts),
    verify: async (token, options) => (await jwtVerify(token, keySet, { algorithms: ['RS256'], ...options })).payload,
  };
}

async function newPrivateKey(): Promise<CryptoKey> {
  return (await generateKeyPair('RS256', { modulusLength: 2048, extractable: true })).privateKey;
}

async function importPrivateJwk(jwk: JWK): Promise<CryptoKey> {
  const key = await importJWK({ ...jwk, alg: 'RS256' }, 'RS256', { extractable: true });
  if (key instanceof Uint8Array || key.type !== 'private') throw new Error('the signing key is not a private RSA JWK');
  return key;
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
