/**
 * `npm start`: runs the function app locally. Reads `local.settings.json` (Values) like Core Tools does; when no
 * tenant is configured there or in the environment, starts the embedded defaults — Azurite Table storage persisting
 * to `.local/azurite` (tokens survive a restart), the local authority (state in `.local/authority.json`) and the
 * local downstream API — then serves every function at http://localhost:7071/api/<route> and fires the timers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeySetting } from '../lib/index.js';
import { startLocalAuthority } from './authority/server.js';
import { startDownstreamApi } from './downstream.js';
import { startAzuriteTable } from './emulators.js';
import { loadRegistrations } from './host/load.js';
import { startLocalHost } from './host/server.js';
import { embeddedSettings } from './settings.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const LOCAL = join(root, '.local');
const PORTS = { app: 7071, authority: 7072, authorityBrowser: 7073, downstream: 7074, table: 10002 };

function loadLocalSettings(): void {
  const file = join(root, 'local.settings.json');
  if (!existsSync(file)) return;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, unknown> };
  for (const [name, value] of Object.entries(parsed.Values ?? {})) {
    if (process.env[name] === undefined && typeof value === 'string') process.env[name] = value;
  }
}

/** Development keys, generated once and kept (owner-only) so cached tokens still decrypt after a restart. */
async function devKeys(): Promise<{ cacheKeys: string; sessionKeys: string }> {
  const file = join(LOCAL, 'dev-keys.json');
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as { cacheKeys: string; sessionKeys: string };
  const keys = { cacheKeys: generateKeySetting('dev1'), sessionKeys: generateKeySetting('dev1') };
  await writeFile(file, JSON.stringify(keys), { mode: 0o600 });
  return keys;
}

async function startEmbedded(): Promise<() => Promise<void>> {
  await mkdir(LOCAL, { recursive: true, mode: 0o700 });
  const [table, authority] = await Promise.all([
    startAzuriteTable({ port: PORTS.table, location: join(LOCAL, 'azurite') }),
    startLocalAuthority({
      port: PORTS.authority,
      browserPort: PORTS.authorityBrowser,
      stateFile: join(LOCAL, 'authority.json'),
    }),
  ]);
  const downstream = await startDownstreamApi({
    port: PORTS.downstream,
    jwks: authority.jwks,
    issuers: (iss) => iss.startsWith(`${authority.url}/`),
    criticalEvents: authority.cae,
    audience: ['https://graph.microsoft.com'],
  });
  const caPath = join(LOCAL, 'authority-ca.pem');
  await writeFile(caPath, authority.ca);
  await chmod(caPath, 0o644);
  const settings = embeddedSettings({
    authorityUrl: authority.url,
    authorityCaPath: caPath,
    tableConnectionString: table.connectionString,
    downstreamUrl: downstream.url,
    appUrl: `http://localhost:${PORTS.app}`,
    ...(await devKeys()),
  });
  Object.assign(process.env, settings);
  console.log(`Embedded defaults (no AUTH_TENANT_ID configured):
  local authority     ${authority.url} (sign-in pages at ${authority.browserUrl ?? authority.url})
  revoke a session    ${authority.sessionsUrl} (Continuous Access Evaluation: the downstream API then challenges)
  Azurite Table       ${table.url} (data in .local/azurite)
  downstream API      ${downstream.url}/v1.0/me`);
  return async () => {
    await Promise.allSettled([downstream.close(), authority.close(), table.close()]);
  };
}

async function main(): Promise<void> {
  loadLocalSettings();
  const stopEmbedded = process.env.AUTH_TENANT_ID ? undefined : await startEmbedded();
  const registrations = await loadRegistrations(join(root, 'dist/functions'));
  const host = await startLocalHost({ registrations, port: Number(process.env.PORT ?? PORTS.app) });
  const base = `http://localhost:${new URL(host.url).port}`;
  console.log(`\nFunctions:`);
  for (const r of registrations) {
    if (r.kind === 'http') {
      console.log(
        `  ${r.name.padEnd(18)} ${(r.options.methods ?? ['GET', 'POST']).join(',').padEnd(5)} ${base}/api/${r.options.route ?? r.name}`,
      );
    } else {
      console.log(
        `  ${r.name.padEnd(18)} timer "${r.options.schedule}" — run now: curl -X POST ${base}/admin/functions/${r.name}`,
      );
    }
  }
  console.log(`\nOpen ${base}/api/home to sign in. Ctrl+C stops.`);
  const stop = async () => {
    await host.close();
    await stopEmbedded?.();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
