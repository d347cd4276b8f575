import { httpFunction } from '../app/host/registration.js';
import { signOut } from '../app/webapp/pages.js';

/** Web app: sign-out; removes the user's partition and ends the authority session. */
export const registration = httpFunction('authLogout', {
  methods: ['GET'],
  route: 'auth/logout',
  authLevel: 'anonymous',
  handler: signOut,
});
