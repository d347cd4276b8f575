/**
 * The people of a run: each signs in to the web app in their browser (a session and a refresh token in their
 * partition), turns background work on, and has two client apps (a laptop and a phone) holding access tokens for
 * the web API — the same person, so every flow meets in one partition.
 */
import { deterministicUuid } from '../../dev/authority/ids.js';
import { userPartitionKey } from '../../lib/index.js';
import { browserSignIn, call, CookieJar } from './clients.js';
import type { FaultStack } from './stack.js';

export interface Person {
  readonly index: number;
  readonly loginHint: string;
  readonly oid: string;
  readonly partitionKey: string;
  /** The person's browser. */
  readonly jar: CookieJar;
  /** Access tokens for the web API of their two devices (the on-behalf-of assertions). */
  readonly assertions: readonly [string, string];
  /** Chosen to be revoked at the authority during the run (so never signs in again after it). */
  readonly toRevoke: boolean;
}

/** Signs `count` people in (no faults yet), turns their background work on, mints their devices' tokens. */
export async function enrol(
  stack: FaultStack,
  count: number,
  revoked: ReadonlySet<number>,
  boundMs: number,
  concurrency = 8,
): Promise<Person[]> {
  const { app, authority } = stack;
  const run = Math.random().toString(36).slice(2, 8);
  const people: Person[] = [];
  const one = async (index: number): Promise<Person> => {
    const loginHint = `p${index}-${run}@contoso.test`;
    // The local authority derives a signed-in user's oid from the tenant and the hint.
    const oid = deterministicUuid('user', app.tenantId, loginHint);
    const partitionKey = userPartitionKey({ oid, tid: app.tenantId });
    const jar = new CookieJar();
    const signedIn = await browserSignIn(app.url, jar, loginHint, boundMs);
    if (signedIn.status !== 302 || !jar.hasSession()) {
      throw new Error(`enrolment: sign-in of person ${index} answered ${signedIn.status} ${signedIn.error ?? ''}`);
    }
    const optIn = await call(
      `${app.url}/api/profile/background`,
      boundMs,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: app.url },
        body: 'enabled=true',
      },
      jar,
    );
    if (optIn.status !== 302) throw new Error(`enrolment: opt-in of person ${index} answered ${optIn.status}`);
    const device = (name: string) =>
      authority.mint({
        oid,
        sub: oid,
        tid: app.tenantId,
        aud: `api://${app.clientId}`,
        scp: 'access_as_user',
        azp: deterministicUuid('device', name),
      });
    const assertions = [await device('laptop'), await device('phone')] as const;
    return { index, loginHint, oid, partitionKey, jar, assertions, toRevoke: revoked.has(index) };
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      for (let index = next++; index < count; index = next++) people[index] = await one(index);
    }),
  );
  return people;
}
