import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Registration } from '../../app/host/registration.js';

/**
 * Imports every module of a functions folder (what package.json `main` globs) and collects what each registered.
 * A module that registers nothing is an error: the Functions host would index no function from it.
 */
export async function loadRegistrations(folder: string, extension = '.js'): Promise<Registration[]> {
  const files = (await readdir(folder)).filter((f) => f.endsWith(extension) && !f.endsWith('.d.ts')).sort();
  const registrations: Registration[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(join(folder, file)).href)) as { registration?: Registration };
    if (!module.registration) throw new Error(`${file} registers no function (it exports no "registration")`);
    registrations.push(module.registration);
  }
  return registrations;
}
