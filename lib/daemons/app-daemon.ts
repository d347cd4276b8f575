import type { InvocationContext, Timer } from '@azure/functions';
import { classifyTokenError } from '../auth/errors.js';
import { acquireAppToken } from '../auth/tokens.js';
import { callDownstream } from '../downstream.js';
import { describeError } from '../log.js';
import type { Runtime } from '../runtime.js';
import { logTokenTelemetry } from '../telemetry.js';

export interface AppDaemonResult {
  readonly ok: boolean;
  readonly fromCache?: boolean;
  readonly failure?: string;
}

/** One run of the app daemon: client credentials through the app partition, then the downstream API as the app. */
export async function runAppDaemon(
  timer: Timer,
  context: InvocationContext,
  runtime: Runtime,
): Promise<AppDaemonResult> {
  if (timer.isPastDue) context.warn('app daemon: this run is past due (the host was busy or asleep)');
  let outcome;
  try {
    outcome = await acquireAppToken(runtime.factory, [...runtime.config.daemons.appScopes], context);
  } catch (error) {
    const failure = classifyTokenError(error);
    context.error(`app daemon: no token: ${failure.kind} (${failure.code}): ${describeError(error)}`);
    return { ok: false, failure: failure.kind };
  }
  logTokenTelemetry(context, {
    operation: 'app-daemon',
    partitionKey: outcome.partitionKey,
    fromCache: outcome.result.fromCache,
    stats: outcome.stats,
    outcome: 'ok',
  });
  try {
    await callDownstream(runtime.config.daemons.appApiUrl, outcome.result.accessToken);
  } catch (error) {
    context.error(`app daemon: downstream call failed: ${describeError(error)}`);
    return { ok: false, fromCache: outcome.result.fromCache, failure: 'downstream' };
  }
  context.info(`app daemon: ok (token ${outcome.result.fromCache ? 'from cache' : 'from the identity provider'})`);
  return { ok: true, fromCache: outcome.result.fromCache };
}
