/**
 * Scenario 1: one raw point read through the store class (`store.read(key)`) of an existing ~3 KB document. Measured
 * in the same rounds as scenario 2, on the same store client, so the ratio compares like with like (see warm.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { CacheStore } from '../../lib/index.js';
import type { MeasuredOn } from '../support/environment.js';
import type { ScenarioResult } from '../support/report.js';
import type { Summary } from '../support/stats.js';

export const BASELINE_DOCUMENT_BYTES = 3 * 1024;

export interface BaselineFigures extends Summary {
  readonly on: MeasuredOn;
  readonly documentBytes: number;
  /** Process CPU time per read, in µs (the in-process emulator's work included). */
  readonly cpuUsPerRead: number;
  /** Reads made before timing (see bench/support/warm-up.ts). */
  readonly warmUpCalls: number;
}

/** Writes the document and returns one timed operation: a point read of it. */
export async function prepareBaselineRead(store: CacheStore): Promise<() => Promise<void>> {
  const key = `${randomUUID()}.${randomUUID()}`;
  await store.write(key, randomBytes(BASELINE_DOCUMENT_BYTES));
  return async () => {
    const document = await store.read(key);
    if (document?.data.byteLength !== BASELINE_DOCUMENT_BYTES) {
      throw new Error(`baseline read of ${store.kind} returned no document`);
    }
  };
}

export function baselineScenario(figures: readonly BaselineFigures[], notes: readonly string[]): ScenarioResult {
  return {
    id: 'baseline',
    title: `1. Baseline: one raw point read (store.read of an existing ${BASELINE_DOCUMENT_BYTES.toLocaleString('en-US')}-byte document)`,
    columns: ['store', 'reads', 'median ms', 'p95 ms', 'p99 ms', 'CPU µs per read'],
    rows: figures.map((f) => [f.on.store, f.n, f.medianMs, f.p95Ms, f.p99Ms, f.cpuUsPerRead]),
    figures: Object.fromEntries(figures.map((f) => [f.on.store, f])),
    goals: [],
    notes: ['Sequential reads through the store class and its SDK client (keep-alive).', ...notes],
  };
}
