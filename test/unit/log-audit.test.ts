/**
 * The log audit itself (test/support/log-audit.ts): a secret planted in a log line is found in every form the audit
 * claims to search for, and a clean log passes — so a search broken into a no-op cannot let every file pass.
 * Only `findLeaks` over arrays of this test's own: nothing here goes to this file's audit (it would fail the file).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { findLeaks, needleOf, newCacheKey, newKeySetting, notedSecrets } from '../support/log-audit.js';

const b64url = (bytes: number) => randomBytes(bytes).toString('base64url');
const jwt = () => `${b64url(20)}.${b64url(120)}.${b64url(64)}`;
/** Base64 with `+`, `/` and `=` in it, whatever the random part: its URL-encoded form differs from it. */
const base64Secret = () => `${randomBytes(30).toString('base64')}+/a/b+c==`;

const CLEAN = [
  'info userDaemon: user daemon: processed 3, succeeded 3, paused 0, failed 0',
  'warn me: store_unavailable (StoreError: read timed out) partition 0f0e.contoso',
  'error signin: invalid_grant (AADSTS70000)',
];

/** Where each secret is found in `lines` (its kind, 1-based line), or [] when none is. */
const found = (lines: readonly string[], secrets: Record<string, string>) =>
  findLeaks(
    lines,
    Object.entries(secrets).map(([kind, value]) => [value, kind] as const),
  ).map(({ kind, line }) => `${kind}@${line}`);

describe('log audit: findLeaks', () => {
  it('passes a clean log, with secrets of every kind to search for', () => {
    expect(
      found(CLEAN, { jwt: jwt(), opaque: b64url(80), short: 'abc.def', hex: randomBytes(32).toString('hex') }),
    ).toEqual([]);
  });

  it('finds a short secret logged whole (a malformed bearer token), naming its kind and line, not its value', () => {
    const leaks = findLeaks([...CLEAN, 'warn me: rejected bearer abc.def'], [['abc.def', 'Authorization header sent']]);
    expect(leaks).toEqual([{ kind: 'Authorization header sent', length: 7, line: 4 }]);
  });

  it('finds a long secret at the very start and at the very end of the logs', () => {
    const first = b64url(60);
    const last = b64url(60);
    expect(found([`${first} first`, ...CLEAN, `last ${last}`], { first, last }).sort()).toEqual(['first@1', 'last@5']);
  });

  it('finds a long secret logged cut short to its first 24 characters, but not to 23', () => {
    const secret = b64url(60);
    expect(found([...CLEAN, `refresh token ${secret.slice(0, 24)}…`], { refresh_token: secret })).toEqual([
      'refresh_token@4',
    ]);
    expect(found([...CLEAN, `refresh token ${secret.slice(0, 23)}…`], { refresh_token: secret })).toEqual([]);
  });

  it("finds a JWT by its signature alone; its header and claims alone are not a leak (they are in every copy's clear)", () => {
    const token = jwt();
    const [header, claims, signature] = token.split('.') as [string, string, string];
    expect(needleOf(token)).toBe(signature);
    expect(found([...CLEAN, `token ${token}`], { access_token: token })).toEqual(['access_token@4']);
    expect(found([...CLEAN, `sig=${signature}`], { access_token: token })).toEqual(['access_token@4']);
    expect(found([...CLEAN, `header ${header}.${claims}.`], { access_token: token })).toEqual([]);
  });

  it('finds a secret logged URL-encoded (in a logged URL or form body), long or short', () => {
    const long = base64Secret();
    const short = 'a+b/c=';
    const lines = [...CLEAN, `GET /cb?x=${encodeURIComponent(long)}`, `body t=${encodeURIComponent(short)}`];
    expect(found(lines, { code: long, cookie: short }).sort()).toEqual(['code@4', 'cookie@5']);
  });

  it('finds one leak among thousands of secrets (the single pass over the logs)', () => {
    const secrets = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`t${i}`, b64url(40)]));
    expect(found(CLEAN, secrets)).toEqual([]);
    expect(found([...CLEAN, `leak ${secrets['t4321']}`], secrets)).toEqual(['t4321@4']);
  });
});

describe('log audit: keys made for tests are noted, as base64, base64url and hex', () => {
  const keyForms = (key: Buffer) =>
    (['base64', 'base64url', 'hex'] as const).map((name) => [name, key.toString(name)] as const);
  const linesWithLeaks = (form: string) => [
    ...new Set(findLeaks([...CLEAN, `key ${form}`], notedSecrets()).map((leak) => leak.line)),
  ];

  it('newCacheKey', () => {
    for (const [name, form] of keyForms(newCacheKey('k9').key)) expect(linesWithLeaks(form), name).toEqual([4]);
  });

  it('newKeySetting', () => {
    const setting = newKeySetting('s9');
    const key = Buffer.from(setting.slice(setting.indexOf(':') + 1), 'base64');
    expect(key.length).toBe(32);
    for (const [name, form] of keyForms(key)) expect(linesWithLeaks(form), name).toEqual([4]);
  });
});
