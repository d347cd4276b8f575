/**
 * Run-wide switches. `--quick` (or BENCH_QUICK=1) scales every scenario down for development on a shared machine:
 * the figures it prints are not the ones to publish (the tables say so).
 */
export const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';

/** `full` in a normal run, `quick` with --quick. */
export function scaled(full: number, quick: number): number {
  return QUICK ? quick : full;
}
