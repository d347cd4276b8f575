import { getRuntime } from '../lib/runtime.js';
import { httpFunction } from '../lib/host/registration.js';
import { getMe } from '../lib/webapi/me.js';

/** Web API: the caller's profile from the downstream API, via on-behalf-of. */
export const registration = httpFunction('me', {
  methods: ['GET'],
  route: 'me',
  authLevel: 'anonymous',
  handler: (request, context) => getMe(request, context, getRuntime()),
});
