/**
 * A cross-process lock over a lock file, in the convention of Microsoft's msal-node-extensions (and MSAL .NET and
 * Python's extensions): the lock is held while `<cache file>.lockfile` exists; a process takes it by creating the
 * file exclusively (`wx`) and writes its pid in it; it releases it by deleting it. Other processes retry with a
 * delay. Interoperable with those libraries on the same cache file.
 *
 * What msal-node-extensions does not do, and this does:
 * - **stale locks**: a lock whose holder is dead (its pid is not running on this machine) or that has not been
 *   touched for `staleMs` is broken. A holder touches its lock file every second while it holds it, so a live
 *   holder never looks stale, however long it holds the lock.
 * - **breaking safely**: a stale lock file is renamed aside (atomic) and checked to be the very file judged stale
 *   (same inode, same mtime) before it is deleted; if another process had replaced it meanwhile, it is put back.
 * - **backoff**: retries start at 5 ms and double up to 250 ms (with jitter), until `timeoutMs`; then a
 *   `LockTimeoutError` names the lock file and its holder.
 * - **release checks ownership**: a holder deletes the lock file only when it is still its own.
 */
import { randomBytes } from 'node:crypto';
import { link, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { unlinkSync } from 'node:fs';

export interface FileLockOptions {
  /** Give up waiting after this long. Default 30 000 ms. */
  readonly timeoutMs?: number;
  /** A lock file not touched for this long is stale. Default 10 000 ms; keep it well above the 1 s heartbeat. */
  readonly staleMs?: number;
  /** Called when a stale lock was broken, before the lock is taken. */
  readonly onStaleLock?: (lock: StaleLock) => void;
}

export interface StaleLock {
  readonly path: string;
  /** The pid written in the lock file, if any. */
  readonly pid: number | undefined;
  readonly ageMs: number;
  readonly reason: 'holder-dead' | 'not-touched';
}

/** The lock could not be taken in time. */
export class LockTimeoutError extends Error {
  constructor(
    readonly lockPath: string,
    readonly holderPid: number | undefined,
    readonly waitedMs: number,
  ) {
    const holder = holderPid === undefined ? 'another process' : `process ${holderPid}`;
    super(
      `Timed out after ${(waitedMs / 1000).toFixed(1)} s waiting for the lock file ${lockPath}, held by ${holder}. ` +
        `If no process is using this token cache, delete ${lockPath}.`,
    );
    this.name = 'LockTimeoutError';
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_STALE_MS = 10_000;
const FIRST_DELAY_MS = 5;
const MAX_DELAY_MS = 250;
const HEARTBEAT_MS = 1_000;

interface Held {
  readonly handle: FileHandle;
  readonly dev: number;
  readonly ino: number;
  readonly heartbeat: NodeJS.Timeout;
  readonly onExit: () => void;
}

interface Holder {
  readonly pid: number | undefined;
  readonly dev: number;
  readonly ino: number;
  readonly mtimeMs: number;
}

export class FileLock {
  readonly timeoutMs: number;
  readonly staleMs: number;
  #held: Held | undefined;

  constructor(
    readonly path: string,
    private readonly options: FileLockOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  }

  get held(): boolean {
    return this.#held !== undefined;
  }

  /** Takes the lock, waiting with backoff; throws `LockTimeoutError` after `timeoutMs`. Not re-entrant. */
  async acquire(): Promise<void> {
    if (this.#held) throw new Error(`${this.path} is already held by this lock`);
    const started = Date.now();
    let delay = FIRST_DELAY_MS;
    let lastHolder: Holder | undefined;
    for (;;) {
      if (await this.#tryCreate()) return;
      const holder = await readHolder(this.path);
      if (!holder) continue; // released meanwhile: try again at once
      lastHolder = holder;
      const stale = this.#staleness(holder);
      if (stale && (await breakLock(this.path, holder))) {
        this.options.onStaleLock?.(stale);
        continue;
      }
      const waited = Date.now() - started;
      if (waited >= this.timeoutMs) throw new LockTimeoutError(this.path, lastHolder.pid, waited);
      const jitter = Math.random() * delay * 0.5;
      await sleep(Math.min(delay + jitter, this.timeoutMs - waited));
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }

  /** Releases the lock: deletes the lock file if it is still this holder's. Does nothing when not held. */
  async release(): Promise<void> {
    const held = this.#held;
    if (!held) return;
    this.#held = undefined;
    clearInterval(held.heartbeat);
    process.off('exit', held.onExit);
    try {
      const current = await stat(this.path).catch((e: unknown) => {
        if (errorCode(e) === 'ENOENT') return undefined;
        throw e;
      });
      if (current && current.ino === held.ino && current.dev === held.dev) await unlink(this.path);
    } finally {
      await held.handle.close();
    }
  }

  async #tryCreate(): Promise<boolean> {
    let handle: FileHandle;
    try {
      handle = await open(this.path, 'wx', 0o600);
    } catch (e) {
      const code = errorCode(e);
      // Windows answers EPERM while a lock file is being deleted (msal-node-extensions retries on it too).
      if (code === 'EEXIST' || (code === 'EPERM' && process.platform === 'win32')) return false;
      throw new Error(`Cannot create the lock file ${this.path}: ${code ?? String(e)}`, { cause: e });
    }
    try {
      await handle.write(String(process.pid));
      const { dev, ino } = await handle.stat();
      const heartbeat = setInterval(() => {
        const now = new Date();
        handle.utimes(now, now).catch(() => undefined);
      }, HEARTBEAT_MS);
      heartbeat.unref();
      // A process that exits while holding the lock (process.exit) leaves no lock file behind.
      const onExit = () => {
        try {
          unlinkSync(this.path);
        } catch {
          // gone already
        }
      };
      process.once('exit', onExit);
      this.#held = { handle, dev, ino, heartbeat, onExit };
      return true;
    } catch (e) {
      await handle.close().catch(() => undefined);
      await unlink(this.path).catch(() => undefined);
      throw e;
    }
  }

  #staleness(holder: Holder): StaleLock | undefined {
    const ageMs = Math.max(0, Date.now() - holder.mtimeMs);
    const base = { path: this.path, pid: holder.pid, ageMs };
    if (holder.pid !== undefined && holder.pid !== process.pid && !isRunning(holder.pid)) {
      return { ...base, reason: 'holder-dead' };
    }
    if (ageMs > this.staleMs) return { ...base, reason: 'not-touched' };
    return undefined;
  }
}

/** The lock file's holder as one consistent view (pid and times of the same inode), or undefined if it is gone. */
async function readHolder(path: string): Promise<Holder | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return undefined;
    throw new Error(`Cannot read the lock file ${path}: ${errorCode(e) ?? String(e)}`, { cause: e });
  }
  try {
    const [info, text] = await Promise.all([handle.stat(), handle.readFile('utf8')]);
    // The pid first, as msal-node-extensions writes it (MSAL .NET adds the process name after a space).
    const match = /^\s*(\d{1,10})\b/.exec(text);
    const pid = match ? Number(match[1]) : undefined;
    return {
      pid: pid && Number.isSafeInteger(pid) ? pid : undefined,
      dev: info.dev,
      ino: info.ino,
      mtimeMs: info.mtimeMs,
    };
  } finally {
    await handle.close();
  }
}

/**
 * Removes a stale lock file, unless it changed since it was judged stale: renamed aside first (atomic), then
 * compared with what was judged. Returns whether the stale lock is gone (the caller then tries to take the lock).
 */
async function breakLock(path: string, judged: Holder): Promise<boolean> {
  const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    await rename(path, aside);
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return true; // someone else removed it
    throw e;
  }
  const moved = await stat(aside);
  if (moved.dev === judged.dev && moved.ino === judged.ino && moved.mtimeMs === judged.mtimeMs) {
    await unlink(aside);
    return true;
  }
  // Another process took the lock (or its holder touched it) after it was judged: give it back.
  try {
    await link(aside, path);
  } catch {
    // A third process created a lock meanwhile; the one moved aside is lost to its holder's release check only.
  }
  await unlink(aside).catch(() => undefined);
  return false;
}

/** Whether a process with this pid runs on this machine (EPERM: it runs, as another user). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errorCode(e) === 'EPERM';
  }
}

function errorCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
