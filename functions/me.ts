import { httpFunction } from '../app/host/registration.js';
import { getMe } from '../app/webapi/me.js';

/** Web API: the caller's profile from the downstream API, via on-behalf-of. */
export const registration = httpFunction('me', {
  methods: ['GET'],
  route: 'me',
  authLevel: 'anonymous',
  handler: getMe,
});
