import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { describeError, userPartitionKey } from '../../lib/index.js';
import { erasePerson } from '../people.js';
import { problem } from '../http/responses.js';
import type { AppRuntime } from '../runtime.js';
import { authenticate } from './authenticate.js';

/**
 * `DELETE /api/me/cache`: the caller removes everything this app keeps for them — their cache partition (the
 * document is gone, not emptied), any background opt-in, and for a B2B guest the web app's partition of their home
 * account too (see app/people.ts). 204 whether or not there was anything.
 */
export async function purgeMyCache(
  request: HttpRequest,
  context: InvocationContext,
  runtime: AppRuntime,
): Promise<HttpResponseInit> {
  const caller = await authenticate(request, runtime);
  if (caller.response) return caller.response;
  const partitionKey = userPartitionKey(caller.claims);
  try {
    const removed = await erasePerson(runtime, partitionKey, context);
    context.info(`purged partition(s) ${removed.join(', ')}`);
    return { status: 204, headers: { 'cache-control': 'no-store' } };
  } catch (error) {
    context.warn(`purge of partition ${partitionKey} failed: ${describeError(error)}`);
    return problem(503, 'store_unavailable', 'the cache could not be removed now; try again', { 'retry-after': '5' });
  }
}
