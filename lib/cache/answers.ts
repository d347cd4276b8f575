import type { AuthenticationResult } from '@azure/msal-node';

/**
 * A warm client's answer, kept to be served again (see `PartitionCachePlugin.heldAnswer`): a deep copy, so that nothing
 * a caller does to the result it was given reaches a later call. Every call gets its own copy of the objects listed in
 * {@link servedAnswer}; everything else in it is frozen. Undefined when it cannot be copied.
 */
export function keptAnswer(result: AuthenticationResult): AuthenticationResult | undefined {
  let kept: AuthenticationResult;
  try {
    kept = structuredClone(result);
  } catch {
    return undefined;
  }
  // The copied objects stay unfrozen: spreading a frozen object takes V8's slow path, ten times slower.
  const copied = new Set<unknown>([kept, kept.idTokenClaims, kept.scopes, kept.account]);
  if (kept.account) copied.add(kept.account.idTokenClaims).add(kept.account.tenantProfiles);
  freezeAllBut(kept, copied);
  return kept;
}

/**
 * A kept answer as one call is given it: its own copies of the objects a caller may change — the result, its
 * account (with the claims and tenant profiles), claims, scopes and dates. Deeper values (a claim's array, a tenant
 * profile) are frozen: changing one throws instead of changing what the next call is given. About 0.3 µs, on the path
 * of every warm call (a deep copy costs 6.6).
 */
export function servedAnswer(kept: AuthenticationResult, correlationId: string): AuthenticationResult {
  const { account } = kept;
  const claims = { ...kept.idTokenClaims };
  return {
    ...kept,
    fromCache: true,
    correlationId,
    scopes: [...kept.scopes],
    account: account && {
      ...account,
      ...(account.idTokenClaims
        ? { idTokenClaims: account.idTokenClaims === kept.idTokenClaims ? claims : { ...account.idTokenClaims } }
        : {}),
      ...(account.tenantProfiles ? { tenantProfiles: new Map(account.tenantProfiles) } : {}),
    },
    idTokenClaims: claims,
    expiresOn: kept.expiresOn && new Date(kept.expiresOn.getTime()),
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

/** Freezes every object reachable from `value` but those in `copied`. */
function freezeAllBut(value: object, copied: ReadonlySet<unknown>, seen = new Set<object>()): void {
  seen.add(value);
  for (const member of value instanceof Map ? value.values() : Object.values(value)) {
    if (typeof member !== 'object' || member === null || seen.has(member as object)) continue;
    if (!copied.has(member)) Object.freeze(member);
    freezeAllBut(member as object, copied, seen);
  }
}
