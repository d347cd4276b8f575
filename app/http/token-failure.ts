import type { HttpResponseInit } from '@azure/functions';
import { problem } from './responses.js';
import { formatClaimsChallenge, type TokenFailure } from '../../lib/index.js';

/** What a web API knows of its caller when it answers an `interaction_required` failure. */
export interface ChallengeTarget {
  /** The caller's validated token declares the `cp1` client capability: it can use a claims challenge. */
  readonly handlesClaimsChallenges: boolean;
  /** The authorize endpoint the caller's client signs in at (`authorization_uri` of the challenge). */
  readonly authorizationUri?: string;
}

/**
 * How a web API (and, but for interaction, the web app) answers when it cannot get a downstream token. A claims
 * challenge goes only to a caller that can use it ({@link ChallengeTarget}); any other caller gets a plain
 * `interaction_required` 401: its user has to sign in again.
 */
export function tokenFailureResponse(
  failure: TokenFailure,
  target: ChallengeTarget = { handlesClaimsChallenges: false },
): HttpResponseInit {
  switch (failure.kind) {
    case 'interaction_required': {
      const reason = `the identity provider requires user interaction (${failure.code})`;
      if (failure.claims && target.handlesClaimsChallenges) {
        // The caller's client must go back to the user with these claims (consent, MFA, a revoked session).
        return problem(401, 'insufficient_claims', reason, {
          'www-authenticate': formatClaimsChallenge({
            claims: failure.claims,
            ...(target.authorizationUri ? { authorizationUri: target.authorizationUri } : {}),
            description: 'user interaction required',
          }),
        });
      }
      const withheld = failure.claims
        ? '; no claims challenge is sent: the caller did not declare the cp1 client capability, so sign the user in again'
        : '';
      return problem(401, 'interaction_required', `${reason}${withheld}`, {
        'www-authenticate': 'Bearer error="interaction_required", error_description="user interaction required"',
      });
    }
    case 'authority_unavailable':
      return problem(503, 'identity_provider_unavailable', `the identity provider is unavailable (${failure.code})`, {
        'retry-after': '5',
      });
    case 'store_unavailable':
      return problem(503, 'store_unavailable', `the token cache is unavailable now; try again (${failure.code})`, {
        'retry-after': '5',
      });
    case 'rejected':
      return problem(
        502,
        'token_request_rejected',
        `the identity provider rejected the token request (${failure.code})`,
      );
  }
}
