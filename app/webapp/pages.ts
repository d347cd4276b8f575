import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { classifyTokenError, describeError, partitionKeyOfAccount } from '../../lib/index.js';
import { backgroundStatus, disableBackground, enableBackground } from '../daemons/optin.js';
import { DownstreamError, callDownstream } from '../downstream.js';
import { escapeHtml, html, problem, redirect } from '../http/responses.js';
import { tokenFailureResponse } from '../http/token-failure.js';
import type { AppRuntime } from '../runtime.js';
import { SIGN_OUT_FORM, page } from './layout.js';
import { crossOriginRefusal } from './same-origin.js';
import { readSession, signInRedirect } from './signin.js';

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
<p>${signedIn ? `<a class="button" href="/api/profile">Your profile</a> ${SIGN_OUT_FORM}` : '<a class="button" href="/api/auth/login">Sign in</a>'}</p>`,
    ),
  );
}

/** `GET /api/profile`: session → silent token from the user's partition → downstream → a small page. */
export async function profile(
  request: HttpRequest,
  context: InvocationContext,
  runtime: AppRuntime,
): Promise<HttpResponseInit> {
  const session = await readSession(request, context, runtime);
  if (session.response) return session.response;
  const { homeAccountId } = session;
  if (!homeAccountId) return signInRedirect();
  let outcome;
  try {
    outcome = await runtime.tokens.acquireTokenSilent(
      { homeAccountId, scopes: runtime.settings.web.downstreamScopes },
      { logger: context, operation: 'profile' },
    );
  } catch (error) {
    const failure = classifyTokenError(error);
    context.warn(`profile: silent token failed: ${failure.kind} (${failure.code})`);
    if (failure.kind === 'interaction_required') return signInRedirect();
    // Anything else is "not now" or a refused request: the session stays (503s carry Retry-After).
    return tokenFailureResponse(failure);
  }
  let me: unknown;
  try {
    me = await callDownstream(runtime.settings.web.downstreamUrl, outcome.result.accessToken);
  } catch (error) {
    if (!(error instanceof DownstreamError)) throw error;
    context.warn(`profile: downstream call failed: ${describeError(error)}`);
    return problem(502, 'downstream_failed', error.message);
  }
  const rows = Object.entries(typeof me === 'object' && me !== null ? me : {})
    .filter(([, value]) => typeof value === 'string' || typeof value === 'number')
    .map(([key, value]) => `<tr><th>${escapeHtml(key)}</th><td>${escapeHtml(String(value))}</td></tr>`)
    .join('');
  return html(
    200,
    page(
      'Your profile',
      `<h1>Signed in</h1><p class="muted">From the downstream API, with a token from your cached MSAL session (${outcome.result.fromCache ? 'served from the token cache' : 'fetched from the identity provider'}).</p>
<table>${rows}</table>
<p><a href="/api/profile/background">Background work</a> · ${SIGN_OUT_FORM}</p>`,
    ),
  );
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
  const session = await readSession(request, context, runtime);
  if (session.response) return session.response;
  const { homeAccountId } = session;
  if (!homeAccountId) return signInRedirect();
  const partitionKey = partitionKeyOfAccount(homeAccountId);
  if (request.method === 'POST') {
    const refusal = crossOriginRefusal(request);
    if (refusal) return refusal;
    const form = new URLSearchParams((await request.text()).slice(0, 1024));
    const enabled = form.get('enabled');
    if (enabled !== 'true' && enabled !== 'false')
      return problem(400, 'invalid_request', 'enabled must be true or false');
    if (enabled === 'true') await enableBackground(runtime, partitionKey);
    else await disableBackground(runtime, partitionKey);
    context.info(`background work ${enabled === 'true' ? 'enabled' : 'disabled'} for partition ${partitionKey}`);
    return redirect('/api/profile/background');
  }
  const status = await backgroundStatus(runtime, partitionKey, context);
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
