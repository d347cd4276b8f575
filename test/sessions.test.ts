import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsRequest, trustingAgent } from '../dev/https-trust.js';
import { home, profile } from '../app/webapp/pages.js';
import { completeSignIn } from '../app/webapp/signin.js';
import { signOut } from '../app/webapp/signout.js';
import { createAppRuntime, type AppRuntime } from '../app/runtime.js';
import { generateKeySetting } from '../lib/index.js';
import { CookieJar, startTestApp, startWebSignIn, visit, webSignInPartition, type TestApp } from './support/app.js';
import { unreachableTableStore } from './support/emulators.js';
import { stack } from './support/stack.js';

/** The session key ring before a rotation; instance A already has the new key `s2`, instance B does not yet. */
const OLD_KEY = generateKeySetting('s1');
let app: TestApp;
let older: AppRuntime;
beforeAll(async () => {
  app = await startTestApp({ SESSION_KEYS: `${generateKeySetting('s2')},${OLD_KEY}` });
  const { settings } = app.runtime;
  older = createAppRuntime(
    { ...settings, web: { ...settings.web, sessionKeys: OLD_KEY } },
    { stores: { tokens: app.store, records: app.records } },
  );
});
afterAll(async () => {
  await older.close();
  await app.close();
});

const SESSION = '__Host-msal_session';
const SIGNIN = '__Host-msal_signin';

/** Calls a handler of instance `runtime` directly, as the Functions host would. */
function onInstance(
  handler: (request: HttpRequest, context: InvocationContext, runtime: AppRuntime) => Promise<HttpResponseInit>,
  runtime: AppRuntime,
  url: string,
  init: { method?: string; cookie?: string; origin?: string } = {},
): Promise<HttpResponseInit> {
  const headers: Record<string, string> = {};
  if (init.cookie) headers.cookie = init.cookie;
  if (init.origin) headers.origin = init.origin;
  return handler(
    new HttpRequest({ method: init.method ?? 'GET', url, headers }),
    new InvocationContext({ functionName: 'test', logHandler: () => undefined }),
    runtime,
  );
}

function header(response: HttpResponseInit, name: string): string | null {
  return new Headers(response.headers).get(name);
}

const signInAs = async (jar: CookieJar, loginHint: string): Promise<string> => {
  const partition = await webSignInPartition(app, jar, loginHint);
  expect(jar.cookies.has(SESSION)).toBe(true);
  return partition;
};

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
    for (const headers of <Record<string, string>[]>[
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
    const unreachable = await unreachableTableStore();
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
      expect(new Headers(failed.headers).get('retry-after')).toMatch(/^\d+$/);
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

describe('cookies', () => {
  it('are __Host- cookies (Secure, Path=/, no Domain), HttpOnly and SameSite=Lax; the sign-in cookie lives 10 minutes', async () => {
    const jar = new CookieJar();
    const login = await visit(jar, `${app.url}/api/auth/login`);
    const [transaction, ...others] = login.headers.getSetCookie();
    expect(others).toEqual([]);
    expect(transaction).toMatch(new RegExp(`^${SIGNIN}=[^;]+; Path=/; Max-Age=600; Secure; HttpOnly; SameSite=Lax$`));
    const authorize = new URL(login.headers.get('location')!);
    authorize.searchParams.set('login_hint', 'lena@contoso.test');
    const callback = (await httpsRequest(trustingAgent(stack().authority.ca), authorize.toString())).headers.location!;
    const signedIn = await visit(jar, callback);
    expect(signedIn.headers.getSetCookie()).toEqual([
      `${SIGNIN}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax`,
      expect.stringMatching(new RegExp(`^${SESSION}=[^;]+; Path=/; Max-Age=28800; Secure; HttpOnly; SameSite=Lax$`)),
    ]);
  });

  it('do not stand in for one another: a sign-in cookie is no session, a session no sign-in', async () => {
    const jar = new CookieJar();
    const callback = await startWebSignIn(app, jar, 'lena@contoso.test');
    const asSession = new CookieJar();
    asSession.cookies.set(SESSION, jar.cookies.get(SIGNIN)!);
    expect((await visit(asSession, `${app.url}/api/profile`)).headers.get('location')).toBe('/api/auth/login');

    const other = new CookieJar();
    await signInAs(other, 'mona@contoso.test');
    const asTransaction = new CookieJar();
    asTransaction.cookies.set(SIGNIN, other.cookies.get(SESSION)!);
    const refused = await visit(asTransaction, callback);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toBe('invalid_state');
  });
});

describe('SESSION_KEYS rotation: an instance that lacks the newer key', () => {
  it('answers 503 with Retry-After to a session sealed under it, keeping the cookie; an older-key session works there', async () => {
    const jar = new CookieJar();
    const partition = await signInAs(jar, 'judy@contoso.test');
    for (const handler of [profile, home]) {
      const response = await onInstance(handler, older, `${app.url}/api/profile`, { cookie: jar.header() });
      expect(response.status, handler.name).toBe(503);
      expect(header(response, 'retry-after'), handler.name).toMatch(/^\d+$/);
      expect(response.cookies ?? [], handler.name).toEqual([]);
    }
    const out = await onInstance(signOut, older, `${app.url}/api/auth/logout`, {
      method: 'POST',
      cookie: jar.header(),
      origin: app.url,
    });
    expect(out.status).toBe(503);
    expect(out.cookies ?? []).toEqual([]);
    expect(await app.store.read(partition)).toBeDefined();
    // The same person, sealed under the key both instances hold: instance B serves them.
    const { sealCookie } = await import('../app/webapp/cookies.js');
    const { parseKeyRing } = await import('../lib/index.js');
    const hid = partition;
    const oldSession = await sealCookie(parseKeyRing(OLD_KEY), 'session', { hid }, 600);
    const served = await onInstance(profile, older, `${app.url}/api/profile`, { cookie: `${SESSION}=${oldSession}` });
    expect(served.status).toBe(200);
  });

  it('answers 503 to a sign-in callback whose transaction it cannot open, keeping the cookie; the newer instance completes it', async () => {
    const jar = new CookieJar();
    const callback = await startWebSignIn(app, jar, 'kim@contoso.test');
    const early = await onInstance(completeSignIn, older, callback, { cookie: jar.header() });
    expect(early.status).toBe(503);
    expect(header(early, 'retry-after')).toMatch(/^\d+$/);
    expect(early.cookies ?? []).toEqual([]);
    expect(jar.cookies.has(SIGNIN)).toBe(true);
    const completed = await visit(jar, callback);
    expect(completed.status).toBe(302);
    expect(completed.headers.get('location')).toBe('/api/profile');
    expect(jar.cookies.has(SESSION)).toBe(true);
  });
});
