import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { describeError, partitionKeyOfAccount } from '../../lib/index.js';
import { backgroundStatus, disableBackground, enableBackground, type BackgroundStatus } from '../daemons/optin.js';
import { escapeHtml, html, problem, redirect } from '../http/responses.js';
import type { AppRuntime } from '../runtime.js';
import { SIGN_OUT_FORM, page } from './layout.js';
import { crossOriginRefusal } from './same-origin.js';
import { readSession, requireSignedIn } from './signin.js';
import { profileData } from './profile-token.js';

/** `GET /api/home`: a landing page. */
export async function home(
  request: HttpRequest,
  context: InvocationContext,
  runtime: AppRuntime,
): Promise<HttpResponseInit> {
  const session = await readSession(request, context, runtime);
  if (session.response) return session.response;
  const signedIn = session.homeAccountId !== undefined;
  return html(
    200,
    page(
      'Token cache demo',
      `<h1>Token cache demo</h1><p>An Azure Functions app that keeps each user's MSAL token cache in a store.</p>
<div class="actions">${signedIn ? `<a class="button" href="/api/profile">Your profile</a> ${SIGN_OUT_FORM}` : '<a class="button" href="/api/auth/login">Sign in</a>'}</div>`,
    ),
  );
}

/** `GET /api/profile`: session → silent token from the user's partition → downstream → a small page. */
export async function profile(
  request: HttpRequest,
  context: InvocationContext,
  runtime: AppRuntime,
): Promise<HttpResponseInit> {
  const session = await requireSignedIn(request, context, runtime);
  if (session.response) return session.response;
  const { homeAccountId } = session;
  const data = await profileData(request, context, runtime, homeAccountId);
  if ('response' in data) return data.response;
  const { me } = data;
  const rows = Object.entries(typeof me === 'object' && me !== null ? me : {})
    .filter(([, value]) => typeof value === 'string' || typeof value === 'number')
    .map(([key, value]) => `<tr><th>${escapeHtml(key)}</th><td>${escapeHtml(String(value))}</td></tr>`)
    .join('');
  const response = html(
    200,
    page(
      'Your profile',
      `<h1>Signed in</h1>${caeNotice(data)}<p class="muted">From the downstream API, with a token from your cached MSAL session (${data.fromCache ? 'served from the token cache' : 'fetched from the identity provider'}).</p>
<table>${rows}</table>
<div class="actions"><a href="/api/profile/background">Background work</a> · ${SIGN_OUT_FORM}</div>`,
    ),
  );
  return data.cookies.length > 0 ? { ...response, cookies: data.cookies } : response;
}

/** What the profile says after a claims challenge (Continuous Access Evaluation) of the downstream API. */
function caeNotice(data: { readonly challenged: boolean; readonly signedInAgain: boolean }): string {
  if (data.signedInAgain) {
    return '<p class="notice">You signed in again: the downstream API had rejected your earlier token with a claims challenge (Continuous Access Evaluation).</p>';
  }
  if (data.challenged) {
    return '<p class="notice">The downstream API rejected the cached token with a claims challenge (Continuous Access Evaluation); a new one was requested with its claims.</p>';
  }
  return '';
}

/**
 * `GET|POST /api/profile/background`: shows, and lets the signed-in user change, whether the user daemon works on
 * their behalf. POST is same-origin only (see `crossOriginRefusal`).
 */
export async function background(
  request: HttpRequest,
  context: InvocationContext,
  runtime: AppRuntime,
): Promise<HttpResponseInit> {
  const session = await requireSignedIn(request, context, runtime);
  if (session.response) return session.response;
  const { homeAccountId } = session;
  const partitionKey = partitionKeyOfAccount(homeAccountId);
  if (request.method === 'POST') {
    const refusal = crossOriginRefusal(request);
    if (refusal) return refusal;
    const form = new URLSearchParams((await request.text()).slice(0, 1024));
    const enabled = form.get('enabled');
    if (enabled !== 'true' && enabled !== 'false')
      return problem(400, 'invalid_request', 'enabled must be true or false');
    try {
      if (enabled === 'true') await enableBackground(runtime, partitionKey);
      else await disableBackground(runtime, partitionKey);
    } catch (error) {
      return recordsUnavailable(context, partitionKey, error);
    }
    context.info(`background work ${enabled === 'true' ? 'enabled' : 'disabled'} for partition ${partitionKey}`);
    return redirect('/api/profile/background');
  }
  let status: BackgroundStatus;
  try {
    status = await backgroundStatus(runtime, partitionKey, context);
  } catch (error) {
    return recordsUnavailable(context, partitionKey, error);
  }
  const label = { active: 'on', needs_sign_in: 'paused: sign in again to resume', off: 'off' }[status];
  return html(
    200,
    page(
      'Background work',
      `<h1>Background work</h1><p>The user daemon calls the downstream API on your behalf with your cached tokens.</p>
<form method="post" action="/api/profile/background"><p>Status: <strong>${label}</strong>
<input type="hidden" name="enabled" value="${status === 'off' ? 'true' : 'false'}"> <button type="submit">${status === 'off' ? 'Turn on' : 'Turn off'}</button></p></form>
<p><a href="/api/profile">Back to your profile</a></p>`,
    ),
  );
}

/** The record store failed (or holds a record of a newer instance): the person's choice is unknown now, not off. */
function recordsUnavailable(context: InvocationContext, partitionKey: string, error: unknown): HttpResponseInit {
  context.warn(`background work of partition ${partitionKey} unavailable now: ${describeError(error)}`);
  return problem(503, 'store_unavailable', 'background work settings are unavailable now; try again', {
    'retry-after': '5',
  });
}
