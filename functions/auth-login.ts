import { httpFunction } from '../app/host/registration.js';
import { startSignIn } from '../app/webapp/signin.js';

/** Web app: starts sign-in (auth code + PKCE). */
export const registration = httpFunction('authLogin', {
  methods: ['GET'],
  route: 'auth/login',
  authLevel: 'anonymous',
  handler: startSignIn,
});
