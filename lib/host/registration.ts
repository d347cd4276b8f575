import {
  app,
  type HttpFunctionOptions,
  type HttpHandler,
  type TimerFunctionOptions,
  type TimerHandler,
} from '@azure/functions';
import { ConfigError } from '../config.js';
import { problem } from '../http/responses.js';
import { describeError } from '../log.js';

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

/** An HTTP function whose unexpected errors become a logged 500 with a reason that leaks nothing. */
export function httpFunction(name: string, options: HttpFunctionOptions): Registration {
  const handler: HttpHandler = async (request, context) => {
    try {
      return await options.handler(request, context);
    } catch (error) {
      context.error(`${name}: unhandled error: ${describeError(error)}`);
      if (error instanceof ConfigError) return problem(500, 'misconfigured', error.message);
      return problem(500, 'internal_error', 'the function failed; see the logs for the cause');
    }
  };
  const registered = { ...options, handler };
  app.http(name, registered);
  return { kind: 'http', name, options: registered };
}

/** A timer function; failures are logged with their cause and rethrown so the host records a failed run. */
export function timerFunction(name: string, options: TimerFunctionOptions): Registration {
  const handler: TimerHandler = async (timer, context) => {
    try {
      await options.handler(timer, context);
    } catch (error) {
      context.error(`${name}: run failed: ${describeError(error)}`);
      throw error;
    }
  };
  const registered = { ...options, handler };
  app.timer(name, registered);
  return { kind: 'timer', name, options: registered };
}
