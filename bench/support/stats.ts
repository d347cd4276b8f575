/** Latency summaries: nearest-rank percentiles over samples in milliseconds. */
export interface Summary {
  readonly n: number;
  readonly medianMs: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly minMs: number;
  readonly maxMs: number;
}

/** Nearest-rank percentile (`p` in 0..100) of ascending `sorted` samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    n: sorted.length,
    medianMs: round(percentile(sorted, 50), 3),
    p95Ms: round(percentile(sorted, 95), 3),
    p99Ms: round(percentile(sorted, 99), 3),
    meanMs: round(sorted.length ? sum / sorted.length : Number.NaN, 3),
    minMs: round(sorted[0] ?? Number.NaN, 3),
    maxMs: round(sorted[sorted.length - 1] ?? Number.NaN, 3),
  };
}

/** The median (nearest rank) of `values`, in any order; NaN for none. */
export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/**
 * A path's time ÷ the baseline's, paired by round: the median over rounds of (the path's block median ÷ the
 * baseline's block median in the same round). Each path runs one block per round, and a round's blocks run within
 * a fraction of a second of each other; this machine's speed changes by up to 2× for seconds at a time (a raw
 * Cosmos DB read measured 180 µs per call for seconds, then 400), so the ratio of two paths' medians over the whole
 * run also measures how their blocks happened to fall in those phases. Pairing by round leaves that out.
 */
export function roundRatio(blockMedians: readonly number[], baselineBlockMedians: readonly number[]): number {
  if (blockMedians.length !== baselineBlockMedians.length || blockMedians.length === 0) {
    throw new Error(`roundRatio: ${blockMedians.length} blocks against ${baselineBlockMedians.length} of the baseline`);
  }
  return median(blockMedians.map((ms, round) => ms / baselineBlockMedians[round]!));
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** Runs `operation` `count` times in sequence and returns each run's wall-clock duration in milliseconds. */
export async function timeEach(count: number, operation: (index: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await operation(i);
    samples.push(performance.now() - started);
  }
  return samples;
}

/** Runs `operation` in sequence for about `durationMs`; returns how many runs completed and the time they took. */
export async function runFor(
  durationMs: number,
  operation: () => Promise<unknown>,
): Promise<{ count: number; elapsedMs: number }> {
  const started = performance.now();
  let count = 0;
  while (performance.now() - started < durationMs) {
    // Check the clock every few runs only: a run takes microseconds.
    for (let i = 0; i < 20; i++) await operation();
    count += 20;
  }
  return { count, elapsedMs: performance.now() - started };
}

/** Runs `tasks` with at most `concurrency` in flight, in order. */
export async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** A small deterministic PRNG (mulberry32), so a shuffled order is the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
