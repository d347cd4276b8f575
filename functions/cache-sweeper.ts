import { scheduleSetting } from '../lib/config.js';
import { runSweeper } from '../lib/daemons/sweeper.js';
import { timerFunction } from '../lib/host/registration.js';
import { getRuntime } from '../lib/runtime.js';

/** Removes expired cache documents (Table storage has no TTL). Schedule: SWEEPER_SCHEDULE. */
export const registration = timerFunction('cacheSweeper', {
  schedule: scheduleSetting('SWEEPER_SCHEDULE', '0 30 3 * * *'),
  handler: async (timer, context) => {
    const runtime = getRuntime();
    await runSweeper(timer, context, runtime.store, runtime.config.daemons.sweeperBudget);
  },
});
