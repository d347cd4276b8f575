import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { httpFunction, installAppRuntime, startAppRuntime } from '../app/host/registration.js';
import { testContext } from './support/app.js';

describe("the host's app start hook", () => {
  it('logs a settings error instead of throwing it; the functions then answer 500 misconfigured naming the setting', async () => {
    const saved = { ...process.env };
    for (const name of Object.keys(process.env)) {
      if (/^(AUTH|CACHE|SESSION|TABLE|COSMOS|REDIS|WEBAPP|DOWNSTREAM|APP|USER|SWEEPER)_/.test(name))
        delete process.env[name];
    }
    installAppRuntime(undefined);
    try {
      const logged: string[] = [];
      expect(() => startAppRuntime((line) => logged.push(line))).not.toThrow();
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatch(/AUTH_TENANT_ID|AUTH_CLIENT_ID|CACHE_KEYS/);

      const probe = httpFunction('probeMisconfigured', {
        route: 'probe-misconfigured',
        handler: () => Promise.resolve({ status: 204 }),
      });
      if (probe.kind !== 'http') throw new Error('not an HTTP registration');
      const response = await probe.options.handler(
        new HttpRequest({ method: 'GET', url: 'http://localhost/api/probe-misconfigured' }),
        testContext('probeMisconfigured'),
      );
      expect(response).toMatchObject({ status: 500, jsonBody: { error: 'misconfigured' } });
      expect((response as { jsonBody: { error_description: string } }).jsonBody.error_description).toBe(
        logged[0]!.replace(/^app settings: /, ''),
      );
    } finally {
      process.env = saved;
      installAppRuntime(undefined);
    }
  });
});
