import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { JWK } from 'jose';
import { writeFileAtomically } from '../atomic-file.js';
import { CRITICAL_EVENT_KINDS, type CriticalEvent, type CriticalEventKind } from './critical-events.js';
import type { RefreshTokenRecord } from './refresh-tokens.js';
import type { SignedInUser } from './users.js';

/** What survives a restart: enough for tokens handed out before it to keep working after it. */
export interface PersistedState {
  readonly signingKey: JWK;
  /** Users created on the fly. */
  readonly users: readonly SignedInUser[];
  readonly refreshTokens: readonly RefreshTokenRecord[];
  /** The latest critical events: resource APIs keep rejecting tokens that predate them after a restart. */
  readonly criticalEvents: readonly CriticalEvent[];
}

const FORMAT = 'local-authority-state/1';

/** The state saved in `file`, or undefined when there is no such file. */
export async function readStateFile(file: string): Promise<PersistedState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return parseState(JSON.parse(text));
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new Error(`${file} is not a usable local authority state file (${reason}); delete it to start afresh`);
  }
}

/**
 * Saves the state to its file after changes: atomically (a private temp file renamed over it), one save at a time,
 * with all changes made while a save is waiting to start going into that save.
 */
export class StateFile {
  #queue: Promise<void> = Promise.resolve();
  #waiting = false;

  constructor(
    readonly file: string,
    private readonly snapshot: () => PersistedState,
  ) {}

  /** Saves now; throws when the file cannot be written. */
  async save(): Promise<void> {
    await writeAtomically(this.file, JSON.stringify(serialize(this.snapshot()), null, 2));
  }

  /** Schedules a save; failures are logged, not thrown (the change itself has happened). */
  changed(): void {
    if (this.#waiting) return;
    this.#waiting = true;
    this.#queue = this.#queue.then(async () => {
      this.#waiting = false;
      try {
        await this.save();
      } catch (e) {
        console.error(`local authority: cannot save ${this.file}: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
  }

  /** Resolves when every scheduled save is done. */
  async flush(): Promise<void> {
    await this.#queue;
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomically(file, text);
}

function serialize(state: PersistedState): Record<string, unknown> {
  return {
    format: FORMAT,
    signingKey: state.signingKey,
    users: state.users,
    refreshTokens: state.refreshTokens.map((r) => ({ ...r, issuedAt: r.issuedAt.toISOString() })),
    criticalEvents: state.criticalEvents,
  };
}

function parseState(value: unknown): PersistedState {
  const root = object(value, 'the file');
  if (root.format !== FORMAT) throw new Error(`format is not '${FORMAT}'`);
  return {
    signingKey: privateRsaJwk(root.signingKey),
    users: array(root.users, 'users').map((u, i) => parseUser(u, `users[${i}]`)),
    refreshTokens: array(root.refreshTokens, 'refreshTokens').map((r, i) =>
      parseRefreshToken(r, `refreshTokens[${i}]`),
    ),
    // Absent from files saved before Continuous Access Evaluation.
    criticalEvents: array(root.criticalEvents ?? [], 'criticalEvents').map((e, i) =>
      parseCriticalEvent(e, `criticalEvents[${i}]`),
    ),
  };
}

function privateRsaJwk(value: unknown): JWK {
  const jwk = object(value, 'signingKey');
  if (jwk.kty !== 'RSA' || !['n', 'e', 'd'].every((name) => typeof jwk[name] === 'string')) {
    throw new Error('signingKey is not a private RSA JWK');
  }
  return jwk;
}

function parseUser(value: unknown, where: string): SignedInUser {
  const user = object(value, where);
  const home = user.home === undefined ? undefined : object(user.home, `${where}.home`);
  return {
    oid: string(user.oid, `${where}.oid`),
    tid: string(user.tid, `${where}.tid`),
    name: string(user.name, `${where}.name`),
    username: string(user.username, `${where}.username`),
    ...(home
      ? { home: { oid: string(home.oid, `${where}.home.oid`), tid: string(home.tid, `${where}.home.tid`) } }
      : {}),
  };
}

function parseRefreshToken(value: unknown, where: string): RefreshTokenRecord {
  const record = object(value, where);
  const issuedAt = new Date(string(record.issuedAt, `${where}.issuedAt`));
  const sequence = record.sequence;
  if (Number.isNaN(issuedAt.getTime())) throw new Error(`${where}.issuedAt is not a date`);
  if (typeof sequence !== 'number' || !Number.isSafeInteger(sequence))
    throw new Error(`${where}.sequence is not an integer`);
  if (typeof record.revoked !== 'boolean') throw new Error(`${where}.revoked is not a boolean`);
  return {
    token: string(record.token, `${where}.token`),
    clientId: string(record.clientId, `${where}.clientId`),
    user: parseUser(record.user, `${where}.user`),
    issuedBy: string(record.issuedBy, `${where}.issuedBy`),
    // Absent from files saved before public clients existed: those tokens were all confidential clients'.
    publicClient: record.publicClient === true,
    issuedAt,
    sequence,
    revoked: record.revoked,
    superseded: record.superseded === true,
  };
}

function parseCriticalEvent(value: unknown, where: string): CriticalEvent {
  const event = object(value, where);
  const kind = string(event.kind, `${where}.kind`);
  if (!CRITICAL_EVENT_KINDS.includes(kind as CriticalEventKind)) throw new Error(`${where}.kind is not known`);
  if (typeof event.at !== 'number' || !Number.isSafeInteger(event.at)) throw new Error(`${where}.at is not an integer`);
  return {
    kind: kind as CriticalEventKind,
    oid: string(event.oid, `${where}.oid`),
    ...(event.tid === undefined ? {} : { tid: string(event.tid, `${where}.tid`) }),
    at: event.at,
  };
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where} is not an object`);
  return value as Record<string, unknown>;
}

function array(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${where} is not an array`);
  return value;
}

function string(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new Error(`${where} is not a string`);
  return value;
}
