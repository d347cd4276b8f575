import type { AuthenticationResult } from '@azure/msal-node';
import { createHash } from 'node:crypto';
import type { Logger } from '../log.js';
import { appPartitionKey, partitionKeyOfAccount, userPartitionKey } from '../cache/partitions.js';
import { type CacheStats, emptyStats } from '../cache/stats.js';
import type { ClientFactory } from './clients.js';

export interface TokenOutcome {
  readonly result: AuthenticationResult;
  readonly partitionKey: string;
  /** This invocation's store traffic: all zero when it joined an identical acquisition already in flight. */
  readonly stats: CacheStats;
  /** The result of an identical concurrent acquisition in this process was shared (see {@link Coalescer}). */
  readonly joined?: boolean;
}

async function coalesced(
  factory: ClientFactory,
  key: string,
  work: () => Promise<TokenOutcome>,
): Promise<TokenOutcome> {
  const { value, joined } = await factory.inFlight.run(key, work);
  return joined ? { ...value, stats: emptyStats(), joined } : value;
}

function scopeKey(scopes: readonly string[]): string {
  return [...scopes]
    .map((s) => s.toLowerCase())
    .sort()
    .join(' ');
}

/** Client credentials through the app's partition (`{clientId}.{tenantId}`). */
export async function acquireAppToken(factory: ClientFactory, scopes: string[], logger: Logger): Promise<TokenOutcome> {
  const partitionKey = appPartitionKey(factory.identity.clientId, factory.identity.tenantId);
  return coalesced(factory, `app|${partitionKey}|${scopeKey(scopes)}`, async () => {
    const { client, plugin } = await factory.forPartition(partitionKey, logger);
    const result = await client.acquireTokenByClientCredential({ scopes });
    if (!result) throw new Error('client credentials returned no token');
    return { result, partitionKey, stats: plugin.stats };
  });
}

/**
 * On-behalf-of for the caller of a web API, in the caller's partition. `claims` must come from the VALIDATED
 * incoming token. msal-node's OBO looks up its cache without calling the plugin first, so the partition is loaded
 * before the call (the load is the invocation's one store read either way).
 */
export async function acquireTokenOnBehalfOf(
  factory: ClientFactory,
  claims: { readonly oid?: unknown; readonly tid?: unknown },
  assertion: string,
  scopes: string[],
  logger: Logger,
): Promise<TokenOutcome> {
  const partitionKey = userPartitionKey(claims);
  const assertionHash = createHash('sha256').update(assertion).digest('base64url');
  return coalesced(factory, `obo|${partitionKey}|${assertionHash}|${scopeKey(scopes)}`, async () => {
    const { client, plugin } = await factory.forPartition(partitionKey, logger);
    await plugin.preload(client.getTokenCache());
    const result = await client.acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes });
    if (!result) throw new Error('on-behalf-of returned no token');
    return { result, partitionKey, stats: plugin.stats };
  });
}

/** Thrown when the user's partition holds no account: the user must sign in (again). */
export class AccountNotCachedError extends Error {
  constructor(partitionKey: string) {
    super(`no cached account in partition ${partitionKey}: sign-in required`);
    this.name = 'AccountNotCachedError';
  }
}

/** A silent token for a signed-in user from their partition, refreshing with the cached refresh token if needed. */
export async function acquireTokenSilently(
  factory: ClientFactory,
  homeAccountId: string,
  scopes: string[],
  logger: Logger,
  options: { readonly forceRefresh?: boolean } = {},
): Promise<TokenOutcome> {
  const partitionKey = partitionKeyOfAccount(homeAccountId);
  const forceRefresh = options.forceRefresh ?? false;
  return coalesced(factory, `silent|${partitionKey}|${scopeKey(scopes)}|${forceRefresh}`, async () => {
    const { client, plugin } = await factory.forPartition(partitionKey, logger);
    // Partition keys are lower-cased; account ids from the authority may not be.
    const wanted = homeAccountId.toLowerCase();
    const accounts = await client.getTokenCache().getAllAccounts();
    const account = accounts.find((a) => a.homeAccountId.toLowerCase() === wanted);
    if (!account) throw new AccountNotCachedError(partitionKey);
    const result = await client.acquireTokenSilent({ account, scopes, forceRefresh });
    return { result, partitionKey, stats: plugin.stats };
  });
}
