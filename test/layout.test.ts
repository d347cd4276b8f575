import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRegistrations } from '../dev/host/load.js';

const root = join(import.meta.dirname, '..');
const json = (file: string) => JSON.parse(readFileSync(join(root, file), 'utf8')) as Record<string, unknown>;

describe('what the Functions host loads', () => {
  it('package.json main globs the compiled function files, one per source file, each registering a function', async () => {
    const main = json('package.json').main as string;
    expect(main).toBe('dist/functions/*.js');
    const folder = join(root, 'dist/functions');
    const compiled = readdirSync(folder).filter((f) => f.endsWith('.js'));
    const sources = readdirSync(join(root, 'functions')).filter((f) => f.endsWith('.ts'));
    expect(compiled.sort()).toEqual(sources.map((f) => f.replace(/\.ts$/, '.js')).sort());
    const registrations = await loadRegistrations(folder);
    expect(registrations).toHaveLength(compiled.length);
    const names = registrations.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    for (const r of registrations) {
      if (r.kind === 'http') expect(r.options.route, r.name).toBeTruthy();
      else expect(r.options.schedule.split(' '), r.name).toHaveLength(6);
    }
    expect(names).toEqual(
      expect.arrayContaining(['me', 'authLogin', 'authCallback', 'authLogout', 'profile', 'appDaemon', 'userDaemon']),
    );
  });

  it('host.json is a v2 host with the v4 extension bundle', () => {
    const host = json('host.json') as { version: string; extensionBundle: { id: string; version: string } };
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' });
  });

  it('loads under plain Node (not only under vitest): ESM imports of CommonJS packages resolve', () => {
    // vitest's module runner forgives named imports that Node's ESM loader rejects (e.g. classes of the CommonJS
    // @azure/functions): import the compiled app and the local host the way `npm start` and the host do.
    const script = `
      const { loadRegistrations } = await import('./dist/dev/host/load.js');
      await import('./dist/dev/host/server.js');
      await import('./dist/lib/index.js');
      const registrations = await loadRegistrations('./dist/functions');
      console.log(JSON.stringify(registrations.map((r) => r.name)));`;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
    });
    const names = JSON.parse(output.trim().split('\n').at(-1)!) as string[];
    expect(names.length).toBe(readdirSync(join(root, 'functions')).filter((f) => f.endsWith('.ts')).length);
  });
});
