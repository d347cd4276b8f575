import { httpFunction } from '../app/host/registration.js';
import { signOut } from '../app/webapp/signout.js';

/** Web app: sign-out (GET: the confirm page; POST: removes what the app keeps for the person, ends the session). */
export const registration = httpFunction('authLogout', {
  methods: ['GET', 'POST'],
  route: 'auth/logout',
  authLevel: 'anonymous',
  handler: signOut,
});
