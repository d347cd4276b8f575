import { parseClaimsChallenge, type ClaimsChallenge } from '../lib/index.js';

/** A downstream API call failed; `status` is the downstream's HTTP status when it answered. */
export class DownstreamError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DownstreamError';
    this.status = status;
  }
}

/**
 * The downstream API rejected the token with a claims challenge (401, `error="insufficient_claims"`): Continuous
 * Access Evaluation or a Conditional Access requirement. `challenge.claims` is what to ask the identity provider for.
 */
export class ClaimsChallengeError extends DownstreamError {
  readonly challenge: ClaimsChallenge;
  constructor(challenge: ClaimsChallenge) {
    super('downstream API answered HTTP 401 with a claims challenge', 401);
    this.name = 'ClaimsChallengeError';
    this.challenge = challenge;
  }
}

/**
 * The downstream API rejected the token with a 401 `insufficient_claims` challenge that cannot be used (malformed
 * claims): no claims to ask for, but the token is rejected all the same.
 */
export class UnusableClaimsChallenge extends DownstreamError {
  constructor(reason: string, cause: unknown) {
    super(`downstream API answered HTTP 401 with an ${reason}`, 401, { cause });
    this.name = 'UnusableClaimsChallenge';
  }
}

/**
 * GETs a JSON resource with a bearer token. Throws {@link ClaimsChallengeError} for a claims challenge,
 * {@link UnusableClaimsChallenge} for a malformed one, and {@link DownstreamError} with a reason safe to return for
 * anything else.
 */
export async function callDownstream(url: string, accessToken: string, timeoutMs = 10_000): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (cause) {
    throw new DownstreamError(`downstream API ${new URL(url).host} is unreachable`, undefined, { cause });
  }
  if (!response.ok) {
    await response.body?.cancel();
    if (response.status === 401) throwIfClaimsChallenge(response.headers.get('www-authenticate'));
    throw new DownstreamError(`downstream API answered HTTP ${response.status}`, response.status);
  }
  try {
    const body: unknown = await response.json();
    return body;
  } catch (cause) {
    throw new DownstreamError('downstream API answered with a body that is not JSON', response.status, { cause });
  }
}

function throwIfClaimsChallenge(header: string | null): void {
  let challenge: ClaimsChallenge | undefined;
  try {
    challenge = parseClaimsChallenge(header);
  } catch (error) {
    throw new UnusableClaimsChallenge(error instanceof Error ? error.message : 'unusable claims challenge', error);
  }
  if (challenge) throw new ClaimsChallengeError(challenge);
}
