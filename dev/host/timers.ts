import type { Timer } from '@azure/functions';
import { Cron } from 'croner';
import type { Registration } from '../../app/host/registration.js';
import { type HostLog, createContext, runInvocation } from './context.js';

export interface TimerScheduler {
  /** Runs a timer function now, as the host would on its schedule. */
  fire(name: string, options?: { readonly isPastDue?: boolean }): Promise<void>;
  readonly names: readonly string[];
  stop(): void;
}

/** Resolves `%SETTING%` in a schedule from app settings, as the Functions host does. */
export function resolveSchedule(schedule: string): string {
  return schedule.replace(/%([A-Za-z0-9_]+)%/g, (_, name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`timer schedule refers to app setting ${name}, which is not set`);
    return value;
  });
}

export function scheduleTimers(registrations: readonly Registration[], log: HostLog, start: boolean): TimerScheduler {
  const timers = registrations.filter((r): r is Extract<Registration, { kind: 'timer' }> => r.kind === 'timer');
  const jobs: Cron[] = [];
  const last = new Map<string, Date>();

  const fire = async (name: string, options: { readonly isPastDue?: boolean } = {}): Promise<void> => {
    const registration = timers.find((t) => t.name === name);
    if (!registration) throw new Error(`no timer function named ${name}`);
    const cron = new Cron(resolveSchedule(registration.options.schedule), { paused: true });
    const now = new Date();
    const timer: Timer = {
      isPastDue: options.isPastDue ?? false,
      schedule: { adjustForDST: true },
      scheduleStatus: {
        last: (last.get(name) ?? now).toISOString(),
        next: (cron.nextRun(now) ?? now).toISOString(),
        lastUpdated: now.toISOString(),
      },
    };
    last.set(name, now);
    const context = createContext(name, log);
    await runInvocation(context, () => registration.options.handler(timer, context));
  };

  if (start) {
    for (const registration of timers) {
      const schedule = resolveSchedule(registration.options.schedule);
      // protect: a run that is still going when the next is due is skipped, like the host's singleton lock.
      const job = new Cron(schedule, { protect: true }, async () => {
        await fire(registration.name).catch((error: unknown) =>
          log('error', registration.name, `run failed: ${error instanceof Error ? error.message : String(error)}`),
        );
      });
      jobs.push(job);
      log(
        'information',
        'host',
        `timer ${registration.name}: "${schedule}", next run ${job.nextRun()?.toISOString() ?? 'never'}`,
      );
      if (registration.options.runOnStartup) void fire(registration.name).catch(() => undefined);
    }
  }
  return {
    fire,
    names: timers.map((t) => t.name),
    stop: () => jobs.forEach((job) => job.stop()),
  };
}
