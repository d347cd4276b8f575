import { opaqueToken } from './ids.js';
import type { SignedInUser } from './users.js';

export interface RefreshTokenRecord {
  readonly token: string;
  readonly clientId: string;
  readonly user: SignedInUser;
  /** The grant that issued it: authorization_code, refresh_token, on_behalf_of or device_code. */
  readonly issuedBy: string;
  /**
   * Issued to a public client (a request without a client secret): it is redeemed without one, and a request
   * that presents a secret with it is refused, as Entra refuses credentials from a public client.
   */
  readonly publicClient: boolean;
  readonly issuedAt: Date;
  /** Issue order over the whole authority: 1, 2, 3… */
  readonly sequence: number;
  revoked: boolean;
}

/** Opaque refresh tokens. Rotation issues a new one on each use; older ones stay valid until revoked. */
export class RefreshTokenStore {
  readonly #byToken = new Map<string, RefreshTokenRecord>();
  readonly #byClientAndUser = new Map<string, RefreshTokenRecord[]>();
  #lastSequence = 0;

  /** `onChange` runs after every issue and revocation. */
  constructor(private readonly onChange: () => void = () => {}) {}

  issue(clientId: string, user: SignedInUser, issuedBy: string, publicClient = false): string {
    const record: RefreshTokenRecord = {
      token: opaqueToken(48),
      clientId,
      user,
      issuedBy,
      publicClient,
      issuedAt: new Date(),
      sequence: ++this.#lastSequence,
      revoked: false,
    };
    this.#add(record);
    this.onChange();
    return record.token;
  }

  get(token: string): RefreshTokenRecord | undefined {
    return this.#byToken.get(token);
  }

  /** In issue order. */
  list(clientId: string, oid: string): readonly RefreshTokenRecord[] {
    return this.#byClientAndUser.get(clientUserKey(clientId, oid)) ?? [];
  }

  /** Every record, in issue order. */
  all(): readonly RefreshTokenRecord[] {
    return [...this.#byToken.values()];
  }

  /** Adds records saved by an earlier run (before any is issued). */
  restore(records: readonly RefreshTokenRecord[]): void {
    for (const record of [...records].sort((a, b) => a.sequence - b.sequence)) {
      this.#add({ ...record });
      this.#lastSequence = Math.max(this.#lastSequence, record.sequence);
    }
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
    if (count > 0) this.onChange();
    return count;
  }

  #add(record: RefreshTokenRecord): void {
    this.#byToken.set(record.token, record);
    const key = clientUserKey(record.clientId, record.user.oid);
    const list = this.#byClientAndUser.get(key) ?? [];
    list.push(record);
    this.#byClientAndUser.set(key, list);
  }
}

function clientUserKey(clientId: string, oid: string): string {
  return `${clientId}\u0000${oid.toLowerCase()}`;
}
