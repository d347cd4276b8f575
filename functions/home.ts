import { httpFunction } from '../app/host/registration.js';
import { home } from '../app/webapp/pages.js';

/** Web app: landing page. */
export const registration = httpFunction('home', {
  methods: ['GET'],
  route: 'home',
  authLevel: 'anonymous',
  handler: home,
});
