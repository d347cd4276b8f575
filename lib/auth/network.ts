import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import { Agent, request } from 'node:https';
import { TokenCacheError } from '../errors.js';
import { MAX_TIMEOUT_MS, isTimeoutMs } from '../timeouts.js';

/** Timeout of one request of the default network client to the identity provider (token, metadata, keys), in ms. */
export const DEFAULT_NETWORK_TIMEOUT_MS = 10_000;

export interface NetworkClientOptions {
  /** Extra certificate authorities to trust (PEM), e.g. a local development authority. @defaultValue system CAs only */
  readonly ca?: string;
  /** Per-request timeout in milliseconds. @defaultValue {@link DEFAULT_NETWORK_TIMEOUT_MS} */
  readonly timeoutMs?: number;
}

/**
 * MSAL's network module over `node:https` with one keep-alive agent per process: token requests of successive
 * invocations reuse the TLS connection instead of paying a handshake each time. A request that a reused connection
 * loses before any answer (the server closed it idle) is sent once more on a new one, unless it redeems an
 * authorization code. A 429 or 5xx answer carries its status to msal-node in every flow. Beyond `INetworkModule`, a
 * request's options may carry an abort `signal` (MSAL never sends one; the bearer validator's JWKS fetch does): the
 * request is destroyed when it fires. `PartitionedTokenCache` makes one of its own (see its `system` options); make
 * one yourself for an MSAL client or a bearer validator of your own. `close()` ends its kept-alive connections.
 * Throws `invalid_options` for a timeout that is not a positive number of milliseconds Node can wait or extra CAs that are not PEM certificates.
 *
 * @example
 * ```ts
 * const networkClient = createNetworkClient({ ca: localAuthorityCertificate, timeoutMs: 5_000 });
 * const app = new PublicClientApplication({ auth, system: { networkClient } });
 * ```
 */
export function createNetworkClient(options: NetworkClientOptions = {}): INetworkModule & { close(): void } {
  checkNetworkClientOptions(options);
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ...(options.ca ? { ca: options.ca } : {}) });
  const timeoutMs = options.timeoutMs ?? DEFAULT_NETWORK_TIMEOUT_MS;
  const send = <T>(
    method: 'GET' | 'POST',
    url: string,
    opts?: NetworkRequestOptions,
    timeout?: number,
    mayResend = true,
  ): Promise<NetworkResponse<T>> =>
    new Promise<NetworkResponse<T>>((resolve, reject) => {
      let answered = false;
      const body = method === 'POST' ? (opts?.body ?? '') : undefined;
      const headers: Record<string, string | number> = { ...opts?.headers };
      if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
      const signal = (opts as { signal?: AbortSignal } | undefined)?.signal;
      const req = request(url, { method, agent, headers, timeout: timeout ?? timeoutMs, signal }, (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const responseHeaders: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
          }
          let parsed: unknown;
          try {
            parsed = text.length > 0 ? JSON.parse(text) : {};
          } catch {
            reject(new Error(`identity provider answered HTTP ${res.statusCode ?? '?'} with a body that is not JSON`));
            return;
          }
          const status = res.statusCode ?? 0;
          resolve({ headers: responseHeaders, body: withBusyStatus(parsed, status) as T, status });
        });
      });
      req.on('timeout', () =>
        req.destroy(new Error(`identity provider request timed out after ${timeout ?? timeoutMs} ms`)),
      );
      req.on('error', (error) => {
        // A kept-alive connection reset as this request went out on it, before any answer: usually the server closing
        // it for being idle (Node's server after 5 s). Sent once more, on a new connection (Node's documented remedy,
        // `request.reusedSocket`), when presenting it again is harmless; without it a user's first token request after
        // an idle pause could fail. Not an authorization code: the server may have redeemed it before the reset, and
        // a second redemption would answer invalid_grant where "not now" is the truth.
        if (
          mayResend &&
          req.reusedSocket &&
          !answered &&
          isConnectionReset(error) &&
          !signal?.aborted &&
          repeatable(method, body)
        ) {
          resolve(send<T>(method, url, opts, timeout, false));
          return;
        }
        reject(
          new Error(`identity provider request to ${new URL(url).host} failed: ${error.message}`, { cause: error }),
        );
      });
      req.end(body);
    });
  return {
    sendGetRequestAsync: (url, opts, timeout) => send('GET', url, opts, timeout),
    sendPostRequestAsync: (url, opts) => send('POST', url, opts),
    close: () => agent.destroy(),
  };
}

/** Throws `invalid_options` now, rather than on every request later (Node checks a request's timeout only then). */
function checkNetworkClientOptions(options: NetworkClientOptions): void {
  const { timeoutMs, ca } = options;
  if (timeoutMs !== undefined && !isTimeoutMs(timeoutMs)) {
    throw new TokenCacheError(
      'invalid_options',
      `the network timeout must be a positive number of milliseconds up to ${MAX_TIMEOUT_MS}`,
    );
  }
  if (ca !== undefined && !(typeof ca === 'string' && ca.includes('-----BEGIN CERTIFICATE-----'))) {
    throw new TokenCacheError('invalid_options', 'the extra certificate authorities must be PEM certificates');
  }
}

/**
 * msal-node puts the HTTP status of a failed token request into its `ServerError` only for client credentials; for
 * refresh tokens, on-behalf-of and code redemption it reads `status` from the response body, where no identity
 * provider puts it. A 429 whose OAuth error code is not one of "not now" (Entra's throttling codes vary) would then
 * look like a refused request. For 429 and 5xx answers the status goes into the body, so `classifyTokenError` sees
 * "not now" in every flow.
 */
function withBusyStatus(body: unknown, status: number): unknown {
  const busy = status === 429 || status >= 500;
  if (!busy || typeof body !== 'object' || body === null || Array.isArray(body) || 'status' in body) return body;
  return { ...body, status };
}

/**
 * Whether a request may be presented twice: a GET, or a token request whose grant stays valid when used again (client
 * credentials, on-behalf-of, a refresh token: Microsoft Entra ID accepts a refresh token again after redeeming it, and
 * under strict rotation its first answer, were it lost, would have superseded it anyway).
 */
function repeatable(method: 'GET' | 'POST', body: string | undefined): boolean {
  if (method === 'GET') return true;
  const grant = new URLSearchParams(body ?? '').get('grant_type');
  return grant !== null && REPEATABLE_GRANTS.has(grant);
}

const REPEATABLE_GRANTS = new Set([
  'client_credentials',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
]);

function isConnectionReset(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}
