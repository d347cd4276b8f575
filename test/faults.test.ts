/**
 * Single faults the reliability runs (test/faults.*.test.ts) met, pinned one by one against the same stack: the
 * app behind fault-injecting proxies, with a local authority of its own (bench/reliability/stack.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSignIn, call, type HttpAnswer } from '../bench/reliability/clients.js';
import { enrol, type Person } from '../bench/reliability/people.js';
import { startFaultStack, type FaultStack } from '../bench/reliability/stack.js';
import { seededRandom } from '../bench/support/stats.js';
import { getEmulators } from './support/emulators.js';

const BOUND_MS = 30_000;
let stack: FaultStack;
let person: Person;

beforeAll(async () => {
  // Access tokens are never served from the cache: every web app call refreshes.
  stack = await startFaultStack({
    store: 'table',
    emulators: await getEmulators(),
    random: seededRandom(7),
    cacheSeconds: 0,
  });
  [person] = (await enrol(stack, 1, new Set(), BOUND_MS)) as [Person];
});
afterAll(async () => {
  await stack?.close();
});

/** The web API, called with the person's access token of device `device`. */
const callMe = (device = 0) =>
  call(`${stack.app.url}/api/me`, BOUND_MS, { headers: { authorization: `Bearer ${person.assertions[device]}` } });
/** The web app's profile, in the person's browser. */
const callProfile = () => call(`${stack.app.url}/api/profile`, BOUND_MS, {}, person.jar);
const statusAndError = (answer: HttpAnswer) => ({ status: answer.status, error: answer.error });
const IDENTITY_PROVIDER_UNAVAILABLE = { status: 503, error: 'identity_provider_unavailable' };

describe('the identity provider throttles: HTTP 429 with an OAuth error body', () => {
  const throttleNext = () => stack.authority.failNext(1, 429, 1, stack.app.clientId);

  it('the web API answers 503 identity_provider_unavailable with Retry-After (on-behalf-of)', async () => {
    throttleNext();
    const answer = await callMe();
    expect(statusAndError(answer)).toEqual(IDENTITY_PROVIDER_UNAVAILABLE);
    expect(answer.retryAfter).toBeDefined();
  });

  it('the web app answers 503 identity_provider_unavailable with Retry-After (silent refresh), session kept', async () => {
    throttleNext();
    const answer = await callProfile();
    expect(statusAndError(answer)).toEqual(IDENTITY_PROVIDER_UNAVAILABLE);
    expect(answer.retryAfter).toBeDefined();
    expect(person.jar.hasSession()).toBe(true);
  });

  it('a sign-in callback answers 503 identity_provider_unavailable with Retry-After (code redemption)', async () => {
    throttleNext();
    const answer = await browserSignIn(stack.app.url, person.jar, person.loginHint, BOUND_MS);
    expect(statusAndError(answer)).toEqual(IDENTITY_PROVIDER_UNAVAILABLE);
    expect(answer.retryAfter).toBeDefined();
  });

  it('the app daemon logs the identity provider as unavailable (client credentials)', async () => {
    throttleNext();
    const from = stack.app.logs.length;
    await stack.app.host.timers.fire('appDaemon');
    expect(stack.app.logs.slice(from).find((l) => l.includes('app daemon: no token'))).toMatch(/authority_unavailable/);
  });
});

describe('the identity provider throttles a user flow the Entra way: invalid_grant with AADSTS50196', () => {
  const throttleNext = (count = 1) =>
    stack.authority.failNext(count, 400, undefined, stack.app.clientId, { error: 'invalid_grant', aadsts: 50196 });

  it('the web API answers 503 identity_provider_unavailable, not a sign-in challenge (on-behalf-of)', async () => {
    throttleNext();
    const answer = await callMe();
    expect(statusAndError(answer)).toEqual(IDENTITY_PROVIDER_UNAVAILABLE);
  });

  it('the web app answers 503, not a sign-in, and keeps the session (silent refresh)', async () => {
    throttleNext();
    const answer = await callProfile();
    expect(statusAndError(answer)).toEqual(IDENTITY_PROVIDER_UNAVAILABLE);
    expect(person.jar.hasSession()).toBe(true);
  });

  it('the user daemon counts the person as failed for now and does not pause them', async () => {
    throttleNext(100);
    try {
      const from = stack.app.logs.length;
      await stack.app.host.timers.fire('userDaemon');
      const summary = stack.app.logs.slice(from).find((l) => l.includes('user daemon: processed'));
      expect(summary).toMatch(/paused 0/);
      expect(summary).toMatch(/failed [1-9]/);
    } finally {
      stack.authority.failNext(0, 400, undefined, stack.app.clientId);
    }
  });
});

describe('the proxies stand where the faults are meant to be', () => {
  it('the app reaches the identity provider only through its proxy: refused there, the web API answers 503', async () => {
    await stack.authorityProxy.refuse();
    try {
      // A fresh connection is needed: the open keep-alive ones go on.
      stack.authorityProxy.reset({ incoming: false });
      const answer = await callMe(1);
      expect(statusAndError(answer)).toEqual(IDENTITY_PROVIDER_UNAVAILABLE);
    } finally {
      await stack.healAll();
    }
  });

  it('the app reaches its store only through its proxy: refused there, the web app answers 503, session kept', async () => {
    await stack.storePath.tcp.refuse();
    try {
      stack.storePath.tcp.reset({ incoming: false });
      const answer = await callProfile();
      expect(statusAndError(answer)).toEqual({ status: 503, error: 'store_unavailable' });
      expect(person.jar.hasSession()).toBe(true);
    } finally {
      await stack.healAll();
    }
  });
});
