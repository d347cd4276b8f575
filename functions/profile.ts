import { getRuntime } from '../lib/runtime.js';
import { httpFunction } from '../lib/host/registration.js';
import { profile } from '../lib/webapp/pages.js';

/** Web app: the signed-in user's profile, with a silent token from their partition. */
export const registration = httpFunction('profile', {
  methods: ['GET'],
  route: 'profile',
  authLevel: 'anonymous',
  handler: (request, context) => profile(request, context, getRuntime()),
});
