import { signInWithLoginHint } from '../../dev/sign-in.js';
import type { TokenCacheLogger, TokenOutcome } from '../../lib/index.js';
import { stack, type TestApp } from './stack.js';

/**
 * A user signs in to `app` (auth code + PKCE, `login_hint` skips the account picker) and the tokens are written to
 * the user's partition — the same steps as the web app's callback, without the browser.
 */
export function signIn(
  app: TestApp,
  loginHint: string,
  scopes: string[],
  logger: TokenCacheLogger,
): Promise<TokenOutcome> {
  return signInWithLoginHint(app.tokens, stack().authority.ca, loginHint, scopes, { logger });
}
