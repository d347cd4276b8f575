// @azure/functions is CommonJS: Node's ESM loader cannot see its classes as named exports (only `app`).
import functions from '@azure/functions';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registration } from '../../app/host/registration.js';
import { type HostLog, createContext, runInvocation, stdoutLog } from './context.js';
import { serializeCookie } from './cookies.js';
import { compileRoute, type CompiledRoute } from './routes.js';
import { type TimerScheduler, scheduleTimers } from './timers.js';

export interface LocalHostOptions {
  readonly registrations: readonly Registration[];
  /** Default 7071, like Core Tools. 0 picks a free port. */
  readonly port?: number;
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** host.json `extensions.http.routePrefix`. Default `api`. */
  readonly routePrefix?: string;
  /** Fire timers on their schedules. Default true. */
  readonly timers?: boolean;
  /** Where function logs go. Default stdout. */
  readonly log?: HostLog;
  /** Largest request body accepted, in bytes. Default 1 MiB. */
  readonly maxBodyBytes?: number;
}

export interface LocalHost {
  readonly url: string;
  readonly timers: TimerScheduler;
  close(): Promise<void>;
}

interface HttpRoute {
  readonly registration: Extract<Registration, { kind: 'http' }>;
  readonly route: CompiledRoute;
  readonly methods: readonly string[];
}

/**
 * A small stand-in for the Functions host: serves every registered HTTP function at `/{routePrefix}/{route}` with
 * its methods, and fires every timer on its NCRONTAB schedule. The handlers are the very ones registered with
 * `app.http` / `app.timer`.
 */
export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const log = options.log ?? stdoutLog;
  const prefix = (options.routePrefix ?? 'api').replace(/^\/|\/$/g, '');
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const routes: HttpRoute[] = options.registrations.flatMap((registration) =>
    registration.kind === 'http'
      ? [
          {
            registration,
            route: compileRoute(`${prefix}/${registration.options.route ?? registration.name}`),
            methods: (registration.options.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
          },
        ]
      : [],
  );

  const timers = scheduleTimers(options.registrations, log, options.timers ?? true);
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log('error', 'host', `request failed: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error');
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const admin = ADMIN_FUNCTION.exec(url.pathname);
    if (admin) return runNow(decodeURIComponent(admin[1]!), method, req, res);
    const matches = routes.map((r) => ({ r, params: r.route.match(url.pathname) })).filter((m) => m.params);
    if (matches.length === 0) return sendText(res, 404, 'no function is registered for this route');
    const match = matches.find((m) => m.r.methods.includes(method));
    if (!match) return sendText(res, 405, `method ${method} is not allowed for this route`);
    const body = await readBody(req, maxBody);
    if (body === undefined) return sendText(res, 413, `request body is larger than ${maxBody} bytes`);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const request = new functions.HttpRequest({
      method,
      url: url.toString(),
      headers,
      params: match.params ?? {},
      ...(body.length > 0 ? { body: { bytes: body } } : {}),
    });
    const context = createContext(match.r.registration.name, log);
    const { handler } = match.r.registration.options;
    const result = await runInvocation(context, () => handler(request, context));
    const response = result instanceof functions.HttpResponse ? result : new functions.HttpResponse(result ?? {});
    const outHeaders: Record<string, string | string[]> = {};
    response.headers.forEach((value, name) => {
      outHeaders[name] = value;
    });
    const cookies = response.cookies.map(serializeCookie);
    if (cookies.length > 0) outHeaders['set-cookie'] = cookies;
    const payload = Buffer.from(await response.arrayBuffer());
    res.writeHead(response.status, outHeaders);
    res.end(payload);
  }

  /**
   * `POST /admin/functions/{name}`: runs a non-HTTP function now, as Core Tools and Azure do (there with the master
   * key; this host listens on loopback only). 202 once started; the run's outcome goes to the log.
   */
  async function runNow(name: string, method: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (method !== 'POST') return sendText(res, 405, 'use POST to run a function');
    if ((await readBody(req, maxBody)) === undefined) return sendText(res, 413, 'request body is too large');
    const registration = options.registrations.find((r) => r.name.toLowerCase() === name.toLowerCase());
    if (!registration) return sendText(res, 404, `no function named ${name}`);
    if (registration.kind !== 'timer') {
      return sendText(res, 400, `${registration.name} is HTTP-triggered: call its route instead`);
    }
    void timers
      .fire(registration.name)
      .catch((error: unknown) =>
        log('error', registration.name, `run failed: ${error instanceof Error ? error.message : String(error)}`),
      );
    res.writeHead(202);
    res.end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 7071, options.host ?? '127.0.0.1', resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${options.host === 'localhost' ? 'localhost' : address.address}:${address.port}`,
    timers,
    async close() {
      timers.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const ADMIN_FUNCTION = /^\/admin\/functions\/([^/]+)\/?$/;

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
