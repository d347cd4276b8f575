import type { ClaimsRequest } from './claims.js';
import { opaqueToken } from './ids.js';
import type { SignedInUser } from './users.js';

const CODE_LIFETIME_MS = 10 * 60_000;

export interface AuthorizationCodeGrant {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly scopes: readonly string[];
  readonly nonce?: string;
  readonly user: SignedInUser;
  /** The `claims` parameter of the authorize request. */
  readonly claims: ClaimsRequest;
}

export type CodeRedemption =
  | { readonly status: 'ok'; readonly grant: AuthorizationCodeGrant }
  | { readonly status: 'unknown' | 'expired' | 'redeemed' };

/** Authorization codes: single use, ten minutes. */
export class CodeStore {
  readonly #codes = new Map<string, { grant: AuthorizationCodeGrant; expiresAt: number; redeemed: boolean }>();

  issue(grant: AuthorizationCodeGrant): string {
    this.#sweep();
    const code = opaqueToken();
    this.#codes.set(code, { grant, expiresAt: Date.now() + CODE_LIFETIME_MS, redeemed: false });
    return code;
  }

  /** Marks the code used whatever happens next, as Entra does: a failed redemption burns it too. */
  redeem(code: string): CodeRedemption {
    const entry = this.#codes.get(code);
    if (!entry) return { status: 'unknown' };
    if (entry.redeemed) return { status: 'redeemed' };
    entry.redeemed = true;
    if (entry.expiresAt < Date.now()) return { status: 'expired' };
    return { status: 'ok', grant: entry.grant };
  }

  #sweep(): void {
    // Redeemed codes stay until expiry so that a replay is told "already redeemed", not "unknown".
    const now = Date.now();
    for (const [code, entry] of this.#codes) if (entry.expiresAt < now) this.#codes.delete(code);
  }
}

/**
 * Users whose refresh and OBO requests must answer interaction_required with a claims challenge, until an interactive
 * sign-in asks for those claims (or the admin endpoint clears it).
 */
export class InteractionRequirements {
  readonly #claimsByOid = new Map<string, string>();

  set(oid: string, claims: string | null): void {
    if (claims === null) this.#claimsByOid.delete(oid.toLowerCase());
    else this.#claimsByOid.set(oid.toLowerCase(), claims);
  }

  claimsFor(oid: string): string | undefined {
    return this.#claimsByOid.get(oid.toLowerCase());
  }

  /**
   * An interactive sign-in of the user asked for `claims` (the authorize request's parameter): when they include
   * every claim the requirement names, with its values, the sign-in met it (as Entra's step-up does) and it is
   * cleared. True when cleared.
   */
  satisfy(oid: string, claims: string | null): boolean {
    const required = this.claimsFor(oid);
    if (required === undefined || !claims) return false;
    let met: boolean;
    try {
      met = includes(JSON.parse(claims), JSON.parse(required));
    } catch {
      return false;
    }
    if (met) this.set(oid, null);
    return met;
  }
}

/** Whether `asked` holds everything `required` does (objects member by member, anything else equal). */
function includes(asked: unknown, required: unknown): boolean {
  if (typeof required !== 'object' || required === null) return asked === required;
  if (typeof asked !== 'object' || asked === null || Array.isArray(asked) !== Array.isArray(required)) return false;
  if (Array.isArray(required)) return JSON.stringify(asked) === JSON.stringify(required);
  const fields = asked as Record<string, unknown>;
  return Object.entries(required).every(([key, value]) => includes(fields[key], value));
}
