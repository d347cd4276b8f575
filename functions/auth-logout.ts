import { getRuntime } from '../lib/runtime.js';
import { httpFunction } from '../lib/host/registration.js';
import { signOut } from '../lib/webapp/pages.js';

/** Web app: sign-out; removes the user's partition and ends the authority session. */
export const registration = httpFunction('authLogout', {
  methods: ['GET'],
  route: 'auth/logout',
  authLevel: 'anonymous',
  handler: (request, context) => signOut(request, context, getRuntime()),
});
