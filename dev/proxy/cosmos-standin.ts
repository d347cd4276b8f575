/**
 * A Cosmos DB stand-in: a hook of the HTTP proxy, in front of `@vercel/cosmosdb-server`, adding two behaviours of
 * the real service that the server lacks (it ignores `If-None-Match` on point reads and never enforces `ttl`).
 *
 * Emulated, as the Cosmos DB documentation describes them:
 * - Conditional point read: `GET /dbs/{db}/colls/{coll}/docs/{id}` with `If-None-Match` listing the stored item's
 *   `_etag` (or `*`) answers `304 Not Modified` with no body, keeping the server's headers (`etag`,
 *   `x-ms-activity-id`, `x-ms-request-charge`, session token...) but the body's. Any other etag: the 200 as is.
 * - Time to live on point operations, by the documented rules: a container without `defaultTtl` (or null) never
 *   expires anything, whatever the items say; with `defaultTtl: -1` only items with their own positive `ttl`
 *   expire; with `defaultTtl: n` items expire n seconds after `_ts` unless their own `ttl` overrides it (`-1`:
 *   never). An item is expired once `now() >= (_ts + ttl) * 1000`. When a point operation touches an expired item —
 *   read, replace, patch, delete, or a create/upsert with its id — the stand-in first deletes it from the server
 *   (conditionally on its `_etag`), then forwards the operation: reads, replaces, patches and deletes get the
 *   server's own 404, and a create succeeds, as on the real service, where an expired item is gone at once and
 *   removed in the background.
 *
 * Not emulated:
 * - Queries, read feeds (listing), the change feed, transactional batch and bulk: expired items still show there
 *   and can be used there (the real service hides them from queries at once).
 * - Background deletion: an expired item nobody touches by a point operation stays in the server.
 * - `If-None-Match` anywhere but point reads, `If-Modified-Since`, RU charges, session consistency.
 * - Container settings changed by another path than this stand-in: `defaultTtl` is read once per container and
 *   forgotten only when a request through the stand-in creates, replaces or deletes a container.
 *
 * The stand-in's own requests (the container read, the peek before a write, the delete of an expired item) carry
 * the caller's authorization header, which the server does not check; against the real service they would fail.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  startHttpProxy,
  type HttpAnswer,
  type HttpExchange,
  type HttpProxy,
  type HttpProxyHook,
  type HttpProxyOptions,
} from './http.js';
import { etagMatches } from '../cosmos-if-none-match.js';

export interface CosmosStandInOptions {
  /** The clock TTL is judged by, in milliseconds since the epoch. Default `Date.now`. */
  readonly now?: () => number;
}

export interface CosmosStandInCounters {
  /** 304 answers made for matching `If-None-Match` point reads. */
  readonly notModified: number;
  /** Expired items found by a point operation (and deleted from the server). */
  readonly expired: number;
}

export interface CosmosStandIn extends HttpProxyHook {
  counters(): CosmosStandInCounters;
}

type Forward = (request: HttpExchange) => Promise<HttpAnswer>;

/** What the server returns for an item: the system properties the stand-in reads. */
interface StoredItem {
  readonly id?: unknown;
  readonly _etag?: unknown;
  readonly _ts?: unknown;
  readonly ttl?: unknown;
}

/** `/dbs/{db}/colls/{coll}` and the rest of a path, as the server routes it (the SDK may double the first slash). */
function parsePath(url: string): { container: string; rest: string[] } | undefined {
  const path = url.split('?')[0]!.replace(/^\/+/, '/').replace(/\/+$/, '');
  const [, dbs, db, colls, coll, ...rest] = path.split('/');
  if (dbs !== 'dbs' || !db || colls !== 'colls' || !coll) return undefined;
  return { container: `/dbs/${db}/colls/${coll}`, rest };
}

function isTrue(headers: IncomingHttpHeaders, name: string): boolean {
  return String(headers[name] ?? '').toLowerCase() === 'true';
}

