/** What every figure was measured on: the machine, Node, and the emulator standing in for each store. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (this file runs as `dist/bench/support/environment.js`). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export type StoreKind = 'memory' | 'table' | 'cosmos' | 'redis';

export interface MeasuredOn {
  readonly machine: string;
  readonly cores: number;
  readonly node: string;
  readonly emulator: string;
  readonly store: StoreKind;
}

export function packageVersion(name: string): string {
  try {
    const text = readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8');
    return (JSON.parse(text) as { version?: string }).version ?? '?';
  } catch {
    return '?';
  }
}

function redisVersion(): string {
  try {
    return /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? '?';
  } catch {
    return '(not installed)';
  }
}

const cpuList = cpus();

export const MACHINE = {
  cpu: cpuList[0]?.model.trim() ?? 'unknown CPU',
  cores: cpuList.length,
  memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  os: `${platform()} ${release()}`,
  node: process.version,
  msalNode: packageVersion('@azure/msal-node'),
} as const;

export const EMULATORS: Record<StoreKind, string> = {
  table: `Azurite ${packageVersion('azurite')} in-process (Table service, in-memory, http loopback)`,
  cosmos: `@vercel/cosmosdb-server ${packageVersion('@vercel/cosmosdb-server')} in-process (http loopback, keep-alive)`,
  memory: 'memory store (in-process Map, no emulator)',
  redis: `redis-server ${redisVersion()} child process (loopback, no persistence)`,
};

/**
 * How rows and JSON keys name the store of a figure: `cosmos`, or `cosmos via <how>` when the store was reached
 * another way than the run's own emulator (e.g. a Cosmos DB server answering If-None-Match).
 */
export function storeLabel(figure: { readonly on: MeasuredOn; readonly via?: string | undefined }): string {
  return figure.via ? `${figure.on.store} via ${figure.via}` : figure.on.store;
}

export function measuredOn(store: StoreKind): MeasuredOn {
  return { machine: MACHINE.cpu, cores: MACHINE.cores, node: MACHINE.node, emulator: EMULATORS[store], store };
}

export function describeMachine(): string {
  return `${MACHINE.cpu}, ${MACHINE.cores} cores, ${MACHINE.memoryGiB} GiB, ${MACHINE.os}, Node ${MACHINE.node}, msal-node ${MACHINE.msalNode}`;
}
