import { readFile } from 'node:fs/promises';
import {
  AuthError,
  InteractionRequiredAuthError,
  LogLevel,
  PublicClientApplication,
  type AccountInfo,
  type Configuration,
} from '@azure/msal-node';
import { createNetworkClient } from '../../lib/index.js';
import { FileCachePlugin } from './file-cache.js';
import type { CliOptions } from './options.js';

/** Where a command writes: results to `out` (stdout), everything else to `err` (stderr). */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/** A failure explained to the user: the message is printed as it is, the process exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export async function runCommand(options: CliOptions, io: Io): Promise<void> {
  const app = await createClient(options, io);
  switch (options.command) {
    case 'login':
      return login(app, options, io);
    case 'call':
      return call(app, options, io);
    case 'logout':
      return logout(app, options, io);
    case 'whoami':
      return whoami(app, io);
  }
}

async function createClient(options: CliOptions, io: Io): Promise<PublicClientApplication> {
  let ca: string | undefined;
  if (options.caPath) {
    try {
      ca = await readFile(options.caPath, 'utf8');
    } catch (e) {
      throw new CliError(`Cannot read the CA certificate ${options.caPath} (--ca): ${errorCode(e)}`);
    }
  }
  const cachePlugin = new FileCachePlugin(options.cachePath, {
    timeoutMs: options.lockTimeoutMs,
    staleMs: options.lockStaleMs,
    warn: (message) => io.err(message),
  });
  const configuration: Configuration = {
    auth: {
      clientId: options.clientId,
      authority: `${options.authority}/${options.tenant}`,
      // Trusted as it is: no instance discovery (login.microsoftonline.com would not know a local authority).
      knownAuthorities: [new URL(options.authority).host],
    },
    cache: { cachePlugin },
    system: {
      ...(ca ? { networkClient: createNetworkClient({ ca }) } : {}),
      loggerOptions: { piiLoggingEnabled: false, logLevel: LogLevel.Error, loggerCallback: () => undefined },
    },
  };
  return new PublicClientApplication(configuration);
}

async function login(app: PublicClientApplication, options: CliOptions, io: Io): Promise<void> {
  let result;
  try {
    result = await app.acquireTokenByDeviceCode({
      scopes: [...options.scopes],
      deviceCodeCallback: (response) => io.out(response.message),
    });
  } catch (e) {
    throw new CliError(`Sign-in failed: ${describe(e)}`);
  }
  const account = result?.account;
  if (!account) throw new CliError('Sign-in failed: the authority returned no account.');
  io.out(`Signed in as ${account.username} (${account.homeAccountId}); token cache: ${options.cachePath}`);
}

async function call(app: PublicClientApplication, options: CliOptions, io: Io): Promise<void> {
  const account = await pickAccount(app, options);
  let accessToken: string;
  try {
    const result = await app.acquireTokenSilent({
      account,
      scopes: [...options.scopes],
      forceRefresh: options.forceRefresh,
    });
    accessToken = result.accessToken;
  } catch (e) {
    if (e instanceof InteractionRequiredAuthError) {
      throw new CliError(`The sign-in of ${account.username} must be renewed (${e.errorCode}): run login again.`);
    }
    throw new CliError(`Cannot get a token for ${account.username}: ${describe(e)}`);
  }
  const url = `${options.api}/api/me`;
  let response: Response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } });
  } catch (e) {
    const cause = e instanceof Error && e.cause !== undefined ? errorCode(e.cause) : errorCode(e);
    throw new CliError(`Cannot reach ${url}: ${cause}`);
  }
  const text = await response.text();
  if (!response.ok) {
    const challenge = response.headers.get('www-authenticate');
    throw new CliError(
      `GET ${url}: HTTP ${response.status}${challenge ? ` (WWW-Authenticate: ${challenge})` : ''}: ${text.slice(0, 1000)}`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CliError(`GET ${url}: HTTP ${response.status} with a body that is not JSON`);
  }
  io.out(JSON.stringify(body, null, 2));
}

async function logout(app: PublicClientApplication, options: CliOptions, io: Io): Promise<void> {
  const accounts = await app.getAllAccounts();
  if (accounts.length === 0) {
    io.out('Not signed in.');
    return;
  }
  const account = selectAccount(accounts, options);
  await app.signOut({ account });
  io.out(`Signed out ${account.username}: its tokens are removed from ${options.cachePath}.`);
}

async function whoami(app: PublicClientApplication, io: Io): Promise<void> {
  const accounts = await app.getAllAccounts();
  if (accounts.length === 0) throw new CliError('Not signed in.');
  for (const a of accounts) {
    io.out(`${a.username}\t${a.name ?? ''}\ttenant ${a.tenantId}\t${a.homeAccountId}`);
  }
}

async function pickAccount(app: PublicClientApplication, options: CliOptions): Promise<AccountInfo> {
  const accounts = await app.getAllAccounts();
  if (accounts.length === 0) throw new CliError(`Not signed in (no account in ${options.cachePath}): run login.`);
  return selectAccount(accounts, options);
}

function selectAccount(accounts: readonly AccountInfo[], options: CliOptions): AccountInfo {
  const names = accounts.map((a) => a.username).join(', ');
  if (options.account) {
    const wanted = options.account.toLowerCase();
    const found = accounts.find((a) => a.username.toLowerCase() === wanted || a.homeAccountId.toLowerCase() === wanted);
    if (!found) throw new CliError(`No account ${options.account} in the token cache (it holds: ${names}).`);
    return found;
  }
  if (accounts.length > 1) {
    throw new CliError(`The token cache holds ${accounts.length} accounts (${names}): choose one with --account.`);
  }
  return accounts[0]!;
}

function describe(e: unknown): string {
  if (e instanceof AuthError) return `${e.errorCode}${e.errorMessage ? `: ${e.errorMessage}` : ''}`;
  return e instanceof Error ? e.message : String(e);
}

function errorCode(e: unknown): string {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
  return e instanceof Error ? e.message : String(e);
}
