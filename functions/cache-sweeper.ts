import { scheduleSetting } from '../app/settings.js';
import { runSweeper } from '../app/daemons/sweeper.js';
import { timerFunction } from '../app/host/registration.js';

/** Removes expired cache documents (Table storage has no TTL). Schedule: SWEEPER_SCHEDULE. */
export const registration = timerFunction('cacheSweeper', {
  schedule: scheduleSetting('SWEEPER_SCHEDULE', '0 30 3 * * *'),
  handler: runSweeper,
});
