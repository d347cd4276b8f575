/** Users for the benchmark: minted incoming tokens (web API callers) and real sign-ins (auth code + PKCE). */
import { randomUUID } from 'node:crypto';
import { authorizationCode, signInRequests, signInWithLoginHint } from '../../dev/sign-in.js';
import type { TokenCacheLogger } from '../../lib/index.js';
import { isObject, readStoredCache, type JsonObject } from './stored.js';
import type { PeerApp } from './peer.js';
import type { BenchApp, BenchStack } from './stack.js';

export interface Caller {
  readonly oid: string;
  readonly claims: { readonly oid: string; readonly tid: string };
  /** A bearer token for the app's web API (`aud` api://{clientId}, `scp` access_as_user), valid for an hour. */
  readonly assertion: string;
}

/** A new user of `app`'s tenant calling its web API with a token the local authority signed. */
export async function newCaller(stack: BenchStack, app: BenchApp): Promise<Caller> {
  const oid = randomUUID();
  const assertion = await stack.authority.mint({
    oid,
    sub: oid,
    tid: app.tenantId,
    aud: `api://${app.clientId}`,
    scp: 'access_as_user',
    azp: randomUUID(),
    name: 'Bench User',
    preferred_username: `${oid}@bench.test`,
  });
  return { oid, claims: { oid, tid: app.tenantId }, assertion };
}

/**
 * Signs a user in for real (into their partition) and returns what was cached there: account, id token, access
 * token and refresh token.
 */
export async function signIn(
  stack: BenchStack,
  app: BenchApp,
  loginHint: string,
  logger: TokenCacheLogger,
): Promise<{ homeAccountId: string; msal: JsonObject }> {
  const scopes = [...app.runtime.settings.web.downstreamScopes];
  const { result, partitionKey } = await signInWithLoginHint(
    app.runtime.tokens,
    stack.authority.ca,
    loginHint,
    scopes,
    {
      logger,
    },
  );
  const msal = (await readStoredCache(app.store.inner, app.keyRing, partitionKey))?.msal;
  if (!isObject(msal)) throw new Error('the sign-in cached nothing');
  return { homeAccountId: result.account!.homeAccountId, msal };
}

/** A user signs in for real through the peer (msal-node's DistributedCachePlugin): returns their homeAccountId. */
export async function signInPeer(stack: BenchStack, peer: PeerApp, loginHint: string, scopes: string[]) {
  const { state, authorize, redemption } = await signInRequests(scopes, loginHint);
  const code = await authorizationCode(stack.authority.ca, await peer.getAuthCodeUrl(authorize));
  const result = await peer.acquireTokenByCode(redemption(code), { code, state });
  if (!result.account) throw new Error('peer sign-in returned no account');
  return result.account.homeAccountId;
}
