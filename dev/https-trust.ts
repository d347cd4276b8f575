/**
 * HTTPS with an extra trusted certificate (the local authority's self-signed one), for tests and dev tools: a small
 * request helper that does not follow redirects. (MSAL's network module trusting it: the library's
 * `createNetworkClient({ ca })`.)
 */
import { Agent, request } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';

export interface HttpsResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface HttpsRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

/** A keep-alive agent that trusts only `ca` (the local authority needs no public roots). */
export function trustingAgent(ca: string): Agent {
  return new Agent({ ca, keepAlive: true });
}

/** One HTTPS request; redirects are returned as they are (status 3xx with a `location` header). */
export function httpsRequest(
  agent: Agent | undefined,
  url: string,
  options: HttpsRequestOptions = {},
): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const headers = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    const req = request(url, { method: options.method ?? 'GET', headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: flattenHeaders(res.headers),
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    if (options.timeoutMs) {
      req.setTimeout(options.timeoutMs, () =>
        req.destroy(new Error(`Request timed out after ${options.timeoutMs} ms`)),
      );
    }
    req.end(options.body);
  });
}

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}
