import { getRuntime } from '../lib/runtime.js';
import { httpFunction } from '../lib/host/registration.js';
import { background } from '../lib/webapp/pages.js';

/** Web app: the signed-in user sees and turns on or off background work (the user daemon). */
export const registration = httpFunction('profileBackground', {
  methods: ['GET', 'POST'],
  route: 'profile/background',
  authLevel: 'anonymous',
  handler: (request, context) => background(request, context, getRuntime()),
});
