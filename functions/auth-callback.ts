import { httpFunction } from '../app/host/registration.js';
import { completeSignIn } from '../app/webapp/signin.js';

/** Web app: the authority redirects here with the code; tokens go to the user's partition. */
export const registration = httpFunction('authCallback', {
  methods: ['GET'],
  route: 'auth/callback',
  authLevel: 'anonymous',
  handler: completeSignIn,
});
