import { decodeJwt } from 'jose';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { createTlsMaterial } from '../dev/authority/tls.js';
import { describe, expect, it } from 'vitest';
import {
  BearerError,
  PartitionedTokenCache,
  TokenCacheError,
  createBearerValidator,
  createMemoryStore,
  entraV1Issuer,
  type BearerValidator,
  type BearerValidatorOptions,
} from '../lib/index.js';
import { afterAll, beforeAll } from 'vitest';
import { createAppRuntime } from '../app/runtime.js';
import { writeRecord } from '../app/records.js';
import { newKeySetting, noteKeySetting } from './support/log-audit.js';
import {
  CookieJar,
  startTestApp,
  startWebSignIn,
  testContext,
  turnBackgroundOn,
  visit,
  webSignIn,
  webSignInPartition,
  type TestApp,
} from './support/app.js';
import { closedPort, unreachableTableStore } from './support/emulators.js';
import { countingStore, readStored, section } from './support/stored.js';
import { authority, captureLogger, newApp, newId, newKeyRing, stack } from './support/stack.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ AUTH_V1_ISSUER: `${stack().authority.url}/{tenantId}/` });
});
afterAll(async () => {
  await app.close();
});

describe('tenant ids', () => {
  it('PartitionedTokenCache refuses a tenant given as a domain name or alias (invalid_options)', () => {
    const options = (tenantId: string) => ({
      auth: { clientId: newId(), tenantId, clientSecret: 'x' },
      cache: { store: createMemoryStore(), keyRing: newKeyRing() },
    });
    for (const tenantId of ['contoso.onmicrosoft.com', 'organizations', 'common', `${newId()}x`]) {
      let thrown: unknown;
      try {
        new PartitionedTokenCache(options(tenantId));
      } catch (error) {
        thrown = error;
      }
      expect(thrown, tenantId).toBeInstanceOf(TokenCacheError);
      expect((thrown as TokenCacheError).code, tenantId).toBe('invalid_options');
      expect((thrown as TokenCacheError).message, tenantId).toMatch(
        /auth\.tenantId must be the tenant's id \(a GUID\)/,
      );
    }
    const upper = new PartitionedTokenCache(options(newId().toUpperCase()));
    expect(upper.tenantId).toBe(upper.tenantId.toLowerCase());
  });
});

