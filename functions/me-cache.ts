import { getRuntime } from '../lib/runtime.js';
import { httpFunction } from '../lib/host/registration.js';
import { purgeMyCache } from '../lib/webapi/purge.js';

/** Web API: the caller deletes every token this app caches for them. */
export const registration = httpFunction('meCache', {
  methods: ['DELETE'],
  route: 'me/cache',
  authLevel: 'anonymous',
  handler: (request, context) => purgeMyCache(request, context, getRuntime()),
});
