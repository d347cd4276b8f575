import type { ClaimsChallenge, TokenOutcome } from '../lib/index.js';
import { ClaimsChallengeError, DownstreamError, UnusableClaimsChallenge, callDownstream } from './downstream.js';

/** A downstream call made with a token, and how the token was had. */
export interface DownstreamAnswer {
  readonly body: unknown;
  /** The outcome of the token that was accepted. */
  readonly outcome: TokenOutcome;
  /** The claims challenge answered on the way, when the first token was rejected with one. */
  readonly challenge?: ClaimsChallenge;
}

/**
 * The downstream API challenged the token, and asking the identity provider with the challenge's claims failed.
 * `cause` is the library's error (classify it); `challenge` the downstream API's, to hand on.
 */
export class ClaimsRetryFailed extends Error {
  readonly challenge: ClaimsChallenge;
  constructor(challenge: ClaimsChallenge, cause: unknown) {
    super('the token requested with the claims challenge could not be had', { cause });
    this.name = 'ClaimsRetryFailed';
    this.challenge = challenge;
  }
}

/** The downstream API challenged the token that the claims retry got, too. */
export class RepeatedClaimsChallenge extends DownstreamError {
  constructor() {
    super(
      'downstream API answered a claims challenge again to a token requested with its claims; not retried again (one claims retry per call)',
      401,
    );
    this.name = 'RepeatedClaimsChallenge';
  }
}

/**
 * An empty claims request: given as `claims`, the library serves no cached token, asks the identity provider and
 * removes the cached tokens of these scopes from the partition (in the write that stores the new one, or alone when
 * none comes back); MSAL sends no claims of its own for it beyond the client capabilities it always sends.
 */
const NO_CLAIMS = '{}';

/**
 * Gets a token, calls the downstream API with it and, when the API rejects it with a claims challenge, gets a token
 * once more with the challenge's claims (the library then serves no cached token, asks the identity provider and
 * removes the rejected token from the partition) and calls once more. At most two token acquisitions and two
 * downstream calls: a second challenge is {@link RepeatedClaimsChallenge}, never a loop.
 *
 * A malformed challenge ({@link UnusableClaimsChallenge}) is not retried — there are no claims to ask for — but the
 * rejected token still leaves the partition (a second acquisition with no claims, whose failure is ignored), so the
 * next call does not send it again; the malformed challenge is what the caller learns. Left in place, the token would
 * be served and rejected on every call until it expires (up to 28 hours for a CAE token).
 *
 * Throws what the first acquisition throws (the library's errors), {@link ClaimsRetryFailed} when the second fails,
 * {@link DownstreamError} otherwise.
 */
export async function callWithClaimsRetry(
  url: string,
  acquire: (claims: string | undefined) => Promise<TokenOutcome>,
): Promise<DownstreamAnswer> {
  const outcome = await acquire(undefined);
  let challenge: ClaimsChallenge;
  try {
    return { body: await callDownstream(url, outcome.result.accessToken), outcome };
  } catch (error) {
    if (error instanceof UnusableClaimsChallenge) await acquire(NO_CLAIMS).catch(() => undefined);
    if (!(error instanceof ClaimsChallengeError)) throw error;
    challenge = error.challenge;
  }
  let retried: TokenOutcome;
  try {
    retried = await acquire(challenge.claims);
  } catch (error) {
    throw new ClaimsRetryFailed(challenge, error);
  }
  try {
    return { body: await callDownstream(url, retried.result.accessToken), outcome: retried, challenge };
  } catch (error) {
    if (error instanceof ClaimsChallengeError) throw new RepeatedClaimsChallenge();
    throw error;
  }
}

/**
 * The claims to ask for interactively after a failed claims retry: the downstream API's, merged with those the
 * identity provider named when it refused (a Conditional Access requirement), which win where both name a claim.
 */
export function claimsForSignIn(challenge: ClaimsChallenge, authorityClaims: string | undefined): string {
  if (!authorityClaims) return challenge.claims;
  try {
    return JSON.stringify(deepMerge(JSON.parse(challenge.claims), JSON.parse(authorityClaims)));
  } catch {
    return challenge.claims;
  }
}

function deepMerge(a: unknown, b: unknown): unknown {
  if (!isPlainObject(a) || !isPlainObject(b)) return b;
  const merged: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b)) merged[key] = key in a ? deepMerge(a[key], value) : value;
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
