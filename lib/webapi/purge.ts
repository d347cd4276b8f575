import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { userPartitionKey } from '../cache/partitions.js';
import { PartitionCachePlugin } from '../cache/plugin.js';
import { disableBackground } from '../daemons/optin.js';
import { problem } from '../http/responses.js';
import { describeError } from '../log.js';
import type { Runtime } from '../runtime.js';
import { authenticate } from './authenticate.js';

/**
 * `DELETE /api/me/cache`: the caller removes everything this app keeps for them — the whole cache partition (the
 * document is gone, not emptied) and any background opt-in. 204 whether or not there was anything.
 */
export async function purgeMyCache(
  request: HttpRequest,
  context: InvocationContext,
  runtime: Runtime,
): Promise<HttpResponseInit> {
  const caller = await authenticate(request, runtime);
  if (caller.response) return caller.response;
  const partitionKey = userPartitionKey(caller.claims);
  const plugin = new PartitionCachePlugin({ ...runtime.factory.cache, partitionKey, logger: context });
  try {
    const existed = await plugin.purge();
    await disableBackground(runtime.store, partitionKey);
    context.info(`purged partition ${partitionKey} (${existed ? 'removed' : 'nothing stored'})`);
    return { status: 204, headers: { 'cache-control': 'no-store' } };
  } catch (error) {
    context.warn(`purge of partition ${partitionKey} failed: ${describeError(error)}`);
    return problem(503, 'store_unavailable', 'the cache could not be removed now; try again', { 'retry-after': '5' });
  }
}
