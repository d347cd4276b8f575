/**
 * The Table and Cosmos DB stores signing in with a Microsoft Entra ID credential (no account key), against emulators
 * serving https that check bearer tokens as far as their claims go: Azurite as its `--oauth basic` does, the Cosmos DB
 * server as dev/cosmos-entra-id.ts does (issuer, audience, lifetime). Neither checks a token's signature or role
 * assignments. So this shows that each store asks for its service's scope and sends the token on every operation,
 * and what a refused token becomes; what only Azure checks is not emulated.
 */
import { randomUUID } from 'node:crypto';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  StoreConflictError,
  createCosmosStore,
  createTableStore,
  describeError,
  type CacheStore,
  type StoreCredential,
} from '../lib/index.js';
import { createTlsMaterial } from '../dev/authority/tls.js';
import { startAzuriteTable, startCosmosServer, type AzuriteTable, type CosmosServer } from '../dev/emulators.js';
import { fakeCredential, fakeJwt } from './support/credentials.js';

const HOUR_MS = 3_600_000;
const TENANT = randomUUID();
const NAME = `entra${randomUUID().replaceAll('-', '').slice(0, 20)}`;

let azurite: AzuriteTable | undefined;
let cosmos: CosmosServer | undefined;
let defaultCertificates: string[] | undefined;

beforeAll(async () => {
  const tls = await createTlsMaterial();
  // The SDKs' https agents trust the process's default certificates: the emulators' self-signed one is added for
  // this file's worker, and the list restored after.
  defaultCertificates = getCACertificates('default');
  setDefaultCACertificates([...defaultCertificates, tls.cert]);
  [azurite, cosmos] = await Promise.all([startAzuriteTable({ entraId: tls }), startCosmosServer({ entraId: tls })]);
  // Cosmos DB: the database and container are created with the account key, as a deployment does (Entra ID
  // data-plane roles cannot create them; see the last test).
  const setup = createCosmosStore({ ...cosmosOptions(), key: cosmos.key, createIfMissing: true });
  await setup.read('setup');
  await setup.close?.();
});

afterAll(async () => {
  await Promise.all([azurite?.close(), cosmos?.close()]);
  if (defaultCertificates) setDefaultCACertificates(defaultCertificates);
});

/** An access token as Entra ID issues one (v1 issuer) for `audience`, with `claims` over its defaults. */
function accessToken(audience: string, claims: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return fakeJwt({
    iss: `https://sts.windows.net/${TENANT}/`,
    aud: audience,
    iat: now - 60,
    nbf: now - 60,
    exp: now + 3600,
    tid: TENANT,
    oid: randomUUID(),
    ...claims,
  });
}

interface Service {
  readonly name: string;
  /** The audience of the service's tokens; its scope is this plus `/.default`. */
  readonly audience: () => string;
  readonly store: (credential: StoreCredential, createIfMissing?: boolean, endpoint?: string) => CacheStore;
  /** The endpoint the store is given. */
  readonly endpoint: () => string;
  /** How the store names itself in its errors. */
  readonly subject: string;
}

function cosmosOptions(endpoint = cosmos!.endpoint) {
  return { endpoint, databaseId: NAME, containerId: NAME, connectionPolicy: { enableEndpointDiscovery: false } };
}

const services: readonly Service[] = [
  {
    name: 'table',
    audience: () => 'https://storage.azure.com',
    endpoint: () => azurite!.url,
    store: (credential, createIfMissing, endpoint = azurite!.url) =>
      createTableStore({ accountUrl: endpoint, credential, tableName: NAME, createIfMissing }),
    subject: `Table "${NAME}"`,
  },
  {
    name: 'cosmos',
    // The SDK asks for the account's own scope (it falls back to https://cosmos.azure.com only on AADSTS500011).
    audience: () => cosmos!.endpoint,
    endpoint: () => cosmos!.endpoint,
    store: (credential, createIfMissing, endpoint) =>
      createCosmosStore({ ...cosmosOptions(endpoint), credential, createIfMissing }),
    subject: `Cosmos DB ${NAME}/${NAME}`,
  },
];