/** A create or upsert of one item (not a query, batch or bulk, which share the POST on `/docs`). */
function isItemWrite(method: string, headers: IncomingHttpHeaders): boolean {
  return (
    method === 'POST' &&
    !isTrue(headers, 'x-ms-documentdb-isquery') &&
    headers['content-type'] !== 'application/query+json' &&
    !isTrue(headers, 'x-ms-cosmos-is-batch-request')
  );
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The headers a request of the stand-in's own needs: the caller's auth and version, and the partition key. */
function ownHeaders(request: HttpExchange, extra: Record<string, string> = {}): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = { ...extra };
  for (const name of ['host', 'authorization', 'x-ms-date', 'x-ms-version', 'x-ms-documentdb-partitionkey']) {
    const value = request.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  return headers;
}

export function cosmosStandIn(options: CosmosStandInOptions = {}): CosmosStandIn {
  const now = options.now ?? Date.now;
  const counters = { notModified: 0, expired: 0 };
  const defaultTtls = new Map<string, Promise<number | undefined>>();

  function containerDefaultTtl(container: string, request: HttpExchange, forward: Forward) {
    let ttl = defaultTtls.get(container);
    if (!ttl) {
      ttl = forward({ method: 'GET', url: container, headers: ownHeaders(request), body: Buffer.alloc(0) }).then(
        (answer) => {
          const value = answer.status === 200 ? (parseJson(answer.body) as { defaultTtl?: unknown }).defaultTtl : null;
          if (answer.status !== 200) defaultTtls.delete(container);
          return typeof value === 'number' ? value : undefined;
        },
      );
      defaultTtls.set(container, ttl);
    }
    return ttl;
  }

  /** Whether the stored item has outlived its time to live (see the rules above). */
  async function expired(item: StoredItem, container: string, request: HttpExchange, forward: Forward) {
    if (typeof item._ts !== 'number') return false;
    const defaultTtl = await containerDefaultTtl(container, request, forward);
    if (defaultTtl === undefined) return false;
    const ttl = typeof item.ttl === 'number' ? item.ttl : defaultTtl;
    return ttl > 0 && now() >= (item._ts + ttl) * 1000;
  }

  /** Deletes an expired item from the server, unless it changed meanwhile. */
  async function purge(itemUrl: string, item: StoredItem, request: HttpExchange, forward: Forward) {
    counters.expired++;
    const headers = ownHeaders(request, typeof item._etag === 'string' ? { 'if-match': item._etag } : {});
    await forward({ method: 'DELETE', url: itemUrl, headers, body: Buffer.alloc(0) });
  }

  /** Reads the stored item first (a "peek"); purges it when expired. */
  async function purgeIfExpired(itemUrl: string, container: string, request: HttpExchange, forward: Forward) {
    // With a partition key header, the server fails (500) to read an item that does not exist; this header makes it
    // skip that check and answer 404.
    const headers = ownHeaders(request, { 'x-ms-documentdb-query-enablecrosspartition': 'true' });
    const peek = await forward({ method: 'GET', url: itemUrl, headers, body: Buffer.alloc(0) });
    const item = peek.status === 200 ? (parseJson(peek.body) as StoredItem | undefined) : undefined;
    if (item && (await expired(item, container, request, forward))) await purge(itemUrl, item, request, forward);
  }

  async function pointRead(request: HttpExchange, container: string, forward: Forward): Promise<HttpAnswer> {
    const { 'if-none-match': ifNoneMatch, ...headers } = request.headers;
    const answer = await forward({ ...request, headers });
    if (answer.status !== 200) return answer;
    const item = parseJson(answer.body) as StoredItem | undefined;
    if (!item) return answer;
    if (await expired(item, container, request, forward)) {
      await purge(request.url, item, request, forward);
      return forward({ ...request, headers }); // the server's own 404 now
    }
    if (!etagMatches(ifNoneMatch, item._etag)) return answer;
    counters.notModified++;
    const headers304 = { ...answer.headers, etag: String(item._etag) };
    delete headers304['content-type'];
    delete headers304['content-length'];
    return { status: 304, headers: headers304, body: Buffer.alloc(0) };
  }

  return {
    intercepts(method, url, headers) {
      const path = parsePath(url);
      if (!path) return method === 'POST' && /^\/*dbs\/[^/]+\/colls\/?(\?|$)/.test(url); // a container created
      const [docs, id, ...more] = path.rest;
      if (docs === undefined) return method === 'PUT' || method === 'DELETE'; // a container replaced or deleted
      if (docs !== 'docs' || more.length > 0) return false;
      if (id === undefined) return isItemWrite(method, headers);
      return ['GET', 'PUT', 'PATCH', 'DELETE'].includes(method);
    },

    async handle(request, forward) {
      const path = parsePath(request.url);
      const [, id] = path?.rest ?? [];
      if (!path || path.rest.length === 0) {
        // Container settings may change: read defaultTtl again next time.
        defaultTtls.clear();
        return forward(request);
      }
      if (id !== undefined && request.method === 'GET') return pointRead(request, path.container, forward);
      const itemId = id ?? (parseJson(request.body) as StoredItem | undefined)?.id;
      if (id !== undefined) await purgeIfExpired(request.url.split('?')[0]!, path.container, request, forward);
      else if (typeof itemId === 'string')
        await purgeIfExpired(`${path.container}/docs/${encodeURIComponent(itemId)}`, path.container, request, forward);
      return forward(request);
    },

    counters: () => ({ ...counters }),
  };
}

/** An HTTP fault proxy with the Cosmos stand-in as its hook: faults and Cosmos behaviour in one place. */
export async function startCosmosStandIn(
  options: Omit<HttpProxyOptions, 'hook'> & CosmosStandInOptions,
): Promise<HttpProxy & { readonly standIn: CosmosStandIn }> {
  const standIn = cosmosStandIn(options.now ? { now: options.now } : {});
  const proxy = await startHttpProxy({ ...options, hook: standIn });
  return Object.assign(proxy, { standIn });
}
