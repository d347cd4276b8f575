import { OAuthError } from './errors.js';

/** The resource tokens are for when a scope names no resource (`User.Read`), as in Entra. */
export const GRAPH_RESOURCE = 'https://graph.microsoft.com';

const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);

export interface UserScopes {
  /** The OIDC scopes requested (openid, profile, email, offline_access). */
  readonly oidc: readonly string[];
  /** The `aud` of the access token. */
  readonly resource: string;
  /** Resource scopes as requested (full names), for the response's `scope`. */
  readonly resourceScopes: readonly string[];
  /** Scope names (the part after the resource) for the `scp` claim. */
  readonly names: readonly string[];
}

const invalidScope = (description: string) => new OAuthError(400, 'invalid_scope', 70011, description);

export function splitScopes(scope: string | null | undefined): string[] {
  return (scope ?? '').split(/\s+/).filter(Boolean);
}

function resourceOf(scope: string): { resource: string; name: string } {
  const slash = scope.lastIndexOf('/');
  if (slash <= 0) return { resource: GRAPH_RESOURCE, name: scope };
  return { resource: scope.slice(0, slash), name: scope.slice(slash + 1) };
}

/** Scopes of a user flow: OIDC scopes plus scopes of at most one resource (Entra's rule, AADSTS28000). */
export function parseUserScopes(scope: string | null | undefined): UserScopes {
  const all = splitScopes(scope);
  if (all.length === 0) throw invalidScope("The request must contain a 'scope' parameter.");
  const oidc = all.filter((s) => OIDC_SCOPES.has(s.toLowerCase()));
  const resourceScopes = all.filter((s) => !OIDC_SCOPES.has(s.toLowerCase()));
  const parsed = resourceScopes.map(resourceOf);
  const resources = new Set(parsed.map((p) => p.resource.toLowerCase()));
  if (resources.size > 1) {
    throw new OAuthError(
      400,
      'invalid_request',
      28000,
      `Provided value for the input parameter scope '${all.join(' ')}' is not valid because it contains more than one resource.`,
    );
  }
  const names = parsed.map((p) => p.name).filter((name) => name !== '.default');
  return {
    oidc,
    resource: parsed[0]?.resource ?? GRAPH_RESOURCE,
    resourceScopes,
    // `.default` means "everything consented"; this authority has no consent records, so it grants a stock scope.
    names:
      names.length > 0
        ? names
        : parsed.length > 0
          ? ['user_impersonation']
          : oidc.filter((s) => s !== 'offline_access'),
  };
}

/** The resource of a client-credentials request, which must be exactly one `{resource}/.default`. */
export function parseAppScope(scope: string | null | undefined): string {
  const all = splitScopes(scope).filter((s) => !OIDC_SCOPES.has(s.toLowerCase()));
  if (all.length !== 1 || !all[0]!.endsWith('/.default') || all[0] === '/.default') {
    throw invalidScope(
      `The provided value for scope '${scope ?? ''}' is not valid. Client credential flows must have a scope value ` +
        'with /.default suffixed to the resource identifier (application ID URI).',
    );
  }
  return all[0]!.slice(0, -'/.default'.length);
}
