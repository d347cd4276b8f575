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

export interface RefreshTokenRecord {
  readonly token: string;
  readonly clientId: string;
  readonly user: SignedInUser;
  /** The grant that issued it: authorization_code, refresh_token or on_behalf_of. */
  readonly issuedBy: string;
  readonly issuedAt: Date;
  revoked: boolean;
}

/** Opaque refresh tokens. Rotation issues a new one on each use; older ones stay valid until revoked. */
export class RefreshTokenStore {
  readonly #byToken = new Map<string, RefreshTokenRecord>();
  readonly #byClientAndUser = new Map<string, RefreshTokenRecord[]>();

  issue(clientId: string, user: SignedInUser, issuedBy: string): string {
    const record: RefreshTokenRecord = {
      token: opaqueToken(48),
      clientId,
      user,
      issuedBy,
      issuedAt: new Date(),
      revoked: false,
    };
    this.#byToken.set(record.token, record);
    const key = clientUserKey(clientId, user.oid);
    const list = this.#byClientAndUser.get(key) ?? [];
    list.push(record);
    this.#byClientAndUser.set(key, list);
    return record.token;
  }

  get(token: string): RefreshTokenRecord | undefined {
    return this.#byToken.get(token);
  }

  /** In issue order. */
  list(clientId: string, oid: string): readonly RefreshTokenRecord[] {
    return this.#byClientAndUser.get(clientUserKey(clientId, oid)) ?? [];
  }

  /** Revokes every refresh token of the user (in one tenant when `tid` is given); returns how many. */
  revokeUser(oid: string, tid?: string): number {
    let count = 0;
    for (const record of this.#byToken.values()) {
      if (record.revoked || record.user.oid !== oid.toLowerCase()) continue;
      if (tid && record.user.tid !== tid.toLowerCase()) continue;
      record.revoked = true;
      count++;
    }
    return count;
  }
}

function clientUserKey(clientId: string, oid: string): string {
  return `${clientId}\u0000${oid.toLowerCase()}`;
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

export interface InjectedFailure {
  readonly status: number;
  readonly retryAfter?: number;
}

/** The next N token requests fail with the given status. */
export class FailureInjector {
  #remaining = 0;
  #failure: InjectedFailure = { status: 503 };

  arm(count: number, failure: InjectedFailure): void {
    this.#remaining = count;
    this.#failure = failure;
  }

  take(): InjectedFailure | undefined {
    if (this.#remaining <= 0) return undefined;
    this.#remaining--;
    return this.#failure;
  }
}
