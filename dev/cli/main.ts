#!/usr/bin/env node
/**
 * token-cache-cli: a public client (device code flow) that keeps its MSAL cache in one file guarded by a
 * cross-process lock file, and calls this app's web API, `GET /api/me` — which validates the token and calls the
 * downstream API on the user's behalf. `npm run cli -- --help`.
 */
import type { Io } from './commands.js';
import { parseCli, USAGE, UsageError } from './options.js';

const io: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

async function main(argv: readonly string[]): Promise<number> {
  let options;
  try {
    options = parseCli(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    io.out(USAGE);
    return 0;
  }
  // msal-node is loaded only for a command: help and usage errors answer at once.
  const { CliError, runCommand } = await import('./commands.js');
  try {
    await runCommand(options, io);
    return 0;
  } catch (e) {
    if (e instanceof CliError) {
      io.err(e.message);
      return e.exitCode;
    }
    io.err(e instanceof Error ? e.message : String(e));
    return 1;
  }
}

const code = await main(process.argv.slice(2));
// Exit now rather than when the authority's keep-alive connections time out; stdout and stderr are flushed first.
await Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write('', resolve))));
process.exit(code);
