/**
 * The function app served by the local host on a free port, configured like `npm start`'s embedded defaults but
 * against the run's shared stack (fresh tenant, client id and table per test file), with a counting wrapper
 * around its real store.
 */
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CookieJar } from '../../dev/cookie-jar.js';
import { loadRegistrations } from '../../dev/host/load.js';
import { startLocalHost, type LocalHost } from '../../dev/host/server.js';
import { embeddedSettings } from '../../dev/settings.js';
import { installAppRuntime } from '../../app/host/registration.js';
import { createAppRuntime, type AppRuntime } from '../../app/runtime.js';
import { getMe } from '../../app/webapi/me.js';
import { parseSettings } from '../../app/settings.js';
import { createStores } from '../../app/stores.js';
import { httpsRequest, trustingAgent } from '../../dev/https-trust.js';
import { generateKeySetting, parseKeyRing, type CacheStore } from '../../lib/index.js';
import { newId, stack, type TestApp as CacheApp } from './stack.js';
import { countingStore } from './stored.js';
import { logLine, noteAppSettings } from './log-audit.js';

export interface TestApp {
  readonly host: LocalHost;
  readonly url: string;
  readonly runtime: AppRuntime;
  /** The token store, counting the operations that reach it. */
  readonly store: ReturnType<typeof countingStore>;
  /** The app's record store (opt-ins, daemon cursor), counting too. */
  readonly records: ReturnType<typeof countingStore>;
  /** The app's token cache as the library-level tests see an app (for signIn, readStored, editStored). */
  readonly cache: CacheApp;
  readonly clientId: string;
  readonly tenantId: string;
  /** Every log line the functions wrote. */
  readonly logs: string[];
  close(): Promise<void>;
}

/**
 * `extra` overrides settings; `options.tokenStore` replaces the token store the settings name (e.g. one on an
 * emulator a test stops), the record store staying the one the settings name.
 */
export async function startTestApp(
  extra: Record<string, string> = {},
  options: { readonly tokenStore?: CacheStore } = {},
): Promise<TestApp> {
  const s = stack();
  const logs: string[] = [];
  const registrations = await loadRegistrations(join(import.meta.dirname, '../../functions'), '.ts');
  const host = await startLocalHost({
    registrations,
    port: 0,
    timers: false,
    log: (level, name, message) => logs.push(logLine(level, `${name}: ${message}`)),
  });
  const dir = mkdtempSync(join(tmpdir(), 'app-test-'));
  const caPath = join(dir, 'ca.pem');
  writeFileSync(caPath, s.authority.ca);
  const tenantId = newId();
  const clientId = newId();
  const env = {
    ...embeddedSettings({
      authorityUrl: s.authority.url,
      authorityCaPath: caPath,
      tableConnectionString: s.table.connectionString,
      tableName: `app${newId().replace(/-/g, '').slice(0, 12)}`,
      downstreamUrl: s.downstream.url,
      appUrl: host.url,
      cacheKeys: generateKeySetting('t1'),
      sessionKeys: generateKeySetting('s1'),
      tenantId,
      clientId,
    }),
    ...extra,
  };
  noteAppSettings(env);
  Object.assign(process.env, env);
  const settings = parseSettings(env);
  const stores = createStores(settings.cache);
  const store = countingStore(options.tokenStore ?? stores.tokens);
  const records = countingStore(stores.records);
  const runtime = createAppRuntime(settings, { stores: { tokens: store, records } });
  installAppRuntime(runtime);
  return {
    host,
    url: host.url,
    runtime,
    store,
    records,
    cache: { clientId, tenantId, tokens: runtime.tokens, store, keyRing: parseKeyRing(settings.cache.keys) },
    clientId,
    tenantId,
    logs,
    close: async () => {
      await host.close();
      installAppRuntime(undefined);
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An invocation context for calling a handler directly, as the Functions host would: its log lines go to the file's
 * log audit (formatted as the Azure Functions worker formats them), never nowhere.
 */
export function testContext(functionName: string): InvocationContext {
  return new InvocationContext({
    functionName,
    logHandler: (level, ...args) => void logLine(`${level} ${functionName}:`, ...args),
  });
}

export { CookieJar };

/** GET/POST without following redirects, with the jar's cookies. */
export async function visit(jar: CookieJar, url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (jar.cookies.size > 0) headers.set('cookie', jar.header());
  const response = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.take(response);
  return response;
}

/** The signed-in person in `jar` turns background work on with the profile's form (a same-origin POST). */
export async function turnBackgroundOn(app: { url: string }, jar: CookieJar): Promise<Response> {
  return visit(jar, `${app.url}/api/profile/background`, {
    method: 'POST',
    body: 'enabled=true',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: app.url },
  });
}

/**
 * Starts a sign-in in `jar` as a browser would — the app's login, then the authority (`login_hint` skips the
 * picker) — and returns the callback URL the authority sends the browser back to.
 */
export async function startWebSignIn(app: { url: string }, jar: CookieJar, loginHint: string): Promise<string> {
  const login = await visit(jar, `${app.url}/api/auth/login`);
  const authorize = new URL(login.headers.get('location')!);
  authorize.searchParams.set('login_hint', loginHint);
  const answer = await httpsRequest(trustingAgent(stack().authority.ca), authorize.toString());
  const callback = answer.headers.location;
  if (answer.status !== 302 || !callback) throw new Error(`authorize answered HTTP ${answer.status}`);
  return callback;
}

/** A whole sign-in in `jar`: {@link startWebSignIn}, then the callback. Resolves the callback's response. */
export async function webSignIn(app: { url: string }, jar: CookieJar, loginHint: string): Promise<Response> {
  return visit(jar, await startWebSignIn(app, jar, loginHint));
}

/**
 * A whole sign-in that must succeed; resolves the partition it wrote (the one token partition new in the store —
 * so not for a person already signed in).
 */
export async function webSignInPartition(app: TestApp, jar: CookieJar, loginHint: string): Promise<string> {
  const before = new Set((await app.store.list({})).entries.map((e) => e.partitionKey));
  const callback = await webSignIn(app, jar, loginHint);
  if (callback.status !== 302)
    throw new Error(`the callback answered HTTP ${callback.status}: ${await callback.text()}`);
  const added = (await app.store.list({})).entries.map((e) => e.partitionKey).filter((k) => !before.has(k));
  if (added.length !== 1) throw new Error(`the sign-in wrote ${added.length} new partitions`);
  return added[0]!;
}

/** The app's runtime with another downstream API (for the web API, web app and both daemons), on the same stores. */
export function runtimeCalling(app: TestApp, downstreamUrl: string): AppRuntime {
  const { settings } = app.runtime;
  return createAppRuntime(
    {
      ...settings,
      web: { ...settings.web, downstreamUrl },
      daemons: { ...settings.daemons, appApiUrl: downstreamUrl },
    },
    { stores: { tokens: app.store, records: app.records } },
  );
}

/** `GET /api/me` handled in this process by `runtime`, with `token` as the caller's bearer token. */
export function invokeMe(app: TestApp, runtime: AppRuntime, token: string): Promise<HttpResponseInit> {
  return getMe(
    new HttpRequest({ method: 'GET', url: `${app.url}/api/me`, headers: { authorization: `Bearer ${token}` } }),
    testContext('me'),
    runtime,
  );
}
