import type { HttpResponseInit } from '@azure/functions';
import { problem } from './responses.js';
import type { TokenFailure } from '../../lib/index.js';

/** How a web API (and, but for interaction, the web app) answers when it cannot get a downstream token. */
export function tokenFailureResponse(failure: TokenFailure): HttpResponseInit {
  switch (failure.kind) {
    case 'interaction_required': {
      // The caller's client must go back to the user (consent, MFA): hand it the claims challenge.
      const claims = failure.claims ? `, claims="${Buffer.from(failure.claims).toString('base64')}"` : '';
      const error = failure.claims ? 'insufficient_claims' : 'interaction_required';
      return problem(401, error, `the identity provider requires user interaction (${failure.code})`, {
        'www-authenticate': `Bearer error="${error}", error_description="user interaction required"${claims}`,
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
