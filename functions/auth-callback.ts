import { getRuntime } from '../lib/runtime.js';
import { httpFunction } from '../lib/host/registration.js';
import { completeSignIn } from '../lib/webapp/signin.js';

/** Web app: the authority redirects here with the code; tokens go to the user's partition. */
export const registration = httpFunction('authCallback', {
  methods: ['GET'],
  route: 'auth/callback',
  authLevel: 'anonymous',
  handler: (request, context) => completeSignIn(request, context, getRuntime()),
});