describe('v1.0 access tokens (an API whose manifest does not request v2)', () => {
  const tid = newId();
  const clientId = newId();
  const caller = newId();
  const v1 = (claims: Record<string, unknown> = {}) =>
    authority.mint({
      ver: '1.0',
      iss: `https://sts.windows.net/${tid}/`,
      aud: `api://${clientId}`,
      appid: newId(),
      oid: caller,
      sub: caller,
      tid,
      scp: 'access_as_user',
      ...claims,
    });
  const validator = (v1IssuerFor?: (tid: string) => string) =>
    createBearerValidator({
      audiences: [clientId, `api://${clientId}`],
      allowedTenants: [tid],
      issuerFor: (t) => `https://login.microsoftonline.com/${t}/v2.0`,
      ...(v1IssuerFor ? { v1IssuerFor } : {}),
      requiredScopes: ['access_as_user'],
      jwksUri: `${stack().authority.url}/${tid}/discovery/v2.0/keys`,
      networkClient: newApp(createMemoryStore()).tokens.networkClient,
    });
  const reason = async (bearer: BearerValidator, token: string) =>
    bearer.validate(`Bearer ${token}`).then(
      () => 'accepted',
      (error: unknown) => `${(error as BearerError).status} ${(error as BearerError).message}`,
    );

  it('are accepted with the v1 issuer of the token tenant, under the same checks as v2.0 tokens', async () => {
    const bearer = validator(entraV1Issuer);
    const { claims } = await bearer.validate(`Bearer ${await v1()}`);
    expect(claims).toMatchObject({ oid: caller, tid, ver: '1.0' });
    expect(await reason(bearer, await v1({ iss: `https://login.microsoftonline.com/${tid}/v2.0` }))).toMatch(
      /401 unexpected token issuer/,
    );
    expect(await reason(bearer, await v1({ iss: `https://sts.windows.net/${newId()}/` }))).toMatch(/401 .*issuer/);
    expect(await reason(bearer, await v1({ tid: newId() }))).toMatch(/401 tenant is not allowed/);
    expect(await reason(bearer, await v1({ aud: 'api://someone-else' }))).toMatch(/401 token audience/);
    expect(await reason(bearer, await v1({ scp: 'Other.Scope' }))).toMatch(/403 token lacks the required scope/);
    const expired = await authority.mint(
      {
        ver: '1.0',
        iss: `https://sts.windows.net/${tid}/`,
        aud: `api://${clientId}`,
        oid: caller,
        tid,
        scp: 'access_as_user',
      },
      { expiresInSeconds: -600 },
    );
    expect(await reason(bearer, expired)).toMatch(/401 token is expired/);
    // A v2.0 token may not carry the v1 issuer, nor a token of another version either issuer.
    expect(await reason(bearer, await v1({ ver: '2.0' }))).toMatch(/401 unexpected token issuer/);
    expect(await reason(bearer, await v1({ ver: '3.0' }))).toMatch(/401 token version 3\.0 is not accepted/);
    expect(await reason(bearer, await v1({ ver: null }))).toMatch(/401 token version .* is not accepted/);
  });

  it('are refused when no v1 issuer is configured', async () => {
    expect(await reason(validator(), await v1())).toMatch(/401 token version 1\.0 is not accepted/);
  });

  it('reach the downstream API through the web API (GET /api/me) with the issuer AUTH_V1_ISSUER names', async () => {
    const oid = newId();
    const token = await authority.mint({
      ver: '1.0',
      iss: `${stack().authority.url}/${app.tenantId}/`,
      aud: `api://${app.clientId}`,
      oid,
      sub: oid,
      tid: app.tenantId,
      scp: 'access_as_user',
    });
    const response = await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id: oid, tenantId: app.tenantId });
  });
});

