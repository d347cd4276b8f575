import { httpFunction } from '../app/host/registration.js';
import { profile } from '../app/webapp/pages.js';

/** Web app: the signed-in user's profile, with a silent token from their partition. */
export const registration = httpFunction('profile', {
  methods: ['GET'],
  route: 'profile',
  authLevel: 'anonymous',
  handler: profile,
});
