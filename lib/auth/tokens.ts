import type { AuthenticationResult } from '@azure/msal-node';
import type { Logger } from '../log.js';
import { appPartitionKey, partitionKeyOfAccount, userPartitionKey } from '../cache/partitions.js';
import type { CacheStats } from '../cache/stats.js';
import type { ClientFactory } from './clients.js';

export interface TokenOutcome {
  readonly result: AuthenticationResult;
  readonly partitionKey: string;
  readonly stats: CacheStats;
}

/** Client credentials through the app's partition (`{clientId}.{tenantId}`). */
export async function acquireAppToken(factory: ClientFactory, scopes: string[], logger: Logger): Promise<TokenOutcome> {
  const partitionKey = appPartitionKey(factory.identity.clientId, factory.identity.tenantId);
  const { client, plugin } = await factory.forPartition(partitionKey, logger);
  const result = await client.acquireTokenByClientCredential({ scopes });
  if (!result) throw new Error('client credentials returned no token');
  return { result, partitionKey, stats: plugin.stats };
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
  const { client, plugin } = await factory.forPartition(partitionKey, logger);
  await client.getTokenCache().getAllAccounts();
  const result = await client.acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes });
  if (!result) throw new Error('on-behalf-of returned no token');
  return { result, partitionKey, stats: plugin.stats };
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
  const { client, plugin } = await factory.forPartition(partitionKey, logger);
  // Partition keys are lower-cased; account ids from the authority may not be.
  const wanted = homeAccountId.toLowerCase();
  const account = (await client.getTokenCache().getAllAccounts()).find((a) => a.homeAccountId.toLowerCase() === wanted);
  if (!account) throw new AccountNotCachedError(partitionKey);
  const result = await client.acquireTokenSilent({ account, scopes, forceRefresh: options.forceRefresh ?? false });
  return { result, partitionKey, stats: plugin.stats };
}
