/**
 * The function app served by the local host on a free port, configured like `npm start`'s embedded defaults but
 * against the run's shared stack (fresh tenant, client id and table per test file), with a counting wrapper
 * around its real store.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRegistrations } from '../../dev/host/load.js';
import { startLocalHost, type LocalHost } from '../../dev/host/server.js';
import { embeddedSettings } from '../../dev/settings.js';
import { parseConfig } from '../../lib/config.js';
import { generateKeySetting } from '../../lib/cache/keyring.js';
import { createStore } from '../../lib/cache/stores/from-config.js';
import { createRuntime, useRuntime, type Runtime } from '../../lib/runtime.js';
import { newId, stack } from './stack.js';
import { countingStore } from './stored.js';

export interface TestApp {
  readonly host: LocalHost;
  readonly url: string;
  readonly runtime: Runtime;
  readonly store: ReturnType<typeof countingStore>;
  readonly clientId: string;
  readonly tenantId: string;
  /** Every log line the functions wrote. */
  readonly logs: string[];
  close(): Promise<void>;
}

export async function startTestApp(extra: Record<string, string> = {}): Promise<TestApp> {
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
  const config = parseConfig(env);
  const store = countingStore(createStore(config.cache));
  const runtime = createRuntime(config, { store });
  useRuntime(runtime);
  return {
    host,
    url: host.url,
    runtime,
    store,
    clientId,
    tenantId,
    logs,
    close: async () => {
      await host.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A minimal cookie jar: remembers Set-Cookie values by name (Max-Age=0 removes). */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  take(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
  }
}

/** GET/POST without following redirects, with the jar's cookies. */
export async function visit(jar: CookieJar, url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (jar.cookies.size > 0) headers.set('cookie', jar.header());
  const response = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.take(response);
  return response;
}
