import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzuriteTable, type AzuriteTable } from '../dev/emulators.js';
import { startTestApp, type TestApp } from './support/app.js';
import { authority, newId } from './support/stack.js';

let azurite: AzuriteTable;
let port: number;
const location = mkdtempSync(join(tmpdir(), 'azurite-outage-'));
let app: TestApp;

beforeAll(async () => {
  azurite = await startAzuriteTable({ location });
  port = Number(new URL(azurite.url).port);
  app = await startTestApp({ TABLE_CONNECTION_STRING: azurite.connectionString });
});
afterAll(async () => {
  await app.close();
  await azurite.close();
  rmSync(location, { recursive: true, force: true });
});

async function callMe(oid: string, token?: string): Promise<{ status: number; token: string }> {
  const bearer = token ?? (await authority.webApiToken(app, oid));
  const response = await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${bearer}` } });
  await response.body?.cancel();
  return { status: response.status, token: bearer };
}

function telemetryOf(partitionPrefix: string): { reads: number; writes: number; failures: number }[] {
  return app.logs
    .filter((l) => l.includes('token-cache-telemetry') && l.includes(partitionPrefix))
    .map((l) => JSON.parse(l.slice(l.indexOf('{'))) as { reads: number; writes: number; failures: number });
}

describe('the store goes away and comes back', () => {
  it('still returns tokens from the web API and the app daemon, warns with the cause, and persists again afterwards', async () => {
    const alice = newId();
    expect((await callMe(alice)).status).toBe(200);
    expect(telemetryOf(alice)).toEqual([expect.objectContaining({ reads: 1, writes: 1, failures: 0 })]);

    await azurite.close();
    app.logs.length = 0;
    const bob = newId();
    const during = await callMe(bob);
    expect(during.status).toBe(200);
    expect(app.logs.find((l) => l.includes('store read failed'))).toMatch(/unavailable|ECONNREFUSED/);
    expect(telemetryOf(bob)).toEqual([expect.objectContaining({ reads: 0, writes: 0, failures: 1 })]);
    await app.host.timers.fire('appDaemon');
    expect(app.logs.some((l) => l.includes('app daemon: ok'))).toBe(true);

    azurite = await startAzuriteTable({ location, port });
    app.logs.length = 0;
    const again = await callMe(bob, during.token);
    expect(again.status).toBe(200);
    expect(telemetryOf(bob)).toEqual([expect.objectContaining({ reads: 1, writes: 1, failures: 0 })]);
    // Written before the outage and kept by the store across it.
    expect(await app.store.read(`${alice}.${app.tenantId}`)).toBeDefined();
  });
});

describe('the identity provider fails', () => {
  it('answers 503 from the web API and logs a failed app daemon run, with the cache unchanged', async () => {
    const carol = newId();
    await authority.failNext(app.clientId, 4, 503);
    app.store.counts.read = app.store.counts.write = 0;
    const response = await fetch(`${app.url}/api/me`, {
      headers: {
        authorization: `Bearer ${await authority.webApiToken(app, carol)}`,
      },
    });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: string }).error).toBe('identity_provider_unavailable');
    expect(app.store.counts.write).toBe(0);

    app.logs.length = 0;
    await app.host.timers.fire('appDaemon');
    expect(app.logs.find((l) => l.includes('app daemon: no token'))).toMatch(/authority_unavailable/);
  });
});
