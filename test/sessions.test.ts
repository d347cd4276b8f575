import { HttpRequest, InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsRequest, trustingAgent } from '../dev/https-trust.js';
import { createAppRuntime } from '../app/runtime.js';
import { signOut } from '../app/webapp/signout.js';
import { createTableStore } from '../lib/index.js';
import { CookieJar, startTestApp, visit, type TestApp } from './support/app.js';
import { closedPort } from './support/emulators.js';
import { stack } from './support/stack.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
});

const SESSION = 'msal_session';

/**
 * Signs in through the web app (login → authority, `login_hint` skips the picker → callback) and returns the
 * partition the sign-in wrote: the one user partition that is new in the store.
 */
async function signInAs(jar: CookieJar, loginHint: string): Promise<string> {
  const before = new Set((await app.store.list({})).entries.map((e) => e.partitionKey));
  const login = await visit(jar, `${app.url}/api/auth/login`);
  const authorize = new URL(login.headers.get('location')!);
  authorize.searchParams.set('login_hint', loginHint);
  const answer = await httpsRequest(trustingAgent(stack().authority.ca), authorize.toString());
  expect((await visit(jar, answer.headers.location!)).status).toBe(302);
  expect(jar.cookies.has(SESSION)).toBe(true);
  const added = (await app.store.list({})).entries.map((e) => e.partitionKey).filter((k) => !before.has(k));
  expect(added).toHaveLength(1);
  return added[0]!;
}

const post = (jar: CookieJar, path: string, headers: Record<string, string> = {}) =>
  visit(jar, `${app.url}${path}`, {
    method: 'POST',
    body: '',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });

describe('sign-out', () => {
  it('is not done by a GET: the GET shows a form that posts to the sign-out URL, and the session stays', async () => {
    const jar = new CookieJar();
    const partition = await signInAs(jar, 'gina@contoso.test');
    const page = await visit(jar, `${app.url}/api/auth/logout`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<form [^>]*method="post" action="\/api\/auth\/logout">/);
    expect(page.headers.getSetCookie()).toEqual([]);
    expect(await app.store.read(partition)).toBeDefined();
    expect((await visit(jar, `${app.url}/api/profile`)).status).toBe(200);
  });

  it('refuses a cross-site POST, keeping the session and the tokens; a same-origin POST signs out', async () => {
    const jar = new CookieJar();
    const partition = await signInAs(jar, 'hank@contoso.test');
    for (const headers of [
      { origin: 'https://evil.example' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site', origin: 'https://sub.localhost' },
      { origin: 'null' },
    ]) {
      const refused = await post(jar, '/api/auth/logout', headers);
      expect(refused.status, JSON.stringify(headers)).toBe(403);
      expect(refused.headers.getSetCookie()).toEqual([]);
    }
    expect(await app.store.read(partition)).toBeDefined();
    expect((await visit(jar, `${app.url}/api/profile`)).status).toBe(200);

    const out = await post(jar, '/api/auth/logout', { origin: app.url, 'sec-fetch-site': 'same-origin' });
    expect(out.status).toBe(200);
    const body = await out.text();
    // Onward to the authority's end-session endpoint by a new navigation (see signOut for why not a redirect).
    expect(body).toMatch(
      /<meta http-equiv="refresh" content="0; url=[^"]*\/oauth2\/v2\.0\/logout\?post_logout_redirect_uri=/,
    );
    expect(out.headers.getSetCookie().some((c) => c.startsWith(`${SESSION}=;`) && /Max-Age=0/.test(c))).toBe(true);
    expect(jar.cookies.has(SESSION)).toBe(false);
    expect(await app.store.read(partition)).toBeUndefined();
    expect((await visit(jar, `${app.url}/api/profile`)).status).toBe(302);
  });

  it('keeps the session when the tokens could not be removed, so that signing out again completes it', async () => {
    const jar = new CookieJar();
    const partition = await signInAs(jar, 'ivan@contoso.test');
    const unreachable = createTableStore({
      connectionString: stack().table.connectionString.replace(/:\d+\//, `:${await closedPort()}/`),
      tableName: 'unreachable',
      allowInsecureConnection: true,
      maxRetries: 0,
    });
    const broken = createAppRuntime(app.runtime.settings, { stores: { tokens: unreachable, records: app.records } });
    try {
      const failed = await signOut(
        new HttpRequest({
          method: 'POST',
          url: `${app.url}/api/auth/logout`,
          headers: { cookie: jar.header(), origin: app.url },
        }),
        new InvocationContext({ functionName: 'authLogout', logHandler: () => undefined }),
        broken,
      );
      expect(failed.status).toBe(503);
      expect(new Headers(failed.headers as Record<string, string>).get('retry-after')).toMatch(/^\d+$/);
      expect(failed.cookies ?? []).toEqual([]);
    } finally {
      await broken.close();
    }
    expect(await app.store.read(partition)).toBeDefined();
    expect((await visit(jar, `${app.url}/api/profile`)).status).toBe(200);

    const retried = await post(jar, '/api/auth/logout', { origin: app.url });
    expect(retried.status).toBe(200);
    expect(await app.store.read(partition)).toBeUndefined();
    expect(jar.cookies.has(SESSION)).toBe(false);
  });
});
