import {
  app,
  type HttpFunctionOptions,
  type HttpHandler,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
  type Timer,
  type TimerFunctionOptions,
  type TimerHandler,
} from '@azure/functions';
import { describeError } from '../../lib/index.js';
import { problem } from '../http/responses.js';
import { createAppRuntime, type AppRuntime } from '../runtime.js';
import { SettingsError, loadSettings } from '../settings.js';

/**
 * What a file under `functions/` registers. Each file calls `app.http` / `app.timer` for the real Functions host
 * through these helpers and exports the returned registration, so the local host mounts exactly the same routes,
 * methods and schedules, and tests call exactly the same handlers.
 */
export type Registration =
  | { readonly kind: 'http'; readonly name: string; readonly options: HttpFunctionOptions & { handler: HttpHandler } }
  | {
      readonly kind: 'timer';
      readonly name: string;
      readonly options: TimerFunctionOptions & { handler: TimerHandler };
    };

export type AppHttpHandler = (
  request: HttpRequest,
  context: InvocationContext,
  runtime: AppRuntime,
) => Promise<HttpResponseInit>;
export type AppTimerHandler = (timer: Timer, context: InvocationContext, runtime: AppRuntime) => Promise<unknown>;

let current: AppRuntime | undefined;

/**
 * The process's runtime: built by the host's `appStart` hook from the app settings, or on first use where hooks do
 * not run (the local host, tests). A settings error surfaces here, naming the setting.
 */
export function appRuntime(): AppRuntime {
  current ??= createAppRuntime(loadSettings());
  return current;
}

/** Installs the runtime the functions use (the local host with its own stores, or a test). */
export function installAppRuntime(runtime: AppRuntime | undefined): void {
  current = runtime;
}

/** Closes and forgets the runtime (process end). */
export async function closeAppRuntime(): Promise<void> {
  const closing = current;
  current = undefined;
  await closing?.close();
}

/**
 * The host's `appStart` hook: builds the runtime now. A failure (a settings error, naming the setting) is logged, not
 * thrown — a throwing hook could stop the worker — and every invocation then meets it again: an HTTP function
 * answers 500 `misconfigured` with the same reason, a timer run fails with it.
 */
export function startAppRuntime(log: (line: string) => void = (line) => console.error(line)): void {
  try {
    appRuntime();
  } catch (error) {
    log(`app settings: ${error instanceof SettingsError ? error.message : describeError(error)}`);
  }
}

app.hook.appStart(() => startAppRuntime());
app.hook.appTerminate(() => closeAppRuntime());

/** An HTTP function whose unexpected errors become a logged 500 with a reason that leaks nothing. */
export function httpFunction(
  name: string,
  options: Omit<HttpFunctionOptions, 'handler'> & { handler: AppHttpHandler },
): Registration {
  const handler: HttpHandler = async (request, context) => {
    try {
      return await options.handler(request, context, appRuntime());
    } catch (error) {
      context.error(`${name}: unhandled error: ${describeError(error)}`);
      if (error instanceof SettingsError) return problem(500, 'misconfigured', error.message);
      return problem(500, 'internal_error', 'the function failed; see the logs for the cause');
    }
  };
  const registered = { ...options, handler };
  app.http(name, registered);
  return { kind: 'http', name, options: registered };
}

/** A timer function; failures are logged with their cause and rethrown so the host records a failed run. */
export function timerFunction(
  name: string,
  options: Omit<TimerFunctionOptions, 'handler'> & { handler: AppTimerHandler },
): Registration {
  const handler: TimerHandler = async (timer, context) => {
    try {
      await options.handler(timer, context, appRuntime());
    } catch (error) {
      context.error(`${name}: run failed: ${describeError(error)}`);
      throw error;
    }
  };
  const registered = { ...options, handler };
  app.timer(name, registered);
  return { kind: 'timer', name, options: registered };
}