describe('signing keys that cannot be fetched', () => {
  const tid = newId();
  const clientId = newId();
  const token = () =>
    authority.mint({ oid: newId(), tid, aud: clientId, scp: 'access_as_user', iss: `https://issuer.test/${tid}/v2.0` });
  const validator = (jwksUri: string, extra: Partial<BearerValidatorOptions> = {}) =>
    createBearerValidator({
      audiences: [clientId],
      allowedTenants: [tid],
      issuerFor: (t) => `https://issuer.test/${t}/v2.0`,
      requiredScopes: ['access_as_user'],
      jwksUri,
      networkClient: newApp(createMemoryStore()).tokens.networkClient,
      ...extra,
    });
  const failure = (bearer: BearerValidator, value: string) =>
    bearer.validate(`Bearer ${value}`).then(
      () => undefined,
      (error: unknown) => error as BearerError,
    );

  it('answer bearer_keys_unavailable (503, retry later), not invalid_token, when the JWKS endpoint is down', async () => {
    const error = await failure(
      validator(`https://127.0.0.1:${await closedPort()}/${tid}/discovery/v2.0/keys`),
      await token(),
    );
    expect(error).toBeInstanceOf(BearerError);
    expect(error).toMatchObject({ code: 'bearer_keys_unavailable', status: 503, error: 'temporarily_unavailable' });
    expect(error?.retryAfterSeconds).toBeGreaterThan(0);
  });

  it('give up on a JWKS endpoint that never answers when the validation times out, closing the connection', async () => {
    const closed: Promise<void>[] = [];
    const blackHole = createServer((socket) => {
      closed.push(new Promise((resolve) => socket.on('close', () => resolve())));
      socket.resume(); // reads (and drops) what the client sends, so its leaving is seen
    });
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = blackHole.address() as AddressInfo;
      const error = await failure(validator(`https://127.0.0.1:${port}/keys`, { jwksTimeoutMs: 200 }), await token());
      expect(error).toMatchObject({ code: 'bearer_keys_unavailable', status: 503 });
      expect(closed).toHaveLength(1);
      await closed[0];
    } finally {
      blackHole.close();
    }
  });

  it('give up on a JWKS endpoint that keeps sending but never finishes when the validation times out, closing the connection', async () => {
    // Bytes keep arriving, so no socket idle timeout ever fires: only the validation's abort signal ends the fetch.
    const tls = await createTlsMaterial();
    const closed: Promise<void>[] = [];
    const drip = createHttpsServer({ key: tls.key, cert: tls.cert }, (_request, response) => {
      closed.push(new Promise((resolve) => response.on('close', () => resolve())));
      response.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => response.write(' '), 20);
      response.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => drip.listen(0, '127.0.0.1', resolve));
    const trusting = new PartitionedTokenCache({
      auth: { clientId, tenantId: tid, clientSecret: 'x' },
      cache: { store: createMemoryStore(), keyRing: newKeyRing() },
      system: { ca: tls.cert, telemetry: false },
    });
    try {
      const { port } = drip.address() as AddressInfo;
      const bearer = validator(`https://127.0.0.1:${port}/keys`, {
        jwksTimeoutMs: 300,
        networkClient: trusting.networkClient,
      });
      const error = await failure(bearer, await token());
      expect(error).toMatchObject({ code: 'bearer_keys_unavailable', status: 503 });
      expect(closed).toHaveLength(1);
      await closed[0];
    } finally {
      await trusting.close();
      drip.closeAllConnections();
      drip.close();
    }
  });

  it('make the web API answer 503 with Retry-After, touching no partition', async () => {
    const { HttpRequest } = await import('@azure/functions');
    const { createAppRuntime } = await import('../app/runtime.js');
    const { getMe } = await import('../app/webapi/me.js');
    const { parseSettings } = await import('../app/settings.js');
    const { embeddedSettings } = await import('../dev/settings.js');
    const { generateKeySetting } = await import('../lib/index.js');
    const settings = parseSettings(
      embeddedSettings({
        authorityUrl: `https://127.0.0.1:${await closedPort()}`,
        authorityCaPath: '/dev/null',
        tableConnectionString: stack().table.connectionString,
        downstreamUrl: stack().downstream.url,
        appUrl: 'http://localhost:7071',
        cacheKeys: generateKeySetting('t1'),
        sessionKeys: generateKeySetting('s1'),
        tenantId: tid,
        clientId,
      }),
    );
    noteKeySetting('CACHE_KEYS', settings.cache.keys);
    noteKeySetting('SESSION_KEYS', settings.web.sessionKeys);
    const tokens = countingStore(createMemoryStore());
    const runtime = createAppRuntime(settings, { stores: { tokens, records: createMemoryStore() } });
    try {
      const response = await getMe(
        new HttpRequest({
          method: 'GET',
          url: 'http://localhost/api/me',
          headers: { authorization: `Bearer ${await token()}` },
        }),
        testContext('me'),
        runtime,
      );
      expect(response.status).toBe(503);
      const headers = new Headers(response.headers);
      expect(headers.get('retry-after')).toMatch(/^\d+$/);
      expect(headers.get('www-authenticate')).toBeNull();
      expect(response.jsonBody).toMatchObject({ error: 'temporarily_unavailable' });
      expect(tokens.counts).toEqual({ read: 0, write: 0, delete: 0, list: 0 });
    } finally {
      await runtime.close();
    }
  });
});

