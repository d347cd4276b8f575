import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { describeError, partitionKeyOfAccount } from '../../lib/index.js';
import { erasePerson } from '../people.js';
import { escapeHtml, html, problem, redirect } from '../http/responses.js';
import type { AppRuntime } from '../runtime.js';
import { SIGN_OUT_FORM, page } from './layout.js';
import { crossOriginRefusal } from './same-origin.js';
import { clearSessionCookie, readSession } from './signin.js';

/**
 * `GET /api/auth/logout`: a page with the sign-out button (signing out on a GET would let any site do it with a
 * link). `POST /api/auth/logout`, same-origin only: removes everything the app keeps for the person (every linked
 * partition: see app/people.ts), then clears the
 * session and sends the browser on to the authority's end-session endpoint. When the removal fails the session is
 * kept (503), so the person can sign out again.
 */
export async function signOut(
  request: HttpRequest,
  context: InvocationContext,
  runtime: AppRuntime,
): Promise<HttpResponseInit> {
  const session = await readSession(request, context, runtime);
  if (session.response) return session.response;
  if (request.method !== 'POST') {
    if (!session.homeAccountId) return redirect('/api/home');
    return html(
      200,
      page('Sign out', `<h1>Sign out</h1><p>This removes the tokens this app keeps for you.</p>${SIGN_OUT_FORM}`),
    );
  }
  const refusal = crossOriginRefusal(request);
  if (refusal) return refusal;
  const { homeAccountId } = session;
  if (homeAccountId) {
    const partitionKey = partitionKeyOfAccount(homeAccountId);
    try {
      const removed = await erasePerson(runtime, partitionKey, context);
      context.info(`signed out: partition(s) ${removed.join(', ')} removed`);
    } catch (error) {
      context.warn(`sign-out could not remove partition ${partitionKey}: ${describeError(error)}`);
      return problem(503, 'store_unavailable', 'sign-out could not remove the cached tokens; sign out again', {
        'retry-after': '5',
      });
    }
  }
  const target = await endSessionUrl(runtime, context);
  // Onward by a new navigation, not a redirect: browsers apply the form's CSP `form-action 'self'` to redirects
  // that follow a form post, which would block the authority's end-session endpoint on another origin.
  const body = `<h1>Signed out</h1><p><a href="${escapeHtml(target)}">Continue</a> to sign out at the identity provider.</p>`;
  const refresh = `<meta http-equiv="refresh" content="0; url=${escapeHtml(target)}">`;
  return { ...html(200, page('Signed out', body, refresh)), cookies: [clearSessionCookie()] };
}

/** The authority's end-session URL; the app's own page when the authority's metadata cannot be had now. */
async function endSessionUrl(runtime: AppRuntime, context: InvocationContext): Promise<string> {
  const home = runtime.settings.web.postLogoutUri;
  try {
    return await runtime.tokens.getLogoutUrl(home);
  } catch (error) {
    context.warn(`sign-out: no end-session endpoint now, the authority session stays: ${describeError(error)}`);
    return home;
  }
}
