/**
 * The reliability run of one store kind as a test (test/faults.{table,cosmos,redis}.test.ts): the app behind
 * fault-injecting proxies to its store and its authority, a mixed load of web API, web app, sign-in and daemon calls
 * over many people while the faults switch on and off (bench/reliability). One run per file; each test asserts one
 * invariant on its outcome — never on timings. Seeded: the same calls and fault draws on every run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReliability, type ReliabilityFigures } from '../../bench/reliability/scenario.js';
import type { FaultStoreKind } from '../../bench/reliability/stack.js';
import { TOKEN_TELEMETRY_PREFIX } from '../../lib/index.js';
import { getEmulators } from './emulators.js';
import { capturedLines, logLine, noteAppSettings, notedSecrets, noteIssued } from './log-audit.js';

/** People, and calls per fault phase. */
const PEOPLE = 40;
const CALLS_PER_PHASE = 24;
/** Seconds an access token is served from the cache: the final check waits this long (plus 2 s) for them to age. */
const CACHE_SECONDS = 3;
const SEED = 20_261_201;
/** A call must be answered within this (the stores' and the network client's own timeouts are 10 s). */
const BOUND_MS = 60_000;

/**
 * `authorityPhases`: also the phases that fault the identity provider (latency, resets, 429, 503, black hole,
 * refusal). They do not depend on the store, so one store's run has them in `npm test`; `npm run reliability` runs
 * every phase on every store. Every run has "everything at once" (store and authority faults together).
 */
export function describeReliability(store: FaultStoreKind, { authorityPhases }: { authorityPhases: boolean }): void {
  describe(`${store} store and authority under faults switched on and off`, () => {
    let figures: ReliabilityFigures;
    let linesBefore = 0;
    beforeAll(async () => {
      linesBefore = capturedLines().length;
      figures = await runReliability({
        store,
        emulators: await getEmulators(),
        people: PEOPLE,
        callsPerPhase: CALLS_PER_PHASE,
        seed: SEED,
        boundMs: BOUND_MS,
        cacheSeconds: CACHE_SECONDS,
        authorityPhases,
        // The stack runs an authority and an app of its own: their lines and secrets go to this file's log audit.
        onLog: (line) => void logLine('reliability', line),
        beforeClose: ({ authority, app }) => {
          noteIssued(authority.secrets(0));
          noteAppSettings(app.settings);
        },
      });
    }, 240_000);
    afterAll(() => {
      if (figures) console.info(`reliability ${store}: ${JSON.stringify({ ...figures, phases: undefined })}`);
    });

    it("routes the app's log lines, and the secrets of the stack's own authority and app settings, to the file's log audit", () => {
      const lines = capturedLines().slice(linesBefore);
      expect(lines.filter((line) => line.includes('userDaemon: user daemon: processed')).length).toBeGreaterThan(1);
      expect(lines.some((line) => line.includes(TOKEN_TELEMETRY_PREFIX))).toBe(true);
      const kinds = new Set(notedSecrets().values());
      const issued = [
        'access_token',
        'id_token',
        'refresh_token',
        'authorization_code',
        'code_verifier',
        'minted_token',
      ];
      for (const kind of [...issued, 'CACHE_KEYS', 'SESSION_KEYS']) expect(kinds, kind).toContain(kind);
    });

    it('injects faults of every kind its phases name', () => {
      const { faults } = figures;
      expect(faults['store: refusals (listener closed)']).toBe(1);
      expect(faults['store: connections reset']).toBeGreaterThan(0);
      if (store !== 'redis') expect(faults['store: 429/503 answers']).toBeGreaterThan(0);
      if (authorityPhases) {
        expect(faults['authority: refusals (listener closed)']).toBe(1);
        expect(faults['authority: connections reset']).toBeGreaterThan(0);
      }
    });

    it('answers every call within the bound: a token (200), or 503 with a reason; 401 or sign-in only for the revoked', () => {
      expect(figures.unacceptable).toEqual([]);
      expect(figures.answers['200']).toBeGreaterThan(0);
    });

    it('loses no refresh token: everyone not revoked has the newest one issued in their partition, and it redeems', () => {
      expect(figures.refreshTokens).toEqual({ notNewest: [], notRedeemed: [] });
    });

    it('pauses exactly the revoked people; everyone else still has background work on', () => {
      expect(figures.paused).toEqual([...figures.revoked].sort());
      expect(figures.wrongStatus).toEqual([]);
      expect(figures.finalRun, figures.finalRunProblems.join('\n')).toMatch(
        new RegExp(`succeeded ${PEOPLE - figures.revoked.length}, paused \\d+, failed 0`),
      );
    });

    it("leaves no entry of one person in another's partition", () => {
      expect(figures.crossUser.found).toEqual([]);
      expect(figures.crossUser.onBehalfOf).toBeGreaterThan(0);
    });

    it('keeps every acquisition within 2 reads (version check, document) and 1 write, plus a re-read and a write per conflict', () => {
      expect(figures.roundTrips.overBound).toEqual([]);
      expect(figures.roundTrips.acquisitions).toBeGreaterThan(0);
    });

    it("keeps every invocation within its function's bound (bench/reliability/invocations.ts): acquisitions as many as its flow makes, token store operations as many as they reported, record store operations its flow's allowance plus 2 per conflict; and counts invocations of every flow of the load", () => {
      expect(figures.storeOps.overBound).toEqual([]);
      for (const name of ['me', 'profile', 'authCallback', 'profileBackground', 'userDaemon', 'appDaemon']) {
        expect(figures.storeOps.byFunction[name]?.invocations ?? 0, name).toBeGreaterThan(0);
      }
    });
  });
}
