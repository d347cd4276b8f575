import { scheduleSetting } from '../lib/config.js';
import { runAppDaemon } from '../lib/daemons/app-daemon.js';
import { timerFunction } from '../lib/host/registration.js';
import { getRuntime } from '../lib/runtime.js';

/** Daemon as the app (client credentials through the app partition). Schedule: APP_DAEMON_SCHEDULE. */
export const registration = timerFunction('appDaemon', {
  schedule: scheduleSetting('APP_DAEMON_SCHEDULE', '0 */5 * * * *'),
  handler: async (timer, context) => {
    await runAppDaemon(timer, context, getRuntime());
  },
});
