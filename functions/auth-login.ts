import { getRuntime } from '../lib/runtime.js';
import { httpFunction } from '../lib/host/registration.js';
import { startSignIn } from '../lib/webapp/signin.js';

/** Web app: starts sign-in (auth code + PKCE). */
export const registration = httpFunction('authLogin', {
  methods: ['GET'],
  route: 'auth/login',
  authLevel: 'anonymous',
  handler: (request, context) => startSignIn(request, context, getRuntime()),
});
