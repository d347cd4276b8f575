import { getRuntime } from '../lib/runtime.js';
import { httpFunction } from '../lib/host/registration.js';
import { home } from '../lib/webapp/pages.js';

/** Web app: landing page. */
export const registration = httpFunction('home', {
  methods: ['GET'],
  route: 'home',
  authLevel: 'anonymous',
  handler: (request) => home(request, getRuntime()),
});
