/**
 * msal-node's cache in one JSON file, shared by every process that uses it: each cache access takes the file's
 * cross-process lock (`<file>.lockfile`, see file-lock.ts) and reads the file; the access's end writes it when MSAL
 * changed anything, then releases the lock. So a refresh in one process never overwrites another's result with a
 * stale copy: MSAL re-reads the file under the lock before it stores new tokens.
 *
 * The file is written atomically (a temp file in the same folder, renamed over it) with owner-only permissions
 * (0600; a folder it creates is 0700). A file that is not an MSAL cache is reported (its name and why, never its
 * contents) and replaced by an empty cache.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ICachePlugin, TokenCacheContext } from '@azure/msal-node';
import { writeFileAtomically } from '../atomic-file.js';
import { FileLock, type FileLockOptions } from './file-lock.js';

/** What `TokenCache.serialize()` gives for an empty cache. */
const EMPTY_CACHE = JSON.stringify({ Account: {}, IdToken: {}, AccessToken: {}, RefreshToken: {}, AppMetadata: {} });
const SECTIONS = ['Account', 'IdToken', 'AccessToken', 'RefreshToken', 'AppMetadata'] as const;

export interface FileCacheOptions extends FileLockOptions {
  /** Where problems are reported (a corrupt file, a broken stale lock). Default: stderr. */
  readonly warn?: (message: string) => void;
}

export class FileCachePlugin implements ICachePlugin {
  readonly lock: FileLock;
  readonly #warn: (message: string) => void;
  /** One access at a time in this process: the file lock is not re-entrant. */
  #queue: Promise<void> = Promise.resolve();
  /** The accesses that hold the lock, by MSAL's context object (the same one reaches before and after). */
  readonly #leases = new WeakMap<TokenCacheContext, Lease>();

  constructor(
    readonly path: string,
    options: FileCacheOptions = {},
  ) {
    this.#warn = options.warn ?? ((message) => process.stderr.write(`${message}\n`));
    this.lock = new FileLock(`${path}.lockfile`, {
      ...options,
      onStaleLock: (stale) => {
        const holder = stale.pid === undefined ? 'an unknown process' : `process ${stale.pid}`;
        const why = stale.reason === 'holder-dead' ? 'which is no longer running' : 'which stopped updating it';
        this.#warn(`warning: recovered the stale lock file ${stale.path} left by ${holder}, ${why}.`);
        options.onStaleLock?.(stale);
      },
    });
  }

  async beforeCacheAccess(context: TokenCacheContext): Promise<void> {
    const lease = await this.#enter();
    try {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      await this.lock.acquire();
    } catch (e) {
      lease.leave();
      throw e;
    }
    this.#leases.set(context, lease);
    try {
      const problem = loadInto(context, await readCacheFile(this.path));
      if (problem) {
        this.#warn(
          `warning: the token cache ${this.path} is not a valid MSAL cache (${problem}); ` +
            'it is replaced by an empty cache: sign in again.',
        );
        lease.replace = true;
      }
    } catch (e) {
      await this.#exit(context);
      throw e;
    }
  }

  async afterCacheAccess(context: TokenCacheContext): Promise<void> {
    // MSAL calls this even when beforeCacheAccess failed (it holds no lock then): nothing to write or release.
    const lease = this.#leases.get(context);
    if (!lease) return;
    try {
      if (context.cacheHasChanged || lease.replace)
        await writeFileAtomically(this.path, context.tokenCache.serialize()).catch((e: unknown) => {
          throw new Error(
            `Cannot write the token cache ${this.path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
            {
              cause: e,
            },
          );
        });
    } finally {
      await this.#exit(context);
    }
  }

  async #enter(): Promise<Lease> {
    let leave!: () => void;
    const previous = this.#queue;
    this.#queue = new Promise((resolve) => (leave = resolve));
    await previous;
    return { leave, replace: false };
  }

  async #exit(context: TokenCacheContext): Promise<void> {
    const lease = this.#leases.get(context);
    this.#leases.delete(context);
    try {
      await this.lock.release();
    } finally {
      lease?.leave();
    }
  }
}

interface Lease {
  readonly leave: () => void;
  /** The file was not a valid cache: write it back even if MSAL changed nothing. */
  replace: boolean;
}

/** The file's text, or undefined when there is no file yet. */
async function readCacheFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new Error(`Cannot read the token cache ${path}: ${code ?? String(e)}`, { cause: e });
  }
}

/**
 * Replaces MSAL's in-memory cache with the file's (an absent or empty file is an empty cache). Returns why the
 * text is not an MSAL cache — then the in-memory cache is emptied — or undefined.
 */
function loadInto(context: TokenCacheContext, text: string | undefined): string | undefined {
  const cache = context.tokenCache;
  if (text === undefined || text.trim() === '') {
    cache.deserialize(EMPTY_CACHE);
    return undefined;
  }
  const problem = cacheShapeProblem(text);
  if (!problem) {
    try {
      cache.deserialize(text);
      return undefined;
    } catch (e) {
      cache.deserialize(EMPTY_CACHE);
      return `MSAL cannot read it: ${e instanceof Error ? e.name : 'error'}`;
    }
  }
  cache.deserialize(EMPTY_CACHE);
  return problem;
}

/** Why `text` is not MSAL's serialized cache (a JSON object of objects of objects), or undefined. Never quotes it. */
function cacheShapeProblem(text: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (!isObject(value)) return 'not a JSON object';
  for (const section of SECTIONS) {
    const entries = value[section];
    if (entries === undefined) continue;
    if (!isObject(entries)) return `its ${section} section is not an object`;
    if (!Object.values(entries).every(isObject)) return `an entry of its ${section} section is not an object`;
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
