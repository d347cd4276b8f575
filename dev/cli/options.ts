import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEV_CLIENT_ID, DEV_PUBLIC_CLIENT_ID, DEV_TENANT_ID } from '../settings.js';

/** `npm start`'s embedded local authority (dev/start.ts) and function host. */
export const DEFAULT_AUTHORITY = 'https://127.0.0.1:7072';
export const DEFAULT_API = 'http://localhost:7071';
export const DEFAULT_SCOPES = [`api://${DEV_CLIENT_ID}/access_as_user`];
export const DEFAULT_CACHE = join(homedir(), '.token-cache-cli', 'msal-cache.json');
/** The project's root: this file is dev/cli/options.ts, compiled to dist/dev/cli/options.js. */
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = basename(resolve(HERE, '../..')) === 'dist' ? resolve(HERE, '../../..') : resolve(HERE, '../..');
/** Where `npm start` writes the local authority's certificate. */
export const PROJECT_CA = join(ROOT, '.local', 'authority-ca.pem');

export const COMMANDS = ['login', 'call', 'logout', 'whoami'] as const;
export type Command = (typeof COMMANDS)[number];

export interface CliOptions {
  readonly command: Command;
  /** The authority host URL, without the tenant: `https://127.0.0.1:7072`, `https://login.microsoftonline.com`. */
  readonly authority: string;
  readonly tenant: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  /** The function app's origin; `call` sends GET `${api}/api/me`. */
  readonly api: string;
  readonly cachePath: string;
  /** A PEM file with the only certificates trusted for the authority; none: the system's roots. */
  readonly caPath: string | undefined;
  /** Which cached account: a username or home account id; needed only when the cache holds several. */
  readonly account: string | undefined;
  readonly forceRefresh: boolean;
  readonly lockTimeoutMs: number;
  readonly lockStaleMs: number;
}

export class UsageError extends Error {}

export const USAGE = `Usage: token-cache-cli <command> [options]

Commands:
  login     sign in with the device code flow (prints a URL and a code, waits for you)
  call      GET <api>/api/me with a token from the cache (refreshed when needed), print the JSON
  logout    remove the account from the cache
  whoami    show the signed-in account(s)

Options (each also from an environment variable):
  --authority <url>       TOKEN_CACHE_CLI_AUTHORITY   default ${DEFAULT_AUTHORITY}
  --tenant <id>           TOKEN_CACHE_CLI_TENANT      default ${DEV_TENANT_ID}
  --client-id <id>        TOKEN_CACHE_CLI_CLIENT_ID   default ${DEV_PUBLIC_CLIENT_ID} (a public client)
  --scopes <s1 s2>        TOKEN_CACHE_CLI_SCOPES      default ${DEFAULT_SCOPES.join(' ')}
  --api <url>             TOKEN_CACHE_CLI_API         default ${DEFAULT_API}
  --cache <path>          TOKEN_CACHE_CLI_CACHE       default ~/.token-cache-cli/msal-cache.json
  --ca <pem path>         TOKEN_CACHE_CLI_CA          default .local/authority-ca.pem for a loopback authority
  --account <username>    which account, when the cache holds several
  --force-refresh         call: refresh the access token even if a cached one is valid
  --lock-timeout <s>      give up waiting for the cache lock after this long (default 30)
  --lock-stale <s>        break a cache lock not touched for this long (default 10)
`;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CliOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        authority: { type: 'string' },
        tenant: { type: 'string' },
        'client-id': { type: 'string' },
        scopes: { type: 'string' },
        api: { type: 'string' },
        cache: { type: 'string' },
        ca: { type: 'string' },
        account: { type: 'string' },
        'force-refresh': { type: 'boolean' },
        'lock-timeout': { type: 'string' },
        'lock-stale': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) return 'help';
  const [command, ...extra] = positionals;
  if (!isCommand(command)) throw new UsageError(`Unknown command '${command}'.`);
  if (extra.length > 0) throw new UsageError(`Unexpected argument '${extra[0]}'.`);

  const pick = (flag: string | undefined, name: string) => flag ?? (env[`TOKEN_CACHE_CLI_${name}`] || undefined);
  const authority = trimSlashes(pick(values.authority, 'AUTHORITY') ?? DEFAULT_AUTHORITY);
  const authorityUrl = parseUrl(authority, '--authority');
  if (authorityUrl.protocol !== 'https:') throw new UsageError('--authority must be an https URL.');
  const api = trimSlashes(pick(values.api, 'API') ?? DEFAULT_API);
  parseUrl(api, '--api');
  const scopesText = pick(values.scopes, 'SCOPES');
  const scopes = scopesText ? scopesText.split(/[\s,]+/).filter(Boolean) : DEFAULT_SCOPES;
  if (scopes.length === 0) throw new UsageError('--scopes names no scope.');
  const caFlag = pick(values.ca, 'CA');
  const caPath = caFlag ?? (LOOPBACK.has(authorityUrl.hostname) && existsSync(PROJECT_CA) ? PROJECT_CA : undefined);
  return {
    command,
    authority,
    tenant: pick(values.tenant, 'TENANT') ?? DEV_TENANT_ID,
    clientId: pick(values['client-id'], 'CLIENT_ID') ?? DEV_PUBLIC_CLIENT_ID,
    scopes,
    api,
    cachePath: resolve(pick(values.cache, 'CACHE') ?? DEFAULT_CACHE),
    caPath: caPath ? resolve(caPath) : undefined,
    account: values.account,
    forceRefresh: values['force-refresh'] ?? false,
    lockTimeoutMs: seconds(values['lock-timeout'], '--lock-timeout', 30),
    lockStaleMs: seconds(values['lock-stale'], '--lock-stale', 10),
  };
}

function isCommand(value: string | undefined): value is Command {
  return (COMMANDS as readonly (string | undefined)[]).includes(value);
}

function trimSlashes(url: string): string {
  return url.replace(/\/+$/, '');
}

function parseUrl(value: string, flag: string): URL {
  try {
    return new URL(value);
  } catch {
    throw new UsageError(`${flag} is not a URL: ${value}`);
  }
}

function seconds(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new UsageError(`${flag} must be a positive number of seconds.`);
  return Math.round(number * 1000);
}
