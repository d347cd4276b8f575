import type { AuthenticationResult } from '@azure/msal-node';

/**
 * A warm client's answer, kept to be served again (see `PartitionCachePlugin.heldAnswer`): a deep, frozen copy, so
 * that nothing a caller does to the result it was given reaches a later call. Undefined when it cannot be copied.
 */
export function keptAnswer(result: AuthenticationResult): AuthenticationResult | undefined {
  try {
    return deepFreeze(structuredClone(result));
  } catch {
    return undefined;
  }
}

/**
 * A kept answer as one call is given it: its own copies of the objects a caller may change — the result, its
 * account (with the claims and tenant profiles), claims, scopes and dates. Deeper values (a claim's array, a tenant
 * profile) stay frozen: changing one throws instead of changing what the next call is given. Cheaper than a deep copy
 * (about 0.9 against 6.6 µs), on the path of every warm call.
 */
export function servedAnswer(kept: AuthenticationResult, correlationId: string): AuthenticationResult {
  const { account } = kept;
  return {
    ...kept,
    fromCache: true,
    correlationId,
    scopes: [...kept.scopes],
    account: account && {
      ...account,
      ...(account.idTokenClaims ? { idTokenClaims: { ...account.idTokenClaims } } : {}),
      ...(account.tenantProfiles ? { tenantProfiles: new Map(account.tenantProfiles) } : {}),
    },
    idTokenClaims: { ...kept.idTokenClaims },
    expiresOn: copyDate(kept.expiresOn),
    ...(kept.extExpiresOn ? { extExpiresOn: new Date(kept.extExpiresOn.getTime()) } : {}),
    ...(kept.refreshOn ? { refreshOn: new Date(kept.refreshOn.getTime()) } : {}),
  };
}

/** A deep copy of a result for one of the calls that shared a run; the result itself when it cannot be copied. */
export function independentCopy(result: AuthenticationResult): AuthenticationResult {
  try {
    return structuredClone(result);
  } catch {
    return result;
  }
}

function copyDate(date: Date | null): Date | null {
  return date && new Date(date.getTime());
}

function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  const members = value instanceof Map ? value.values() : Object.values(value);
  for (const member of members) deepFreeze(member);
  return value;
}
