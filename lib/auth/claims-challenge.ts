import { TokenCacheError } from '../errors.js';

/**
 * A resource API's claims challenge (Continuous Access Evaluation, Conditional Access authentication context): a
 * `401` whose `WWW-Authenticate` Bearer challenge has `error="insufficient_claims"` and a base64 `claims` parameter.
 */
export interface ClaimsChallenge {
  /** The decoded claims request, a JSON object as text: pass it as `claims` to the next token request. */
  readonly claims: string;
  /** Where an interactive sign-in can satisfy it (`authorization_uri`), when the challenge names one. */
  readonly authorizationUri?: string;
  /** The challenge's `realm` (a tenant, or empty for the common endpoint), when present. */
  readonly realm?: string;
}

/** Longest `WWW-Authenticate` value read; Entra's claims challenges are a few hundred bytes. */
const MAX_HEADER_LENGTH = 16_384;
/** Longest decoded claims request accepted, by the parser and as a token request's `claims`. */
export const MAX_CLAIMS_LENGTH = 8_192;

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
const TOKEN68 = /[A-Za-z0-9\-._~+/]+=*(?=[ \t]*(?:,|$))/y;
const BASE64 = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2})$/;

interface Challenge {
  readonly scheme: string;
  /** Parameter names lower-cased. */
  readonly params: ReadonlyMap<string, string>;
}

/**
 * Reads the claims challenge of a `WWW-Authenticate` header value, as a 401 answer of a CAE-enabled API carries it.
 * Returns `undefined` when the header holds no Bearer challenge with `error="insufficient_claims"` (an ordinary
 * 401). Throws {@link TokenCacheError} code `invalid_claims` when it does but cannot be used: a header that is not
 * RFC 7235 syntax, a missing or empty `claims`, claims that are not base64 of a JSON object, or too long. Accepts the
 * forms the Microsoft Entra documentation shows — with or without `realm`, an empty or absent `authorization_uri`,
 * extra parameters such as `client_id`, any parameter order and case, padded or unpadded base64 or base64url — and
 * several challenges in one value (as `Headers.get` joins repeated headers).
 *
 * @example
 * ```ts
 * const response = await fetch(url, { headers: { authorization: `Bearer ${result.accessToken}` } });
 * const challenge = response.status === 401 ? parseClaimsChallenge(response.headers.get('www-authenticate')) : undefined;
 * if (challenge) await tokens.acquireTokenSilent({ homeAccountId, scopes, claims: challenge.claims });
 * ```
 */
export function parseClaimsChallenge(header: string | null | undefined): ClaimsChallenge | undefined {
  if (!header) return undefined;
  const mentioned = /insufficient_claims/i.test(header);
  if (header.length > MAX_HEADER_LENGTH) {
    if (mentioned) throw invalid(`the WWW-Authenticate header is longer than ${MAX_HEADER_LENGTH} characters`);
    return undefined;
  }
  const challenges = parseChallenges(header);
  if (!challenges) {
    if (mentioned) throw invalid('the WWW-Authenticate header is not a well-formed challenge list');
    return undefined;
  }
  const bearer = challenges.find(
    (c) => c.scheme.toLowerCase() === 'bearer' && c.params.get('error')?.toLowerCase() === 'insufficient_claims',
  );
  if (!bearer) return undefined;
  const encoded = bearer.params.get('claims');
  if (!encoded) throw invalid('the claims challenge has no claims parameter');
  const authorizationUri = bearer.params.get('authorization_uri');
  const realm = bearer.params.get('realm');
  return {
    claims: decodeClaims(encoded),
    ...(authorizationUri ? { authorizationUri } : {}),
    ...(realm !== undefined ? { realm } : {}),
  };
}

/**
 * The `WWW-Authenticate` value with which a web API hands a claims challenge to its caller, in the form the
 * Microsoft Entra documentation describes: `Bearer realm="", authorization_uri="…", error="insufficient_claims",
 * claims="<base64>"`. Send it only to callers that declared they handle it ({@link hasClientCapability}).
 *
 * @example
 * ```ts
 * if (hasClientCapability(caller.claims, 'cp1')) {
 *   headers['www-authenticate'] = formatClaimsChallenge({ claims, authorizationUri: `${tokens.authority}/oauth2/v2.0/authorize` });
 * }
 * ```
 */
