import { deterministicUuid, tenantIdFor } from './ids.js';

export interface DevUser {
  oid: string;
  /** When set, the user exists only in that tenant; otherwise in every tenant. */
  tid?: string;
  name: string;
  username: string;
}

/** A user as signed in to one tenant: the identity every token of theirs carries. */
export interface SignedInUser {
  readonly oid: string;
  readonly tid: string;
  readonly name: string;
  readonly username: string;
  /**
   * A B2B guest's account in their home tenant: Entra's client_info (MSAL's homeAccountId) names it, while the
   * tokens carry the guest's own `oid` and `tid` in this (the resource) tenant.
   */
  readonly home?: { readonly oid: string; readonly tid: string };
}

/** A guest's user name in the resource tenant, as Entra makes it: `alice_fabrikam.com#EXT#@contoso.com`. */
const GUEST_USERNAME = /^(.+)_([^_@#]+)#ext#@/i;

export const DEFAULT_USERS: readonly DevUser[] = [
  { oid: '6f1a3c52-8d0e-4b7a-9c21-3e5f7a9b1d01', name: 'Alice Dev', username: 'alice@dev.localhost' },
  { oid: '0b8e2d74-1f6c-4a39-8e57-2c4d6f8a0b02', name: 'Bob Dev', username: 'bob@dev.localhost' },
  { oid: 'c37d9e15-5a2b-4c8f-b160-7d9e1f3a5c03', name: 'Carol Dev', username: 'carol@dev.localhost' },
  { oid: '9a4f6b28-3c7d-4e1a-a5b9-0f2e4c6d8e04', name: 'Dave Dev', username: 'dave@dev.localhost' },
];

/** The configured users, plus those created on the fly by a sign-in with an unknown login_hint. */
export class UserDirectory {
  readonly #configured: readonly DevUser[];
  /** By tid, then oid. */
  readonly #created = new Map<string, Map<string, SignedInUser>>();

  /** `onChange` runs when a user is created. */
  constructor(
    users: readonly DevUser[],
    private readonly onChange: () => void = () => {},
  ) {
    this.#configured = users;
  }

  /** The users who can sign in to `tid`: the configured ones, then those created there. */
  listFor(tid: string): DevUser[] {
    return [...this.#configuredFor(tid), ...(this.#created.get(tid)?.values() ?? [])];
  }

  /** Every user: the configured ones, then those created in any tenant. */
  all(): DevUser[] {
    return [...this.#configured, ...this.created()];
  }

  /** The users created on the fly, in every tenant. */
  created(): SignedInUser[] {
    return [...this.#created.values()].flatMap((users) => [...users.values()]);
  }

  /** Adds users created by an earlier run. */
  restoreCreated(users: readonly SignedInUser[]): void {
    for (const user of users) this.#add({ ...user });
  }

  byOid(tid: string, oid: string): SignedInUser | undefined {
    const wanted = oid.toLowerCase();
    const user = this.#configuredFor(tid).find((u) => u.oid.toLowerCase() === wanted);
    return user ? signIn(user, tid) : this.#created.get(tid)?.get(wanted);
  }

  /** A configured user by username or oid, or else the user created (now or before) for tenant + hint. */
  byLoginHint(tid: string, hint: string): SignedInUser {
    const wanted = hint.trim().toLowerCase();
    const known = this.#configuredFor(tid).find(
      (u) => u.username.toLowerCase() === wanted || u.oid.toLowerCase() === wanted,
    );
    if (known) return signIn(known, tid);
    const oid = deterministicUuid('user', tid, wanted);
    const existing = this.#created.get(tid)?.get(wanted) ?? this.#created.get(tid)?.get(oid);
    if (existing) return existing;
    const guest = GUEST_USERNAME.exec(wanted);
    // A guest's home account is the one a sign-in to their home tenant with their own user name gets.
    const home = guest ? homeAccount(`${guest[1]}@${guest[2]}`, guest[2]!) : undefined;
    const user = { oid, tid, name: displayNameFrom(wanted), username: wanted, ...(home ? { home } : {}) };
    this.#add(user);
    this.onChange();
    return user;
  }

  #configuredFor(tid: string): DevUser[] {
    return this.#configured.filter((u) => !u.tid || u.tid.toLowerCase() === tid);
  }

  #add(user: SignedInUser): void {
    let users = this.#created.get(user.tid);
    if (!users) this.#created.set(user.tid, (users = new Map<string, SignedInUser>()));
    users.set(user.oid, user);
  }
}

function signIn(user: DevUser, tid: string): SignedInUser {
  return { oid: user.oid.toLowerCase(), tid, name: user.name, username: user.username };
}

function homeAccount(username: string, domain: string): { oid: string; tid: string } {
  const tid = tenantIdFor(domain);
  return { oid: deterministicUuid('user', tid, username), tid };
}

function displayNameFrom(username: string): string {
  const local = username.split('@')[0] || username;
  return local
    .split(/[._-]+/)
    .filter(Boolean)
    .map((word) => word[0]!.toUpperCase() + word.slice(1))
    .join(' ');
}