const bytes = (value: string) => new TextEncoder().encode(value);
const text = (data: Uint8Array | undefined) => (data ? new TextDecoder().decode(data) : undefined);
const escape = (value: string) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe.each(services)(
  '$name store signed in with a Microsoft Entra ID credential (emulator over https)',
  (service) => {
    it('with createIfMissing, writes, reads, lists and deletes with the token, asking only for its scope', async () => {
      const credential = fakeCredential([{ token: accessToken(service.audience()), lifetimeMs: HOUR_MS }]);
      const store = service.store(credential, true);

      const first = await store.write('alice.key', bytes('signed in'));
      expect(text((await store.read('alice.key'))?.data)).toBe('signed in');
      const second = await store.write('alice.key', bytes('again'), { ifMatch: first });
      await expect(store.write('alice.key', bytes('stale'), { ifMatch: first })).rejects.toBeInstanceOf(
        StoreConflictError,
      );
      const page = await store.list({ prefix: 'alice' });
      expect(page.entries.map((entry) => entry.partitionKey)).toEqual(['alice.key']);
      expect(await store.delete('alice.key', { ifMatch: second })).toBe(true);
      expect(await store.read('alice.key')).toBeUndefined();

      expect(credential.scopes.length).toBeGreaterThan(0);
      expect(new Set(credential.scopes)).toEqual(new Set([`${service.audience()}/.default`]));
    });

    it('refuses an http:// endpoint when created, saying why: the SDK sends a token only over https', () => {
      const credential = fakeCredential([{ token: accessToken(service.audience()), lifetimeMs: HOUR_MS }]);
      const endpoint = service.endpoint().replace(/^https:/, 'http:');
      const created = (() => {
        try {
          return service.store(credential, false, endpoint);
        } catch (error) {
          return error;
        }
      })();
      expect(created).toMatchObject({ code: 'store_misconfigured' });
      expect((created as Error).message).toMatch(/Entra ID sign-in needs an https:\/\/ endpoint/);
      expect(credential.scopes).toEqual([]);
    });

    const refused: readonly [string, Record<string, unknown>][] = [
      ['for another audience', { aud: 'https://vault.azure.net' }],
      ['expired', { nbf: 1_000_000, iat: 1_000_000, exp: 1_003_600 }],
      ['from an issuer that is not Entra ID', { iss: 'https://issuer.example/' }],
    ];
    it.each(refused)(
      'reports a token %s as a misconfiguration refused by the service, without the token',
      async (_, claims) => {
        // The container exists: only the token differs.
        const setup = service.store(
          fakeCredential([{ token: accessToken(service.audience()), lifetimeMs: HOUR_MS }]),
          true,
        );
        const partitionKey = `${randomUUID()}.key`;
        await setup.write(partitionKey, bytes('kept'));

        const token = accessToken(service.audience(), claims);
        const store = service.store(fakeCredential([{ token, lifetimeMs: HOUR_MS }]));
        const failure = await store.read(partitionKey).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(failure).toMatchObject({ code: 'store_misconfigured' });
        expect((failure as Error).message).toMatch(
          new RegExp(`^${escape(service.subject)} .*refused the credentials \\(HTTP 40[13]\\)`),
        );
        // What a log line says of it (the SDK's error keeps the request, bearer included, as its cause's data).
        expect(describeError(failure)).not.toContain(token.split('.')[1]);
        expect(text((await setup.read(partitionKey))?.data)).toBe('kept');
      },
    );
  },
);

describe('cosmos store signed in with a Microsoft Entra ID credential, createIfMissing on a database that does not exist', () => {
  it('reports a misconfiguration saying data-plane roles cannot create it, and what to do instead', async () => {
    const credential = fakeCredential([{ token: accessToken(cosmos!.endpoint), lifetimeMs: HOUR_MS }]);
    const store = createCosmosStore({ ...cosmosOptions(), databaseId: `${NAME}x`, credential, createIfMissing: true });
    const failure = await store.read('any.key').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: 'store_misconfigured' });
    expect((failure as Error).message).toMatch(/cannot create database ".*x" or container .* data-plane roles/);
    expect((failure as Error).message).toMatch(/control plane .*or with the account key/);
  });
});