export function formatClaimsChallenge(challenge: {
  readonly claims: string;
  readonly authorizationUri?: string;
  readonly realm?: string;
  /** A reason for people; quotes and backslashes are replaced. */
  readonly description?: string;
}): string {
  checkClaims(challenge.claims);
  const quoted = (value: string) => `"${value.replace(/["\\]/g, "'").replace(/[\r\n]/g, ' ')}"`;
  const parts = [
    `realm=${quoted(challenge.realm ?? '')}`,
    ...(challenge.authorizationUri ? [`authorization_uri=${quoted(challenge.authorizationUri)}`] : []),
    `error="insufficient_claims"`,
    ...(challenge.description ? [`error_description=${quoted(challenge.description)}`] : []),
    `claims="${Buffer.from(challenge.claims, 'utf8').toString('base64')}"`,
  ];
  return `Bearer ${parts.join(', ')}`;
}

/**
 * Whether a validated token's `xms_cc` claim lists a client capability (case-insensitive): `cp1` means the client
 * that requested it handles claims challenges. A web API sends a claims challenge only to such callers.
 *
 * @example
 * ```ts
 * const caller = await bearer.validate(request.headers.get('authorization'));
 * const canHandle = hasClientCapability(caller.claims, 'cp1');
 * ```
 */
export function hasClientCapability(claims: { readonly [claim: string]: unknown }, capability: string): boolean {
  const declared = Array.isArray(claims.xms_cc) ? claims.xms_cc : [claims.xms_cc];
  const wanted = capability.toLowerCase();
  return declared.some((c) => typeof c === 'string' && c.toLowerCase() === wanted);
}

/**
 * Checks a claims request given to a token request: a JSON object of at most {@link MAX_CLAIMS_LENGTH} characters.
 * MSAL would otherwise fail later with a less helpful error, or send it as it is.
 */
export function checkClaims(claims: unknown, what = 'claims'): void {
  const refuse = (reason: string) => new TokenCacheError('invalid_claims', `${what} ${reason}`);
  if (typeof claims !== 'string' || claims.length === 0) throw refuse('must be a non-empty string');
  if (claims.length > MAX_CLAIMS_LENGTH) throw refuse(`is longer than ${MAX_CLAIMS_LENGTH} characters`);
  let value: unknown;
  try {
    value = JSON.parse(claims);
  } catch {
    throw refuse('is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw refuse('is not a JSON object');
}

function decodeClaims(encoded: string): string {
  if (!BASE64.test(encoded)) throw invalid('the claims parameter is not base64');
  const bytes = Buffer.from(encoded, encoded.includes('-') || encoded.includes('_') ? 'base64url' : 'base64');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalid('the claims parameter does not decode to UTF-8 text');
  }
  checkClaims(text, 'unusable claims challenge: the decoded claims');
  return text;
}

function invalid(reason: string): TokenCacheError {
  return new TokenCacheError('invalid_claims', `unusable claims challenge: ${reason}`);
}

/**
 * RFC 7235 `#challenge`: `scheme [ token68 / #auth-param ]`, comma-separated, parameter names case-insensitive and
 * not repeated within a challenge. `undefined` when the value does not follow that grammar.
 */
function parseChallenges(text: string): Challenge[] | undefined {
  const challenges: Challenge[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const skipSeparators = () => {
    skipSpace();
    while (text[i] === ',') {
      i++;
      skipSpace();
    }
  };
  const match = (pattern: RegExp): string | undefined => {
    pattern.lastIndex = i;
    const found = pattern.exec(text)?.[0];
    if (found !== undefined) i += found.length;
    return found;
  };
  const quotedString = (): string | undefined => {
    let value = '';
    for (i++; i < text.length; i++) {
      const c = text[i]!;
      if (c === '"') {
        i++;
        return value;
      }
      if (c === '\\') i++;
      if (i < text.length) value += text[i];
    }
    return undefined;
  };

  skipSeparators();
  while (i < text.length) {
    const scheme = match(TOKEN);
    if (!scheme) return undefined;
    const params = new Map<string, string>();
    skipSpace();
    if (match(TOKEN68) === undefined) {
      for (;;) {
        const start = i;
        const name = match(TOKEN);
        if (!name) break;
        skipSpace();
        if (text[i] !== '=') {
          // Not a parameter: the next challenge's scheme.
          i = start;
          break;
        }
        i++;
        skipSpace();
        const value = text[i] === '"' ? quotedString() : match(TOKEN);
        if (value === undefined || params.has(name.toLowerCase())) return undefined;
        params.set(name.toLowerCase(), value);
        skipSpace();
        if (i >= text.length) break;
        if (text[i] !== ',') return undefined;
        skipSeparators();
      }
    }
    challenges.push({ scheme, params });
    skipSeparators();
  }
  return challenges;
}
