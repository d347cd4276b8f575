/**
 * The callers of the app under faults: a person's browser (a cookie jar: sign-in, profile, background work) and a
 * client app calling the web API with a person's access token. Every request is bounded in time: one that is not
 * answered within `boundMs` is recorded as unanswered, never awaited forever.
 */
import { CookieJar } from '../../dev/cookie-jar.js';

export { CookieJar };

/** What one HTTP call got back, kept for the checks (never a token or cookie value). */
export interface HttpAnswer {
  /** 0 when there was no answer within the bound, or the connection failed. */
  readonly status: number;
  /** The JSON `error` of a problem answer. */
  readonly error: string | undefined;
  /** Its `error_description` (a reason; never a token). */
  readonly description: string | undefined;
  readonly retryAfter: string | undefined;
  /** Of a redirect: the path it sends to. */
  readonly location: string | undefined;
  /** Why there was no answer. */
  readonly failure: string | undefined;
}

async function answerOf(response: Response): Promise<HttpAnswer> {
  const text = await response.text();
  let error: string | undefined;
  let description: string | undefined;
  if ((response.headers.get('content-type') ?? '').includes('json')) {
    try {
      const body = JSON.parse(text) as { error?: unknown; error_description?: unknown };
      if (typeof body.error === 'string') error = body.error;
      if (typeof body.error_description === 'string') description = body.error_description;
    } catch {
      error = 'unparseable_json';
    }
  }
  const location = response.headers.get('location');
  return {
    status: response.status,
    error,
    description,
    retryAfter: response.headers.get('retry-after') ?? undefined,
    location: location ? new URL(location, 'http://app').pathname : undefined,
    failure: undefined,
  };
}

function noAnswer(error: unknown): HttpAnswer {
  const failure =
    error instanceof Error && error.name === 'TimeoutError'
      ? 'no answer within the bound'
      : `request failed: ${error instanceof Error ? error.message : String(error)}`;
  return { status: 0, error: undefined, description: undefined, retryAfter: undefined, location: undefined, failure };
}

/** One request without following redirects, bounded by `boundMs`; the jar (if any) sends and keeps cookies. */
async function send(url: string | URL, boundMs: number, init: RequestInit, jar?: CookieJar): Promise<Response> {
  const headers = new Headers(init.headers);
  if (jar && jar.cookies.size > 0) headers.set('cookie', jar.header());
  const response = await fetch(url, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(boundMs) });
  jar?.take(response);
  return response;
}

/** {@link send}, its answer read; a failed or unanswered request is an answer with status 0. */
export async function call(url: string, boundMs: number, init: RequestInit = {}, jar?: CookieJar): Promise<HttpAnswer> {
  try {
    return await answerOf(await send(url, boundMs, init, jar));
  } catch (error) {
    return noAnswer(error);
  }
}

/**
 * A browser's sign-in: the app's login page, the authority's sign-in page (directly: `login_hint` skips the account
 * picker), then the app's callback, which redeems the code through the faults. Resolves the callback's answer (or
 * the login page's, when that one already failed).
 */
export async function browserSignIn(
  appUrl: string,
  jar: CookieJar,
  loginHint: string,
  boundMs: number,
): Promise<HttpAnswer> {
  try {
    const login = await send(`${appUrl}/api/auth/login`, boundMs, {}, jar);
    if (login.status !== 302) return await answerOf(login);
    await login.body?.cancel();
    const authorize = new URL(login.headers.get('location')!);
    authorize.searchParams.set('login_hint', loginHint);
    const page = await send(authorize, boundMs, {});
    await page.body?.cancel();
    const callback = page.headers.get('location');
    if (page.status !== 302 || !callback) throw new Error(`the sign-in page answered HTTP ${page.status}`);
    return await answerOf(await send(callback, boundMs, {}, jar));
  } catch (error) {
    return noAnswer(error);
  }
}
