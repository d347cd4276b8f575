import { decodeJwt } from 'jose';
import type { StoreCredential } from '../store.js';

type AccessToken = NonNullable<Awaited<ReturnType<StoreCredential['getToken']>>>;
import type { RedisClientOptions } from 'redis';
import { StoreError } from '../store.js';

type CredentialsProvider = NonNullable<RedisClientOptions['credentialsProvider']>;
export type StreamingCredentialsProvider = Extract<CredentialsProvider, { type: 'streaming-credentials-provider' }>;
type StreamingListener = Parameters<StreamingCredentialsProvider['subscribe']>[0];

/** Renew a token this long before it expires (unless the credential says to renew earlier). */
const TOKEN_RENEW_MARGIN_MS = 5 * 60_000;
const MIN_RENEW_DELAY_MS = 1_000;

/**
 * Credentials from Entra ID access tokens: the token is the password, the user name is `username` or the token's
 * `oid` claim. The token is renewed before it expires and handed to the client, which sends `AUTH` with it on the
 * open connection (Azure closes a connection whose token expired). A renewal that fails is retried until the token
 * expires, then reported to the client.
 *
 * Written here rather than taken from `@redis/entraid`, which pins an older `@azure/msal-node` major than this app's.
 *
 * node-redis subscribes again at every reconnection without disposing of the previous subscription: one listener
 * is kept (the latest), so reconnections do not pile up renewal timers.
 */
export function entraIdCredentials(
  credential: StoreCredential,
  scope: string,
  username: string | undefined,
  timeoutMs: number,
): StreamingCredentialsProvider {
  let token: AccessToken | undefined;
  let listener: StreamingListener | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function fetchToken(): Promise<AccessToken> {
    const fresh = await credential.getToken(scope, { abortSignal: AbortSignal.timeout(timeoutMs) });
    if (!fresh)
      throw new StoreError(
        'store_misconfigured',
        `Redis store: the Entra ID credential returned no token for ${scope}`,
      );
    return fresh;
  }

  function credentialsOf(accessToken: AccessToken) {
    return { username: username ?? objectIdOf(accessToken.token), password: accessToken.token };
  }

  function schedule(): void {
    clearTimeout(timer);
    if (!token || !listener) return;
    const now = Date.now();
    const lifetime = token.expiresOnTimestamp - now;
    const renewAt = token.refreshAfterTimestamp ?? token.expiresOnTimestamp - TOKEN_RENEW_MARGIN_MS;
    // Never later than 3/4 of the remaining lifetime: short-lived tokens are renewed in time too.
    const delay = Math.max(MIN_RENEW_DELAY_MS, Math.min(renewAt - now, lifetime * 0.75));
    timer = setTimeout(() => void renew(1), delay);
    timer.unref();
  }

  async function renew(attempt: number): Promise<void> {
    const subscriber = listener;
    if (!subscriber) return;
    try {
      token = await fetchToken();
      const credentials = credentialsOf(token);
      if (listener === subscriber) subscriber.onNext(credentials);
      schedule();
    } catch (error) {
      if (listener !== subscriber) return;
      const retryIn = Math.min(1_000 * 2 ** attempt, 30_000);
      if (!token || Date.now() + retryIn >= token.expiresOnTimestamp) {
        subscriber.onError(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      clearTimeout(timer);
      timer = setTimeout(() => void renew(attempt + 1), retryIn);
      timer.unref();
    }
  }

  return {
    type: 'streaming-credentials-provider',
    async subscribe(next) {
      listener = next;
      // A connection being (re)established gets a token valid for a while yet.
      if (!token || token.expiresOnTimestamp - Date.now() < TOKEN_RENEW_MARGIN_MS / 5) token = await fetchToken();
      const credentials = credentialsOf(token);
      schedule();
      return [
        credentials,
        {
          dispose() {
            if (listener !== next) return;
            listener = undefined;
            clearTimeout(timer);
          },
        },
      ];
    },
    onReAuthenticationError() {
      // The connection keeps working until its token expires; Azure then closes it and the reconnection, which
      // fetches a token anew, reports a lasting failure to the operation that waits for it.
    },
  };
}

/** The `oid` claim of a JWT access token: the object id of the managed identity or service principal. */
function objectIdOf(accessToken: string): string {
  try {
    const { oid } = decodeJwt(accessToken);
    if (typeof oid === 'string' && oid !== '') return oid;
  } catch {
    // not a JWT: fall through
  }
  throw new StoreError(
    'store_misconfigured',
    'Redis store: the Entra ID access token has no oid claim to use as the Redis user name: set username',
  );
}
