import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { problem } from '../http/responses.js';

/**
 * The answer to a state-changing POST a browser sent on behalf of another site, or undefined when it came from
 * this site. SameSite=Lax cookies still ride along on a top-level cross-site form post, so the cookie alone proves
 * nothing: `Sec-Fetch-Site` must say `same-origin` and `Origin` must be ours, when the browser sends them. A client
 * that sends neither is not a browser, and so carries no one else's cookies.
 */
export function crossOriginRefusal(request: HttpRequest): HttpResponseInit | undefined {
  const site = request.headers.get('sec-fetch-site');
  const origin = request.headers.get('origin');
  if ((site !== null && site !== 'same-origin') || (origin !== null && origin !== new URL(request.url).origin)) {
    return problem(403, 'cross_origin', 'cross-origin form posts are refused');
  }
  return undefined;
}
