import type { InvocationContext, Timer } from '@azure/functions';
import { classifyTokenError, describeError } from '../../lib/index.js';
import { ClaimsRetryFailed, callWithClaimsRetry } from '../claims-retry.js';
import { DownstreamError } from '../downstream.js';
import type { AppRuntime } from '../runtime.js';

export interface AppDaemonResult {
  readonly ok: boolean;
  readonly fromCache?: boolean;
  readonly failure?: string;
  /** The downstream API answered the first token with a claims challenge. */
  readonly challenged?: boolean;
}

/**
 * One run of the app daemon: client credentials through the app partition, then the downstream API as the app. A
 * claims challenge (Continuous Access Evaluation for the app's service principal) is answered once: client
 * credentials with its claims, then the call again.
 */
export async function runAppDaemon(
  timer: Timer,
  context: InvocationContext,
  runtime: AppRuntime,
): Promise<AppDaemonResult> {
  if (timer.isPastDue) context.warn('app daemon: this run is past due (the host was busy or asleep)');
  const { appScopes, appApiUrl } = runtime.settings.daemons;
  let answer;
  try {
    answer = await callWithClaimsRetry(appApiUrl, (claims) =>
      runtime.tokens.acquireTokenByClientCredential(
        { scopes: appScopes, ...(claims ? { claims } : {}) },
        { logger: context, operation: claims ? 'app-daemon-claims' : 'app-daemon' },
      ),
    );
  } catch (error) {
    if (error instanceof DownstreamError) {
      context.error(`app daemon: downstream call failed: ${describeError(error)}`);
      return { ok: false, failure: 'downstream' };
    }
    const retry = error instanceof ClaimsRetryFailed ? error : undefined;
    const failure = classifyTokenError(retry ? retry.cause : error);
    context.error(
      `app daemon: no token${retry ? ' for the claims of a downstream challenge' : ''}: ${failure.kind} (${failure.code}): ${describeError(retry?.cause ?? error)}`,
    );
    return { ok: false, failure: failure.kind, ...(retry ? { challenged: true } : {}) };
  }
  const { fromCache } = answer.outcome.result;
  const challenged = answer.challenge !== undefined;
  context.info(
    `app daemon: ok (token ${fromCache ? 'from cache' : 'from the identity provider'}${challenged ? ', after a claims challenge' : ''})`,
  );
  return { ok: true, fromCache, ...(challenged ? { challenged } : {}) };
}
