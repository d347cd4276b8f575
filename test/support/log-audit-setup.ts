/**
 * Set up before every test file (vitest `setupFiles`): captures the console and what the file sends and receives
 * with `fetch` into the file's log audit (log-audit.ts), and after the file's last hook searches every captured
 * line for every secret of the run — each token, code, PKCE verifier, device code, client secret and assertion the
 * run's local authority issued or received while the file ran (other files' included: the listing is global) and
 * any authority of the file's own (the fault-injection stack's, test/support/faults.ts) issued or received, every
 * Set-Cookie value received, every Authorization and Cookie header sent (invalid tokens included), the key rings
 * and store keys. A file whose logs hold one fails, naming the kind of secret and the line.
 */
import { afterAll, beforeAll } from 'vitest';
import {
  auditMark,
  capturedLines,
  findLeaks,
  logLine,
  listingTruncated,
  noteKeySetting,
  noteSecret,
  secretsOfRun,
  setAuditMark,
} from './log-audit.js';
import { authority, CLIENT_SECRET, stack } from './stack.js';

for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
  const original = console[level].bind(console);
  console[level] = (...args: unknown[]) => {
    logLine(`console.${level}`, ...args);
    original(...args);
  };
}

const realFetch = globalThis.fetch;
globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  // The credential of `scheme credential`, or a header without a scheme as it is (never a bare scheme name).
  const authorization = headers.get('authorization');
  const credential = authorization && (/^\S+\s+(\S.*)$/.exec(authorization)?.[1] ?? authorization);
  if (credential && !/^(bearer|basic)$/i.test(credential)) noteSecret('Authorization header sent', credential);
  for (const cookie of headers.get('cookie')?.split(';') ?? []) {
    noteSecret('cookie sent', cookie.slice(cookie.indexOf('=') + 1).trim());
  }
  const response = await realFetch(input, init);
  for (const setCookie of response.headers.getSetCookie()) {
    noteSecret('Set-Cookie value', setCookie.split(';')[0]!.replace(/^[^=]*=/, ''));
  }
  return response;
};

beforeAll(async () => {
  setAuditMark(await authority.secretsMark());
  const s = stack();
  noteSecret('client secret', CLIENT_SECRET);
  noteSecret('store key', s.cosmos.key);
  noteKeySetting('store key', `table:${s.table.accountKey}`);
});

afterAll(async () => {
  const lines = capturedLines();
  if (lines.length === 0) return;
  const issued = await authority.secretsSince(auditMark());
  if (issued.truncated || listingTruncated()) {
    throw new Error('a local authority dropped secrets of this run: raise its secretLogLimit');
  }
  const leaks = findLeaks(lines, secretsOfRun(issued));
  if (leaks.length > 0) {
    const where = leaks.map((leak) => `${leak.kind} (${leak.length} characters) in captured line ${leak.line}`);
    throw new Error(`${leaks.length} secret(s) in the logs of this file:\n${where.join('\n')}`);
  }
});
