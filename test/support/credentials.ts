/** Stand-ins for Microsoft Entra ID credentials, for the stores' sign-in paths against the emulators. */
import { randomUUID } from 'node:crypto';
import type { AccessToken, TokenCredential } from '@azure/identity';

/** A JWT-shaped token (unsigned) with the given claims, as a stand-in for an Entra ID access token. */
export function fakeJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ ...claims, jti: randomUUID() })}.`;
}

/** A credential that hands out the given tokens in turn (then the last one again), recording the scopes asked. */
export function fakeCredential(
  tokens: readonly { token: string; lifetimeMs: number }[],
): TokenCredential & { scopes: string[] } {
  const scopes: string[] = [];
  return {
    scopes,
    getToken(scope: string | string[]): Promise<AccessToken> {
      scopes.push(...(Array.isArray(scope) ? scope : [scope]));
      const next = tokens[Math.min(scopes.length, tokens.length) - 1]!;
      return Promise.resolve({
        token: next.token,
        expiresOnTimestamp: Date.now() + next.lifetimeMs,
        tokenType: 'Bearer',
      });
    },
  };
}
