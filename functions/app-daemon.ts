import { scheduleSetting } from '../app/settings.js';
import { runAppDaemon } from '../app/daemons/app-daemon.js';
import { timerFunction } from '../app/host/registration.js';

/** Daemon as the app (client credentials through the app partition). Schedule: APP_DAEMON_SCHEDULE. */
export const registration = timerFunction('appDaemon', {
  schedule: scheduleSetting('APP_DAEMON_SCHEDULE', '0 */5 * * * *'),
  handler: runAppDaemon,
});
