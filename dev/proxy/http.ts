/**
 * A fault-injecting HTTP/1.1 reverse proxy for tests and benchmarks, on loopback, in front of one plain-HTTP target
 * (Azurite, the Cosmos server): requests are forwarded over a keep-alive agent, and faults can be switched while it
 * runs — latency, bursts of made-up answers (429/503 with Retry-After), resets, black holes — for every request or
 * the next N, or a fraction, optionally per method and path. A hook can take over chosen requests (see
 * cosmos-standin.ts).
 */
import { Agent, createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { FaultState, type FaultControls, type Latency, type ProxyCounters, type Trigger } from './faults.js';
import {
  BodyTooLargeError,
  forwardBuffered,
  forwardStreaming,
  readBody,
  writeAnswer,
  type HttpAnswer,
  type HttpExchange,
  type Upstream,
} from './http-forward.js';
import { LOOPBACK, listenLoopback, resetSocket, validateLimit } from './loopback.js';
import { PreciseScheduler } from './precise-timer.js';

export type { HttpAnswer, HttpExchange } from './http-forward.js';

/** Takes over chosen requests: for behaviour the target lacks, not for faults. */
export interface HttpProxyHook {
  /** Whether `handle` takes this request; its body and its answer are then buffered (up to `maxBodyBytes`). */
  intercepts(method: string, url: string, headers: IncomingHttpHeaders): boolean;
  /** Answers the request, sending it (or others) to the target with `forward` as needed. */
  handle(request: HttpExchange, forward: (request: HttpExchange) => Promise<HttpAnswer>): Promise<HttpAnswer>;
}

export interface HttpProxyOptions {
  /** The plain-HTTP target: `http://host:port` or its parts. */
  readonly target: string | { readonly host: string; readonly port: number };
  /** Port on 127.0.0.1. Default 0: a free port. */
  readonly port?: number;
  /** Client connections open at once (more are dropped on arrival), and sockets to the target. Default 256. */
  readonly maxConnections?: number;
  /** Largest body a hook's request or answer may have (others are streamed). Default 4 MiB. */
  readonly maxBodyBytes?: number;
  /** Draws for `fraction` triggers, in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
  readonly latency?: Latency;
  readonly hook?: HttpProxyHook;
}

/** Which requests a fault applies to. */
export interface HttpMatch {
  /** Tested against the path and query (`/devstoreaccount1/Tables?...`). Default: every path. */
  readonly path?: RegExp;
  /** Default: every method. */
  readonly method?: string;
}

export interface HttpStatusFault extends Trigger, HttpMatch {
  /** The status to answer with instead of forwarding, e.g. 429 or 503. */
  readonly status: number;
  /**
   * Sent as `Retry-After` (whole seconds, rounded up) and as `retry-after-ms` and `x-ms-retry-after-ms`, which the
   * Azure SDKs (core pipeline, Cosmos) read first. Default: no such headers.
   */
  readonly retryAfterMs?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Default: JSON `{"code","message"}` — the Cosmos SDK reads `message` from any error body and fails without. */
  readonly body?: string;
}

export interface HttpResetFault extends Trigger, HttpMatch {
  /**
   * Forward the request and reset the connection instead of passing the answer on: the target did the work, the
   * client saw a broken connection. Default false: reset as soon as the request's head has arrived.
   */
  readonly afterForward?: boolean;
}

export type HttpBlackHoleFault = Trigger & HttpMatch;

export interface HttpProxyCounters extends ProxyCounters {
  readonly requests: {
    readonly received: number;
    /** Requests sent to the target (a hook may send more than one per request received). */
    readonly forwarded: number;
  };
}

export interface HttpProxy extends FaultControls {
  readonly host: string;
  readonly port: number;
  /** `http://127.0.0.1:PORT` — use it where the target's URL would go. */
  readonly url: string;
  /** Answers matching requests with a status of its own, without forwarding them. */
  respond(fault: HttpStatusFault): void;
  /** Resets (TCP RST) the connection of matching requests: the client sees ECONNRESET mid-request. */
  reset(fault?: HttpResetFault): void;
  /** Reads matching requests and never answers them (the client only notices by its own timeout). */
  blackHole(fault?: HttpBlackHoleFault): void;
  counters(): HttpProxyCounters;
}

type HttpRule =
  | (HttpStatusFault & { readonly kind: 'status' })
  | (HttpResetFault & { readonly kind: 'reset' })
  | (HttpBlackHoleFault & { readonly kind: 'blackhole' });

export async function startHttpProxy(options: HttpProxyOptions): Promise<HttpProxy> {
  const target = typeof options.target === 'string' ? parseTarget(options.target) : options.target;
  const maxConnections = validateLimit('maxConnections', options.maxConnections ?? 256);
  const maxBodyBytes = validateLimit('maxBodyBytes', options.maxBodyBytes ?? 4 * 1024 * 1024);
  const state = new FaultState<HttpRule>(options.random);
  if (options.latency) state.setLatency(options.latency);
  const requests = { received: 0, forwarded: 0 };
  const scheduler = new PreciseScheduler();
  const agent = new Agent({ keepAlive: true, maxSockets: maxConnections });
  const upstream: Upstream = {
    ...target,
    agent,
    counters: state.counters,
    sent: () => requests.forwarded++,
    maxBodyBytes,
  };
  const { hook } = options;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requests.received++;
    // The client went away mid-request: drop the exchange (an unheard 'error' would end the process).
    req.on('error', () => res.destroy());
    const fault = state.take((rule) => matches(rule, req));
    if (fault?.kind === 'blackhole') {
      req.on('data', (chunk: Buffer) => (state.counters.bytes.discarded += chunk.length));
      return;
    }
    if (fault?.kind === 'reset' && !fault.afterForward) return resetSocket(req.socket);
    const { toTargetMs, toClientMs } = state;
    if (toTargetMs > 0 || toClientMs > 0) state.counters.faults.latency++;
    await scheduler.sleep(toTargetMs);
    const resetInstead = fault?.kind === 'reset';
    /** Runs before an answer goes out: false when the connection was reset instead. */
    const beforeAnswer = async () => {
      await scheduler.sleep(toClientMs);
      if (resetInstead) resetSocket(req.socket);
      return !resetInstead;
    };

    if (fault?.kind === 'status') {
      req.resume();
      if (await beforeAnswer()) answerWith(res, fault);
      return;
    }
    if (!hook?.intercepts(req.method ?? 'GET', req.url ?? '/', req.headers)) {
      return forwardStreaming(req, res, upstream, beforeAnswer);
    }
    const body = await readBody(req, maxBodyBytes, 'the request');
    const answer = await hook.handle(
      { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body },
      (exchange) => forwardBuffered(exchange, upstream),
    );
    if (!(await beforeAnswer()) || res.destroyed) return;
    state.counters.bytes.toClient += answer.body.length;
    writeAnswer(res, answer);
  }

  const server = createServer({ keepAlive: true }, (req, res) => {
    serve(req, res).catch((error: unknown) => {
      if (res.headersSent || res.destroyed) return void res.destroy();
      const status = error instanceof BodyTooLargeError ? 413 : 502;
      const message = error instanceof Error ? error.message : String(error);
      answerWith(res, { status, body: JSON.stringify({ code: STATUS_CODES[status], message: `proxy: ${message}` }) });
    });
  });
  const port = await listenLoopback(server, options.port ?? 0, maxConnections, state.counters);

  const addRule = (rule: HttpRule) => state.add(rule);
  return {
    host: LOOPBACK,
    port,
    url: `http://${LOOPBACK}:${port}`,
    latency: (latency) => state.setLatency(latency),
    respond: (fault) => {
      if (!(Number.isInteger(fault.status) && fault.status >= 200 && fault.status <= 599))
        throw new RangeError(`status must be 200 to 599, not ${fault.status}`);
      addRule({ ...fault, kind: 'status' });
    },
    reset: (fault = {}) => addRule({ ...fault, kind: 'reset' }),
    blackHole: (fault = {}) => addRule({ ...fault, kind: 'blackhole' }),
    pass: () => {
      state.pass();
      return Promise.resolve();
    },
    counters: () => ({ ...state.snapshot(), requests: { ...requests } }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Black-holed and keep-alive connections alike: close() alone would wait for them.
        server.closeAllConnections();
        agent.destroy();
        scheduler.clear();
      }),
  };
}

function parseTarget(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:') throw new TypeError(`the HTTP proxy forwards to http:// targets only, not ${url}`);
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port || 80) };
}

function matches(rule: HttpMatch, req: IncomingMessage): boolean {
  if (rule.method !== undefined && rule.method.toUpperCase() !== req.method) return false;
  if (rule.path === undefined) return true;
  rule.path.lastIndex = 0; // a /g or /y pattern would otherwise carry its position over to the next request
  return rule.path.test(req.url ?? '/');
}

function answerWith(res: ServerResponse, fault: Pick<HttpStatusFault, 'status' | 'retryAfterMs' | 'headers' | 'body'>) {
  const { status, retryAfterMs } = fault;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (retryAfterMs !== undefined) {
    headers['retry-after'] = String(Math.ceil(retryAfterMs / 1000));
    headers['retry-after-ms'] = String(retryAfterMs);
    headers['x-ms-retry-after-ms'] = String(retryAfterMs);
  }
  Object.assign(headers, fault.headers);
  const body =
    fault.body ??
    JSON.stringify({ code: STATUS_CODES[status] ?? String(status), message: `injected by the fault proxy` });
  headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(body);
}
