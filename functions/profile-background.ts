import { getRuntime } from '../lib/runtime.js';
import { httpFunction } from '../lib/host/registration.js';
import { setBackground } from '../lib/webapp/pages.js';

/** Web app: the signed-in user turns background work (the user daemon) on or off. */
export const registration = httpFunction('profileBackground', {
  methods: ['POST'],
  route: 'profile/background',
  authLevel: 'anonymous',
  handler: (request, context) => setBackground(request, context, getRuntime()),
});
