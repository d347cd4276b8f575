/**
 * Many signed-in users without signing each in: ONE user signs in for real (auth code + PKCE against the local
 * authority) and their MSAL cache is cloned into every other partition with the oid rewritten (account, id token,
 * access and refresh token entries and their keys), sealed for that partition as the library seals by default
 * (compressed) and written directly. The cloned access tokens are valid and signed, but still carry the first user's
 * oid inside the JWT: served from the cache, which is the path being measured.
 */
import { randomUUID } from 'node:crypto';
import { EMPTY_DOCUMENT, encodeDocument, isObject } from '../../lib/cache/document.js';
import { DEFAULT_COMPRESS, seal } from '../../lib/cache/envelope.js';
import { stampChanges } from '../../lib/cache/merge.js';
import { partitionKeyOfAccount } from '../../lib/cache/partitions.js';
import type { TokenCacheLogger } from '../../lib/index.js';
import type { BenchApp, BenchStack } from './stack.js';
import { runPool } from './stats.js';
import { signIn } from './users.js';

const SEED_CONCURRENCY = 16;
const DAY_MS = 86_400_000;

export interface SeededUsers {
  /** `{oid}.{tid}`: each user's partition key, which is also their homeAccountId. */
  readonly partitionKeys: string[];
  /** Sealed size of one document. */
  readonly documentBytes: number;
  readonly seconds: number;
}

/** Seeds `users` partitions of `app`'s token store; `each` runs after each user's write (e.g. an opt-in record). */
export async function seedClonedUsers(
  stack: BenchStack,
  app: BenchApp,
  users: number,
  logger: TokenCacheLogger,
  each?: (partitionKey: string, expiresAt: Date) => Promise<void>,
): Promise<SeededUsers> {
  const seeded = await signIn(stack, app, `seed-${randomUUID()}@bench.test`, logger);
  const templateOid = partitionKeyOfAccount(seeded.homeAccountId).split('.')[0]!;
  const template = JSON.stringify(seeded.msal);
  if (!template.includes(templateOid)) throw new Error('the signed-in cache does not name its oid');
  const started = performance.now();
  let documentBytes = 0;
  const partitionKeys = Array.from({ length: users }, () => `${randomUUID()}.${app.tenantId}`);
  await runPool(partitionKeys, SEED_CONCURRENCY, async (partitionKey) => {
    const oid = partitionKey.split('.')[0]!;
    const msal: unknown = JSON.parse(template.split(templateOid).join(oid));
    if (!isObject(msal)) throw new Error('cloned cache is not an object');
    const plaintext = encodeDocument(stampChanges(EMPTY_DOCUMENT, msal, Date.now()));
    const sealed = seal(app.keyRing, partitionKey, plaintext, { compress: DEFAULT_COMPRESS });
    documentBytes = sealed.byteLength;
    const expiresAt = new Date(Date.now() + 90 * DAY_MS);
    await app.store.write(partitionKey, sealed, { expiresAt });
    await each?.(partitionKey, expiresAt);
  });
  return { partitionKeys, documentBytes, seconds: (performance.now() - started) / 1000 };
}
