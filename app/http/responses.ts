import type { HttpResponseInit } from '@azure/functions';

/** A JSON error response with a machine-readable code and a human reason (never a token or secret). */
export function problem(
  status: number,
  error: string,
  reason: string,
  headers: Record<string, string> = {},
): HttpResponseInit {
  return {
    status,
    headers: { 'cache-control': 'no-store', ...headers },
    jsonBody: { error, error_description: reason },
  };
}

export function html(status: number, body: string, headers: Record<string, string> = {}): HttpResponseInit {
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
      ...headers,
    },
    body,
  };
}

export function redirect(location: string, init: Omit<HttpResponseInit, 'status'> = {}): HttpResponseInit {
  return { ...init, status: 302, headers: { 'cache-control': 'no-store', ...init.headers, location } };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