describe('B2B guests (home tenant ≠ the app tenant)', () => {
  /** A guest's user name in the app tenant, as Entra makes it; their home account is `{name}@{domain}`. */
  const guestHint = (name: string) => `${name}_fabrikam.test#EXT#@contoso.test`;

  /**
   * The guest's identity in the app tenant, from the id token the sign-in cached (MSAL's account entity names the
   * home account only).
   */
  async function resourceIdentity(homePartition: string): Promise<{ oid: string; tid: string }> {
    const doc = await readStored(app.store, app.cache.keyRing, homePartition);
    const { oid, tid } = decodeJwt(Object.values(section(doc, 'IdToken'))[0]!.secret as string);
    return { oid: oid as string, tid: tid as string };
  }

  async function callMe(identity: { oid: string; tid: string }, method = 'GET', path = '/api/me'): Promise<number> {
    const token = await authority.callerToken({ clientId: app.clientId, tenantId: identity.tid }, identity.oid);
    const response = await fetch(`${app.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
    await response.body?.cancel();
    return response.status;
  }

  const stored = async (partition: string) => (await app.store.read(partition)) !== undefined;
  const recordsNaming = async (partition: string) =>
    (await app.records.list({})).entries.map((e) => e.partitionKey).filter((key) => key.endsWith(partition));

  it('the local authority signs a guest in with their home account in client_info and their app-tenant ids in the tokens', async () => {
    const { signIn } = await import('./support/signin.js');
    const { result, partitionKey } = await signIn(app.cache, guestHint('gus'), ['User.Read'], captureLogger());
    const [homeOid, homeTid] = partitionKey.split('.') as [string, string];
    expect(homeTid).not.toBe(app.tenantId);
    expect(result.account?.homeAccountId).toBe(partitionKey);
    expect(result.idTokenClaims).toMatchObject({ tid: app.tenantId });
    expect((result.idTokenClaims as { oid: string }).oid).not.toBe(homeOid);
    // Their home account is the one they get signing in to their home tenant.
    const inHomeTenant = newApp(createMemoryStore(), { tenantId: homeTid });
    const member = await signIn(inHomeTenant, 'gus@fabrikam.test', ['User.Read'], captureLogger());
    expect(member.partitionKey).toBe(partitionKey);
  });

  it('DELETE /api/me/cache by the guest removes the web app partition and opt-in too', async () => {
    const jar = new CookieJar();
    const home = await webSignInPartition(app, jar, guestHint('gina'));
    expect((await turnBackgroundOn(app, jar)).status).toBe(302);
    const guest = await resourceIdentity(home);
    expect(guest.tid).toBe(app.tenantId);
    const apiPartition = `${guest.oid}.${guest.tid}`;
    expect(apiPartition).not.toBe(home);
    expect(await callMe(guest)).toBe(200);
    expect(await stored(apiPartition)).toBe(true);

    expect(await callMe(guest, 'DELETE', '/api/me/cache')).toBe(204);
    expect(await stored(apiPartition)).toBe(false);
    expect(await stored(home)).toBe(false);
    expect(await recordsNaming(home)).toEqual([]);
    expect(await recordsNaming(apiPartition)).toEqual([]);
    expect((await visit(jar, `${app.url}/api/profile`)).headers.get('location')).toBe('/api/auth/login');
  });

  it('signing out of the web app removes the guest partition the web API uses too, with every record of both', async () => {
    const jar = new CookieJar();
    const home = await webSignInPartition(app, jar, guestHint('gwen'));
    expect((await turnBackgroundOn(app, jar)).status).toBe(302);
    const guest = await resourceIdentity(home);
    const apiPartition = `${guest.oid}.${guest.tid}`;
    expect(await callMe(guest)).toBe(200);
    expect(await stored(apiPartition)).toBe(true);
    expect((await recordsNaming(home)).sort()).toEqual([`bg.${home}`, `link.${home}`]);
    expect(await recordsNaming(apiPartition)).toEqual([`link.${apiPartition}`]);

    const out = await visit(jar, `${app.url}/api/auth/logout`, { method: 'POST', headers: { origin: app.url } });
    expect(out.status).toBe(200);
    expect(await stored(apiPartition)).toBe(false);
    expect(await stored(home)).toBe(false);
    expect(await recordsNaming(home)).toEqual([]);
    expect(await recordsNaming(apiPartition)).toEqual([]);
  });

  it('follows no link written without the keys or copied from another person', async () => {
    const victimJar = new CookieJar();
    const victim = await webSignInPartition(app, victimJar, 'vera@contoso.test');
    const guestJar = new CookieJar();
    const guestHome = await webSignInPartition(app, guestJar, guestHint('gert'));
    const mallory = newId();
    const malloryPartition = `${mallory}.${app.tenantId}`;
    expect(await callMe({ oid: mallory, tid: app.tenantId })).toBe(200);
    // Someone with write access to the store links the victim to Mallory's partition, plainly and by a copy.
    await app.records.write(`link.${malloryPartition}`, Buffer.from(JSON.stringify({ partitions: [victim] })));
    const copied = (await app.records.read(`link.${guestHome}`))!.data;
    await app.records.write(`link.${victim}`, copied);

    expect(await callMe({ oid: mallory, tid: app.tenantId }, 'DELETE', '/api/me/cache')).toBe(204);
    expect(await stored(malloryPartition)).toBe(false);
    expect(await stored(victim)).toBe(true);
    expect((await visit(victimJar, `${app.url}/api/profile`)).status).toBe(200);
    expect(await stored(guestHome)).toBe(true);
    expect(app.logs.filter((line) => line.includes(`link.${malloryPartition} does not open`))).toHaveLength(1);
  });

  it("answers 503 to a guest's sign-in whose link cannot be recorded, and starts no session", async () => {
    const { HttpRequest } = await import('@azure/functions');
    const { createAppRuntime } = await import('../app/runtime.js');
    const { completeSignIn } = await import('../app/webapp/signin.js');
    const unreachable = await unreachableTableStore();
    const broken = createAppRuntime(app.runtime.settings, { stores: { tokens: app.store, records: unreachable } });
    try {
      const jar = new CookieJar();
      const callback = await startWebSignIn(app, jar, guestHint('gabe'));
      const response = await completeSignIn(
        new HttpRequest({ method: 'GET', url: callback, headers: { cookie: jar.header() } }),
        testContext('authCallback'),
        broken,
      );
      expect(response.status).toBe(503);
      expect(response.jsonBody).toMatchObject({ error: 'store_unavailable' });
      expect((response.cookies ?? []).map((c) => c.name)).not.toContain('__Host-msal_session');
    } finally {
      await broken.close();
    }
  });

  /** A guest signed in on the web app who called the web API: their two partitions, linked. */
  async function linkedGuest(name: string): Promise<{ jar: CookieJar; home: string; api: string }> {
    const jar = new CookieJar();
    const home = await webSignInPartition(app, jar, guestHint(name));
    const guest = await resourceIdentity(home);
    expect(await callMe(guest)).toBe(200);
    return { jar, home, api: `${guest.oid}.${guest.tid}` };
  }

  const lifetimeMs = () => app.runtime.settings.cache.lifetimeDays * 86_400_000;
  /** When each record of `keys` expires, in ms from now. */
  async function expiresIn(keys: string[]): Promise<number[]> {
    const { entries } = await app.records.list({});
    return keys.map((key) => entries.find((e) => e.partitionKey === key)!.expiresAt!.getTime() - Date.now());
  }

  /** Rewrites both links of a guest as if written `ageMs` ago. */
  async function ageLinks(home: string, api: string, ageMs: number): Promise<void> {
    const then = new Date(Date.now() - ageMs);
    for (const [from, to] of [
      [home, api],
      [api, home],
    ] as const) {
      const current = await app.records.read(`link.${from}`);
      await writeRecord(
        app.runtime,
        `link.${from}`,
        { partitions: [to], updatedAt: then.toISOString() },
        { ifMatch: current!.etag, now: then },
      );
    }
  }

  it("a guest's next sign-in renews links older than a quarter of their lifetime", async () => {
    const { home, api } = await linkedGuest('lena');
    await ageLinks(home, api, lifetimeMs() - 5 * 86_400_000);
    for (const left of await expiresIn([`link.${home}`, `link.${api}`])) expect(left).toBeLessThan(6 * 86_400_000);

    expect((await webSignIn(app, new CookieJar(), guestHint('lena'))).status).toBe(302);
    for (const left of await expiresIn([`link.${home}`, `link.${api}`])) {
      expect(left).toBeGreaterThan(lifetimeMs() - 86_400_000);
    }
  });

  it("a user daemon run that renews a guest's opt-in renews their links too", async () => {
    const { runUserDaemon } = await import('../app/daemons/user-daemon.js');
    const { jar, home, api } = await linkedGuest('lars');
    expect((await turnBackgroundOn(app, jar)).status).toBe(302);
    const age = lifetimeMs() - 5 * 86_400_000;
    await ageLinks(home, api, age);
    const then = new Date(Date.now() - age);
    const optIn = await app.records.read(`bg.${home}`);
    await writeRecord(
      app.runtime,
      `bg.${home}`,
      { status: 'active', updatedAt: then.toISOString() },
      { ifMatch: optIn!.etag, now: then },
    );

    const result = await runUserDaemon(undefined, testContext('userDaemon'), app.runtime, {
      concurrency: 2,
      budget: 1000,
    });
    expect(result.succeeded).toBeGreaterThan(0);
    for (const left of await expiresIn([`bg.${home}`, `link.${home}`, `link.${api}`])) {
      expect(left).toBeGreaterThan(lifetimeMs() - 86_400_000);
    }
  });

  /**
   * Rewrites the link `link.{from}` → `to` as an instance of the app that already has a newer cache key (first in its
   * ring) would; resolves the sealed bytes.
   */
  async function sealLinkWithNewerKey(from: string, to: string): Promise<Buffer> {
    const { settings } = app.runtime;
    const keys = `${newKeySetting('n1')},${settings.cache.keys}`;
    const newer = createAppRuntime(
      { ...settings, cache: { ...settings.cache, keys } },
      { stores: { tokens: app.store, records: app.records } },
    );
    try {
      const current = await app.records.read(`link.${from}`);
      const link = { partitions: [to], updatedAt: new Date().toISOString() };
      await writeRecord(newer, `link.${from}`, link, { ifMatch: current!.etag });
      return Buffer.from((await app.records.read(`link.${from}`))!.data);
    } finally {
      await newer.close();
    }
  }
  const linkBytes = async (from: string) => Buffer.from((await app.records.read(`link.${from}`))!.data);

  it('erasure meeting a link sealed under a key this instance lacks answers 503 and removes nothing', async () => {
    const { home, api } = await linkedGuest('gil');
    const sealed = await sealLinkWithNewerKey(api, home);

    expect(await callMe(await resourceIdentity(home), 'DELETE', '/api/me/cache')).toBe(503);
    expect(await stored(api)).toBe(true);
    expect(await stored(home)).toBe(true);
    expect((await linkBytes(api)).equals(sealed)).toBe(true);
    expect((await recordsNaming(home)).sort()).toEqual([`link.${home}`]);
    expect(app.logs.some((line) => line.includes(`link.${api}`) && line.includes('"n1"'))).toBe(true);
  });

  it("a guest's sign-in on an instance lacking their link's key answers 503 and leaves that link as written", async () => {
    const { home, api } = await linkedGuest('gia');
    const sealed = await sealLinkWithNewerKey(home, api);

    expect((await webSignIn(app, new CookieJar(), guestHint('gia'))).status).toBe(503);
    expect((await linkBytes(home)).equals(sealed)).toBe(true);
  });

  it('a member of the app tenant gets no link records: one partition serves both flows', async () => {
    const jar = new CookieJar();
    const partition = await webSignInPartition(app, jar, 'mia@contoso.test');
    expect(partition.endsWith(`.${app.tenantId}`)).toBe(true);
    expect(await recordsNaming(partition)).toEqual([]);
    expect(await callMe({ oid: partition.split('.')[0]!, tid: app.tenantId })).toBe(200);
    expect((await app.store.list({})).entries.filter((e) => e.partitionKey === partition)).toHaveLength(1);
  });
});
