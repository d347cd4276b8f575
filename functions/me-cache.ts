import { httpFunction } from '../app/host/registration.js';
import { purgeMyCache } from '../app/webapi/purge.js';

/** Web API: the caller deletes every token this app caches for them. */
export const registration = httpFunction('meCache', {
  methods: ['DELETE'],
  route: 'me/cache',
  authLevel: 'anonymous',
  handler: purgeMyCache,
});
