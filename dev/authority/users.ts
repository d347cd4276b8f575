import { deterministicUuid } from './ids.js';

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
}

export const DEFAULT_USERS: readonly DevUser[] = [
  { oid: '6f1a3c52-8d0e-4b7a-9c21-3e5f7a9b1d01', name: 'Alice Dev', username: 'alice@dev.localhost' },
  { oid: '0b8e2d74-1f6c-4a39-8e57-2c4d6f8a0b02', name: 'Bob Dev', username: 'bob@dev.localhost' },
  { oid: 'c37d9e15-5a2b-4c8f-b160-7d9e1f3a5c03', name: 'Carol Dev', username: 'carol@dev.localhost' },
  { oid: '9a4f6b28-3c7d-4e1a-a5b9-0f2e4c6d8e04', name: 'Dave Dev', username: 'dave@dev.localhost' },
];

export class UserDirectory {
  readonly #users: readonly DevUser[];

  constructor(users: readonly DevUser[]) {
    this.#users = users;
  }

  /** The configured users who can sign in to `tid`. */
  listFor(tid: string): DevUser[] {
    return this.#users.filter((u) => !u.tid || u.tid.toLowerCase() === tid);
  }

  byOid(tid: string, oid: string): SignedInUser | undefined {
    const user = this.listFor(tid).find((u) => u.oid.toLowerCase() === oid.toLowerCase());
    return user && signIn(user, tid);
  }

  /** A configured user by username or oid, or else a new one whose oid is derived from tenant + hint. */
  byLoginHint(tid: string, hint: string): SignedInUser {
    const wanted = hint.trim().toLowerCase();
    const known = this.listFor(tid).find((u) => u.username.toLowerCase() === wanted || u.oid.toLowerCase() === wanted);
    if (known) return signIn(known, tid);
    return { oid: deterministicUuid('user', tid, wanted), tid, name: displayNameFrom(wanted), username: wanted };
  }
}

function signIn(user: DevUser, tid: string): SignedInUser {
  return { oid: user.oid.toLowerCase(), tid, name: user.name, username: user.username };
}

function displayNameFrom(username: string): string {
  const local = username.split('@')[0] || username;
  return local
    .split(/[._-]+/)
    .filter(Boolean)
    .map((word) => word[0]!.toUpperCase() + word.slice(1))
    .join(' ');
}
