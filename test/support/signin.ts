import type { AuthenticationResult } from '@azure/msal-node';
import { signInWithLoginHint } from '../../dev/sign-in.js';
import { partitionKeyOfAccount } from '../../lib/cache/partitions.js';
import { PartitionCachePlugin } from '../../lib/cache/plugin.js';
import type { Logger } from '../../lib/log.js';
import { stack, type TestApp } from './stack.js';

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
  const { result, msal } = await signInWithLoginHint(app.factory, stack().authority.ca, loginHint, scopes, logger);
  const partitionKey = partitionKeyOfAccount(result.account!.homeAccountId);
  const plugin = new PartitionCachePlugin({ store: app.store, keyRing: app.keyRing, partitionKey, logger });
  await plugin.importEntries(msal);
  return { result, partitionKey, plugin };
}
