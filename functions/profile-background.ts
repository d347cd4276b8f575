import { httpFunction } from '../app/host/registration.js';
import { background } from '../app/webapp/pages.js';

/** Web app: the signed-in user sees and turns on or off background work (the user daemon). */
export const registration = httpFunction('profileBackground', {
  methods: ['GET', 'POST'],
  route: 'profile/background',
  authLevel: 'anonymous',
  handler: background,
});
