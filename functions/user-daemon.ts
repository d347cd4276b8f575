import { scheduleSetting } from '../app/settings.js';
import { runScheduledUserDaemon } from '../app/daemons/user-daemon.js';
import { timerFunction } from '../app/host/registration.js';

/** Daemon for opted-in users, from their cached refresh tokens. Schedule: USER_DAEMON_SCHEDULE. */
export const registration = timerFunction('userDaemon', {
  schedule: scheduleSetting('USER_DAEMON_SCHEDULE', '0 */15 * * * *'),
  handler: runScheduledUserDaemon,
});
