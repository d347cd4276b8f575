import type { InvocationContext, Timer } from '@azure/functions';
import { classifyTokenError, describeError } from '../../lib/index.js';
import { callDownstream } from '../downstream.js';
import type { AppRuntime } from '../runtime.js';

export interface AppDaemonResult {
  readonly ok: boolean;
  readonly fromCache?: boolean;
  readonly failure?: string;
}

/** One run of the app daemon: client credentials through the app partition, then the downstream API as the app. */
export async function runAppDaemon(
  timer: Timer,
  context: InvocationContext,
  runtime: AppRuntime,
): Promise<AppDaemonResult> {
  if (timer.isPastDue) context.warn('app daemon: this run is past due (the host was busy or asleep)');
  const { appScopes, appApiUrl } = runtime.settings.daemons;
  let outcome;
  try {
    outcome = await runtime.tokens.acquireTokenByClientCredential(
      { scopes: appScopes },
      { logger: context, operation: 'app-daemon' },
    );
  } catch (error) {
    const failure = classifyTokenError(error);
    context.error(`app daemon: no token: ${failure.kind} (${failure.code}): ${describeError(error)}`);
    return { ok: false, failure: failure.kind };
  }
  try {
    await callDownstream(appApiUrl, outcome.result.accessToken);
  } catch (error) {
    context.error(`app daemon: downstream call failed: ${describeError(error)}`);
    return { ok: false, fromCache: outcome.result.fromCache, failure: 'downstream' };
  }
  context.info(`app daemon: ok (token ${outcome.result.fromCache ? 'from cache' : 'from the identity provider'})`);
  return { ok: true, fromCache: outcome.result.fromCache };
}
