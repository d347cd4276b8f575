import { refreshTokenValue } from './ids.js';
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
  /** A newer refresh token of the same user and client was issued by a redemption under strict rotation. */
  superseded: boolean;
}

export interface IssueOptions {
  /** Issued to a public client. Default false. */
  readonly publicClient?: boolean;
  /** Strict rotation: every older refresh token of the same user and client stops working. Default false. */
  readonly supersedeOlder?: boolean;
}

/**
 * Opaque refresh tokens. Rotation issues a new one on each use; as in Entra, older ones stay valid until revoked,
 * unless the redemption that issued the new one asks for strict rotation.
 */
export class RefreshTokenStore {
  readonly #byToken = new Map<string, RefreshTokenRecord>();
  readonly #byClientAndUser = new Map<string, RefreshTokenRecord[]>();
  #lastSequence = 0;

  /** `onChange` runs after every issue and revocation. */
  constructor(private readonly onChange: () => void = () => {}) {}

  issue(clientId: string, user: SignedInUser, issuedBy: string, options: IssueOptions = {}): string {
    const record: RefreshTokenRecord = {
      token: refreshTokenValue(),
      clientId,
      user,
      issuedBy,
      publicClient: options.publicClient ?? false,
      issuedAt: new Date(),
      sequence: ++this.#lastSequence,
      revoked: false,
      superseded: false,
    };
    if (options.supersedeOlder) for (const older of this.list(clientId, user.oid)) older.superseded = true;
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

/**
 * Which clients' refresh token redemptions supersede every older refresh token of the user (stricter than Entra:
 * a test proves with it that a cache kept the newest one). Off unless switched on, for everyone or per client id.
 */
export class RotationPolicy {
  #forAll = false;
  readonly #byClient = new Map<string, boolean>();

  /** Switches strict rotation for `clientId` (when given, overriding the global switch) or for everyone. */
  setStrict(enabled: boolean, clientId?: string): void {
    if (clientId === undefined) this.#forAll = enabled;
    else this.#byClient.set(clientId, enabled);
  }

  isStrict(clientId: string): boolean {
    return this.#byClient.get(clientId) ?? this.#forAll;
  }
}
