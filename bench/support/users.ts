/** Users for the benchmark: minted incoming tokens (web API callers) and real sign-ins (auth code + PKCE). */
import { randomUUID } from 'node:crypto';
import { signInWithLoginHint } from '../../dev/sign-in.js';
import type { JsonObject } from '../../lib/cache/document.js';
import type { Logger } from '../../lib/log.js';
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

/** Signs a user in for real and returns what MSAL cached: account, id token, access token and refresh token. */
export async function signIn(
  stack: BenchStack,
  app: BenchApp,
  loginHint: string,
  logger: Logger,
): Promise<{ homeAccountId: string; msal: JsonObject }> {
  const scopes = [...app.runtime.config.web.downstreamScopes];
  const { result, msal } = await signInWithLoginHint(
    app.runtime.factory,
    stack.authority.ca,
    loginHint,
    scopes,
    logger,
  );
  return { homeAccountId: result.account!.homeAccountId, msal };
}
