/** Sending a request on to the HTTP proxy's target: streamed, or buffered for a hook. */
import {
  request,
  type Agent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { MutableCounters } from './faults.js';

/** A whole request, body buffered. */
export interface HttpExchange {
  readonly method: string;
  /** Path and query, as the client sent them. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A whole answer, body buffered. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
}

export interface Upstream {
  readonly host: string;
  readonly port: number;
  readonly agent: Agent;
  readonly counters: MutableCounters;
  /** Upstream requests sent (a hook may send several per client request). */
  readonly sent: () => void;
  readonly maxBodyBytes: number;
}

export class BodyTooLargeError extends Error {
  constructor(what: string, limit: number) {
    super(`${what} is larger than maxBodyBytes (${limit})`);
  }
}

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection; Node frames bodies itself.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The end-to-end headers. `host` is kept: the target then builds its links to the proxy, not around it. */
export function endToEnd(headers: IncomingHttpHeaders | OutgoingHttpHeaders): OutgoingHttpHeaders {
  const connectionOptions = String(headers.connection ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase());
  const result: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || connectionOptions.includes(name)) continue;
    result[name] = value;
  }
  return result;
}

/**
 * Streams `req` to the target and the target's answer back to `res`, with backpressure both ways (pipe). Before the
 * answer is passed on, `beforeAnswer` runs (the latency toward the client); if it returns false, the answer is
 * dropped and `res` is left to the caller.
 */
export function forwardStreaming(
  req: IncomingMessage,
  res: ServerResponse,
  upstream: Upstream,
  beforeAnswer: () => Promise<boolean>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    upstream.sent();
    const outgoing = request({
      host: upstream.host,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: endToEnd(req.headers),
      agent: upstream.agent,
    });
    req.on('data', (chunk: Buffer) => (upstream.counters.bytes.toTarget += chunk.length));
    req.pipe(outgoing);
    // The client went away before its answer was complete: nothing more to fetch.
    res.once('close', () => {
      if (!res.writableFinished) outgoing.destroy();
    });
    outgoing.on('error', reject);
    outgoing.once('response', (answer) => {
      beforeAnswer().then(
        (pass) => {
          if (!pass || res.destroyed) {
            answer.resume();
            return resolve();
          }
          res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
          answer.on('data', (chunk: Buffer) => (upstream.counters.bytes.toClient += chunk.length));
          answer.pipe(res);
          answer.once('end', () => resolve());
          answer.on('error', reject);
        },
        (error: unknown) => {
          answer.resume();
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  });
}

/** Sends a buffered request to the target and buffers its answer (both bounded by `maxBodyBytes`). */
export function forwardBuffered(exchange: HttpExchange, upstream: Upstream): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    upstream.sent();
    const headers = endToEnd(exchange.headers);
    if (exchange.body.length > 0 || 'content-length' in exchange.headers || 'transfer-encoding' in exchange.headers)
      headers['content-length'] = exchange.body.length;
    const outgoing = request({
      host: upstream.host,
      port: upstream.port,
      method: exchange.method,
      path: exchange.url,
      headers,
      agent: upstream.agent,
    });
    outgoing.on('error', reject);
    outgoing.once('response', (answer) => {
      readBody(answer, upstream.maxBodyBytes, 'the target answer').then(
        (body) => resolve({ status: answer.statusCode ?? 502, headers: endToEnd(answer.headers), body }),
        reject,
      );
    });
    upstream.counters.bytes.toTarget += exchange.body.length;
    outgoing.end(exchange.body);
  });
}

/** Reads a whole body; more than `limit` bytes rejects with BodyTooLargeError (and stops reading). */
export function readBody(stream: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    stream.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) {
        stream.destroy();
        reject(new BodyTooLargeError(what, limit));
        return;
      }
      chunks.push(chunk);
    });
    stream.once('end', () => resolve(Buffer.concat(chunks, length)));
    stream.on('error', reject);
  });
}

/** Writes a buffered answer; its length replaces whatever framing headers it had. */
export function writeAnswer(res: ServerResponse, answer: HttpAnswer): void {
  const headers = endToEnd(answer.headers);
  delete headers['content-length'];
  // 204 and 304 answers have no body and must not announce one (RFC 9110 §8.6).
  if (answer.status !== 204 && answer.status !== 304) headers['content-length'] = answer.body.length;
  res.writeHead(answer.status, headers);
  res.end(answer.body);
}
