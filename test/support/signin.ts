import { CryptoProvider, type AuthenticationResult } from '@azure/msal-node';
import { httpsRequest, trustingAgent } from '../../dev/https-trust.js';
import { isObject } from '../../lib/cache/document.js';
import { partitionKeyOfAccount } from '../../lib/cache/partitions.js';
import { PartitionCachePlugin } from '../../lib/cache/plugin.js';
import type { Logger } from '../../lib/log.js';
import { stack, type TestApp } from './stack.js';

const crypto = new CryptoProvider();
export const REDIRECT_URI = 'http://localhost/callback';

/**
 * A user signs in to `app` (auth code + PKCE, `login_hint` skips the account picker) and the tokens are written to
 * the user's partition — the same steps as the web app's callback, without the browser.
 */
export async function signIn(
  app: TestApp,
  loginHint: string,
  scopes: string[],
  logger: Logger,
): Promise<{ result: AuthenticationResult; partitionKey: string; plugin: PartitionCachePlugin }> {
  const client = await app.factory.withoutPersistence(logger);
  const { verifier, challenge } = await crypto.generatePkceCodes();
  const state = crypto.createNewGuid();
  const nonce = crypto.createNewGuid();
  const url = await client.getAuthCodeUrl({
    scopes,
    redirectUri: REDIRECT_URI,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
    state,
    nonce,
    loginHint,
  });
  const response = await httpsRequest(trustingAgent(stack().authority.ca), url);
  const location = response.headers.location;
  if (response.status !== 302 || !location) throw new Error(`authorize answered HTTP ${response.status}`);
  const code = new URL(location).searchParams.get('code');
  if (!code) throw new Error('authorize returned no code');
  const result = await client.acquireTokenByCode(
    { code, scopes, redirectUri: REDIRECT_URI, codeVerifier: verifier, nonce, state },
    { code, state },
  );
  const partitionKey = partitionKeyOfAccount(result.account!.homeAccountId);
  const plugin = new PartitionCachePlugin({ store: app.store, keyRing: app.keyRing, partitionKey, logger });
  const entries: unknown = JSON.parse(client.getTokenCache().serialize());
  if (!isObject(entries)) throw new Error('MSAL serialized something that is not an object');
  await plugin.importEntries(entries);
  return { result, partitionKey, plugin };
}
