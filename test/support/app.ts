/**
 * The function app served by the local host on a free port, configured like `npm start`'s embedded defaults but
 * against the run's shared stack (fresh tenant, client id and table per test file), with a counting wrapper
 * around its real store.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CookieJar } from '../../dev/cookie-jar.js';
import { loadRegistrations } from '../../dev/host/load.js';
import { startLocalHost, type LocalHost } from '../../dev/host/server.js';
import { embeddedSettings } from '../../dev/settings.js';
import { installAppRuntime } from '../../app/host/registration.js';
import { createAppRuntime, type AppRuntime } from '../../app/runtime.js';
import { parseSettings } from '../../app/settings.js';
import { createStores } from '../../app/stores.js';
import { generateKeySetting, parseKeyRing, type CacheStore } from '../../lib/index.js';
import { newId, stack, type TestApp as CacheApp } from './stack.js';
import { countingStore } from './stored.js';

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
    log: (level, name, message) => logs.push(`${level} ${name}: ${message}`),
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

export { CookieJar };

/** GET/POST without following redirects, with the jar's cookies. */
export async function visit(jar: CookieJar, url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (jar.cookies.size > 0) headers.set('cookie', jar.header());
  const response = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.take(response);
  return response;
}
