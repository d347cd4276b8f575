import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AuthorityAdmin } from './admin.js';
import { readForm, sendHtml } from './http.js';
import { forbiddenPage, sessionsPage } from './pages.js';
import type { UserDirectory } from './users.js';

export const SESSIONS_PATH = '/_dev/sessions';

export interface SessionsDeps {
  readonly users: UserDirectory;
  readonly admin: AuthorityAdmin;
}

/**
 * GET/POST /_dev/sessions: lists the dev users; a button revokes a user's session (a `revoke_session` critical
 * event in every tenant). The page needs no sign-in, so its POST is same-origin only: a browser's cross-site form
 * (Origin or Sec-Fetch-Site tells) is refused.
 */
export async function handleSessions(req: IncomingMessage, res: ServerResponse, deps: SessionsDeps): Promise<void> {
  if (req.method !== 'POST') return sendHtml(res, 200, sessionsPage(SESSIONS_PATH, deps.users.all()));
  if (!sameOrigin(req)) return sendHtml(res, 403, forbiddenPage('Cross-origin form posts are refused.'));
  const oid = (await readForm(req)).get('user') ?? '';
  const user = deps.users.all().find((u) => u.oid.toLowerCase() === oid.toLowerCase());
  if (!user) return sendHtml(res, 400, sessionsPage(SESSIONS_PATH, deps.users.all(), 'No such user.'));
  const { event, revoked } = deps.admin.criticalEvent(user.oid, 'revoke_session', user.tid);
  const notice =
    `The session of ${user.name} was revoked at ${new Date(event.at * 1000).toISOString()}: ` +
    `${revoked} refresh token${revoked === 1 ? '' : 's'} revoked.`;
  sendHtml(res, 200, sessionsPage(SESSIONS_PATH, deps.users.all(), notice));
}

function sameOrigin(req: IncomingMessage): boolean {
  const fetchSite = req.headers['sec-fetch-site'];
  if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const scheme = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  return origin === `${scheme}://${req.headers.host ?? ''}`;
}
