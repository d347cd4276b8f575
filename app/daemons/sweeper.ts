import type { InvocationContext, Timer } from '@azure/functions';
import { describeError, sweepExpired, type SweepResult } from '../../lib/index.js';
import type { AppRuntime } from '../runtime.js';

/**
 * The sweeper timer: removes expired documents from the token store and the app's record store, each within the
 * configured budget. A failure is logged and retried on the next schedule.
 */
export async function runSweeper(
  timer: Timer,
  context: InvocationContext,
  runtime: AppRuntime,
): Promise<SweepResult | undefined> {
  if (timer.isPastDue) context.warn('cache sweeper: this run is past due');
  const budget = runtime.settings.daemons.sweeperBudget;
  try {
    const tokens = await sweepExpired(runtime.tokenStore, { budget, logger: context });
    await sweepExpired(runtime.recordStore, { budget, logger: context });
    return tokens;
  } catch (error) {
    context.error(`cache sweeper: run failed, retried on the next schedule: ${describeError(error)}`);
    return undefined;
  }
}
