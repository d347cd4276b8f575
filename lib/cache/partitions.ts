import { TokenCacheError } from '../errors.js';

/**
 * Partition keys: one cache document per user (`{oid}.{tid}`, MSAL's homeAccountId) and one per app and tenant
 * (`{clientId}.{tenantId}`) for client-credentials tokens. Built only from validated claims or configuration.
 */
const ID = /^[A-Za-z0-9-]{1,64}$/;

function checkId(name: string, value: unknown): string {
  if (typeof value !== 'string' || !ID.test(value)) {
    throw new TokenCacheError(
      'invalid_partition_key',
      `${name} must be 1-64 letters, digits or dashes to form a cache partition key`,
    );
  }
  return value.toLowerCase();
}

/**
 * The user's partition: `{oid}.{tid}`, equal to the homeAccountId MSAL gives the account.
 *
 * @example
 * ```ts
 * const caller = await bearer.validate(request.headers.get('authorization'));
 * await tokens.removePartition(userPartitionKey(caller.claims));
 * ```
 */
export function userPartitionKey(claims: { readonly oid?: unknown; readonly tid?: unknown }): string {
  return `${checkId('oid', claims.oid)}.${checkId('tid', claims.tid)}`;
}

/**
 * The partition of an MSAL homeAccountId (`uid.utid`), validated.
 *
 * @example
 * ```ts
 * const { client, load } = await tokens.partitionClient(partitionKeyOfAccount(session.homeAccountId));
 * ```
 */
export function partitionKeyOfAccount(homeAccountId: string): string {
  const [oid, tid, extra] = homeAccountId.split('.');
  if (extra !== undefined) throw new TokenCacheError('invalid_partition_key', 'homeAccountId must be "<oid>.<tid>"');
  return userPartitionKey({ oid, tid });
}

/**
 * The app's partition for client-credentials tokens in one tenant: `{clientId}.{tenantId}`.
 *
 * @example
 * ```ts
 * await tokens.removePartition(appPartitionKey(tokens.clientId, tokens.tenantId)); // after a credential change
 * ```
 */
export function appPartitionKey(clientId: string, tenantId: string): string {
  return `${checkId('clientId', clientId)}.${checkId('tenantId', tenantId)}`;
}
