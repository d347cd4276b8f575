import { scheduleSetting } from '../lib/config.js';
import { runScheduledUserDaemon } from '../lib/daemons/user-daemon.js';
import { timerFunction } from '../lib/host/registration.js';
import { getRuntime } from '../lib/runtime.js';

/** Daemon for opted-in users, from their cached refresh tokens. Schedule: USER_DAEMON_SCHEDULE. */
export const registration = timerFunction('userDaemon', {
  schedule: scheduleSetting('USER_DAEMON_SCHEDULE', '0 */15 * * * *'),
  handler: async (timer, context) => {
    await runScheduledUserDaemon(timer, context, getRuntime());
  },
});
