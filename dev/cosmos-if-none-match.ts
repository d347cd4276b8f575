/**
 * Conditional point reads for `@vercel/cosmosdb-server`, inside the server: it ignores `If-None-Match` and answers
 * every point read 200 with the whole item, where Azure Cosmos DB answers `304 Not Modified` without a body when
 * the header lists the item's `_etag` (or is `*`). A server opted in with {@link answerIfNoneMatch} compares the
 * header with the item it already holds, so a 304 costs it what it costs the service: a lookup, no transfer.
 * Unlike the stand-in proxy (dev/proxy/cosmos-standin.ts), nothing is fetched or parsed to compare.
 *
 * How: the server's route table takes its read-document handler when its routes module loads, so the handler is
 * wrapped in the module cache before the server is first imported ({@link prepareConditionalReads}). The wrapper
 * serves only servers opted in; every other server in the process answers as the package does.
 */
import { createRequire } from 'node:module';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

type ReadDocumentHandler = (account: unknown, req: IncomingMessage, res: ServerResponse, params: unknown) => unknown;

const require = createRequire(import.meta.url);
const HANDLER = '@vercel/cosmosdb-server/lib/handler/read-document.js';
const ROUTES = '@vercel/cosmosdb-server/lib/routes.js';

/**
 * Kept on the process, not this module: the server's modules live in the process-wide CommonJS cache, while this
 * module may be evaluated more than once (vitest isolates each test file's ES modules, not `require`'s cache).
 */
const STATE = Symbol.for('token-cache.dev.cosmosIfNoneMatch');
/** `unavailable`: why no server can answer (the package was loaded first, or its layout changed). */
type State = { readonly answering: WeakSet<Server> } | { readonly unavailable: string };
const processState = globalThis as typeof globalThis & { [STATE]?: State };

/** Whether an `If-None-Match` header lists `etag` (weak or strong) or is `*`: the service then answers 304. */
export function etagMatches(ifNoneMatch: string | undefined, etag: unknown): boolean {
  if (ifNoneMatch === undefined || typeof etag !== 'string') return false;
  const bare = (value: string) => value.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((candidate) => bare(candidate) === '*' || bare(candidate) === bare(etag));
}

/** The 304 the service sends for a matching point read; anything else as the server answered it. */
function conditional(req: IncomingMessage, res: ServerResponse, body: unknown): unknown {
  if (res.statusCode !== 200 || typeof body !== 'object' || body === null) return body;
  const etag = (body as { _etag?: unknown })._etag;
  if (!etagMatches(req.headers['if-none-match'], etag)) return body;
  res.statusCode = 304;
  // Node sends no body with a 304; the server still sets the `etag` header from this.
  return { _etag: etag };
}

/** Wraps the server's read-document handler, or says why it cannot. */
function install(): State {
  // The routes keep the handler they imported: a wrap installed after them would never run.
  if (require.cache[require.resolve(ROUTES)]) {
    return { unavailable: '@vercel/cosmosdb-server was loaded before its conditional reads could be installed' };
  }
  const handlerModule = require(HANDLER) as { default?: unknown };
  const original = handlerModule.default;
  if (typeof original !== 'function') return { unavailable: `${HANDLER} exports no handler` };
  const answering = new WeakSet<Server>();
  handlerModule.default = ((account, req, res, params) => {
    const body = (original as ReadDocumentHandler)(account, req, res, params);
    if (!answering.has((req.socket as { server?: Server }).server as Server)) return body;
    return body instanceof Promise ? body.then((b) => conditional(req, res, b)) : conditional(req, res, body);
  }) satisfies ReadDocumentHandler;
  return { answering };
}

/**
 * Call before `@vercel/cosmosdb-server` is first imported. Never throws: when the wrap cannot be installed (the
 * package was loaded first, or a new version moved its handler), servers answer as the package does and only
 * {@link answerIfNoneMatch} fails, saying why.
 */
export function prepareConditionalReads(): void {
  if (processState[STATE]) return;
  try {
    processState[STATE] = install();
  } catch (error) {
    processState[STATE] = { unavailable: `cannot wrap ${HANDLER}: ${String(error)}` };
  }
}

/** From now on `server` answers a point read whose `If-None-Match` lists the item's `_etag` 304 without a body. */
export function answerIfNoneMatch(server: Server): void {
  const state = processState[STATE];
  if (!state) throw new Error('prepareConditionalReads() was not called before the server module loaded');
  if ('unavailable' in state)
    throw new Error(`this Cosmos DB server cannot answer If-None-Match: ${state.unavailable}`);
  state.answering.add(server);
}
