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

/** Users whose refresh and OBO requests must answer interaction_required with a claims challenge. */
export class InteractionRequirements {
  readonly #claimsByOid = new Map<string, string>();

  set(oid: string, claims: string | null): void {
    if (claims === null) this.#claimsByOid.delete(oid.toLowerCase());
    else this.#claimsByOid.set(oid.toLowerCase(), claims);
  }

  claimsFor(oid: string): string | undefined {
    return this.#claimsByOid.get(oid.toLowerCase());
  }
}
