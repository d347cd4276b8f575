/**
 * Scenario 9: this library against msal-node's own DistributedCachePlugin (bench/support/peer.ts), side by side,
 * from the same run: the warm paths of scenario 2 (measured in the same interleaved rounds, over the same store
 * class and emulator), CPU per call on the memory store (scenario 3), and the refresh storm (refresh-storm.ts).
 */
import type { Goal, ScenarioResult } from '../support/report.js';
import type { CpuFigures } from './cpu.js';
import { STORM_INVOCATIONS, type StormFigures } from './refresh-storm.js';
import { PATH_LABELS, type PathFigures, type WarmFigures } from './warm.js';

const PATHS = ['obo', 'appDaemon', 'getMe'] as const;

export const PEER_COMMAND = 'npm run bench -- --only=peer';

export function peerScenario(
  warm: readonly WarmFigures[],
  storms: readonly StormFigures[],
  cpu: CpuFigures | undefined,
): ScenarioResult {
  const stores = [...new Set(warm.map((f) => f.on.store))];
  const pairs = stores.flatMap((store) => {
    const ours = warm.find((f) => f.on.store === store && f.contender === 'ours');
    const peer = warm.find((f) => f.on.store === store && f.contender === 'peer');
    return ours && peer ? [{ store, ours, peer }] : [];
  });
  const rows = pairs.flatMap(({ store, ours, peer }) =>
    PATHS.map((path) => {
      const o = ours[path];
      const p = peer[path];
      return [
        store,
        PATH_LABELS[path],
        o.medianMs,
        p.medianMs,
        o.p99Ms,
        p.p99Ms,
        ratio(o, p),
        trips(o),
        trips(p),
        o.cpuUsPerCall,
        p.cpuUsPerCall,
        `${o.failures} / ${ours.warnings}`,
        `${p.failures} / ${peer.warnings}`,
      ];
    }),
  );
  const stormRows = storms.map((s) => [
    s.on.store,
    s.contender,
    `${s.succeeded} / ${s.trials * s.invocations}`,
    s.invalidGrantsDuringStorm,
    s.authorityTokenRequests,
    s.refreshTokensIssued,
    `${s.refreshTokensLost} / ${s.trials}`,
    `${s.invalidGrantsAfter} / ${s.trials}`,
    `${s.accessTokensMissing} / ${s.accessTokensReturned}`,
    s.conflicts,
    s.retries,
    `${s.storeReads} / ${s.storeWrites}`,
    s.warnings,
  ]);
  const goals: Goal[] = pairs.flatMap(({ store, ours, peer }) =>
    (['obo', 'appDaemon'] as const).flatMap((path): Goal[] => [
      {
        goal: `warm ${PATH_LABELS[path]}, ours ≤ peer's median, ${store}`,
        target: '≤ 1 × peer',
        measured: `${ratio(ours[path], peer[path])} (${ours[path].medianMs} vs ${peer[path].medianMs} ms)`,
        met: ours[path].medianMs <= peer[path].medianMs,
      },
      {
        goal: `warm ${PATH_LABELS[path]}, ours' round trips ≤ peer's, ${store}`,
        target: `≤ ${trips(peer[path])}`,
        measured: trips(ours[path]),
        met:
          ours[path].perInvocation.storeReads + ours[path].perInvocation.storeWrites <=
          peer[path].perInvocation.storeReads + peer[path].perInvocation.storeWrites,
      },
    ]),
  );
  for (const s of storms.filter((f) => f.contender !== 'peer')) {
    goals.push({
      goal: `refresh storm (${STORM_INVOCATIONS} at once), ${s.contender}, ${s.on.store}: refresh tokens lost, invalid_grant after, access tokens missing`,
      target: '0 / 0 / 0',
      measured: `${s.refreshTokensLost} / ${s.invalidGrantsAfter} / ${s.accessTokensMissing}`,
      met: s.refreshTokensLost === 0 && s.invalidGrantsAfter === 0 && s.accessTokensMissing === 0,
    });
  }
  const figures = Object.fromEntries(
    stores.map((store) => {
      const pair = pairs.find((p) => p.store === store);
      const storm = (contender: string) => storms.find((s) => s.on.store === store && s.contender === contender);
      return [
        store,
        {
          on: pair?.peer.on,
          obo: pair?.peer.obo,
          appDaemon: pair?.peer.appDaemon,
          getMe: pair?.peer.getMe,
          documentBytes: pair?.peer.documentBytes,
          warnings: pair?.peer.warnings,
          storm: storm('peer'),
          ours: {
            obo: pair?.ours.obo,
            appDaemon: pair?.ours.appDaemon,
            getMe: pair?.ours.getMe,
            storm: storm('ours'),
            stormAcrossInstances: storm('ours, 50 instances'),
          },
          oursToPeer: pair && Object.fromEntries(PATHS.map((path) => [path, ratio(pair.ours[path], pair.peer[path])])),
        },
      ];
    }),
  );
  const cpuNote = cpu?.peer
    ? [
        `CPU on the memory store (scenario 3, client credentials, no emulator): ours ${cpu.plugin.microsecondsPerInvocation} µs per call, peer ${cpu.peer.microsecondsPerCall} µs, bare shared msal-node client ${cpu.bareSharedClient.microsecondsPerCall} µs.`,
      ]
    : [];
  return {
    id: 'peer',
    title: '9. Ours vs msal-node DistributedCachePlugin (same run, same stores)',
    columns: [
      'store',
      'path',
      'ours median ms',
      'peer median ms',
      'ours p99 ms',
      'peer p99 ms',
      'ours ÷ peer',
      'ours reads / writes / authority',
      'peer reads / writes / authority',
      'ours CPU µs',
      'peer CPU µs',
      'ours failures / warnings',
      'peer failures / warnings',
    ],
    rows,
    extraTables: [
      {
        title: `Refresh storm: ${STORM_INVOCATIONS} invocations of one user redeem its refresh token at once (strict rotation)`,
        columns: [
          'store',
          'contender',
          'succeeded',
          'invalid_grant during',
          'authority requests',
          'refresh tokens issued',
          'refresh token lost (trials)',
          'invalid_grant after (trials)',
          'access tokens missing / returned',
          'conflicts',
          'retries',
          'store reads / writes',
          'warnings',
        ],
        rows: stormRows,
      },
    ],
    figures,
    goals,
    notes: [
      `Reproduce: \`${PEER_COMMAND}\` (this table only) or \`npm run bench\`.`,
      'Peer = msal-node DistributedCachePlugin wired as its docs and samples wire it: a new ConfidentialClientApplication per request (authority metadata fetched once), one partition per user (homeAccountId) and one for the app, getAllAccounts() before on-behalf-of (to load the partition), no encryption; its ICacheClient does get = one point read and set = read the ETag, then replace (or create) on it, again until it lands (a plain overwrite: last writer wins). Same app registration, same network client, same store class and emulator (its own table/container/prefix).',
      "Warm rows: measured in the same interleaved rounds as scenario 2. CPU µs = process CPU per invocation including the in-process emulator's share.",
      `Storm: per trial a user signs in, then ${STORM_INVOCATIONS} silent calls for ${STORM_INVOCATIONS} different resources start together; the local authority (strict rotation for this app: a redemption supersedes every older refresh token of the user) holds the ${STORM_INVOCATIONS} token requests until all arrived, then answers them. "refresh token lost": the partition's refresh token afterwards is not the newest issued; "invalid_grant after": a silent call for one more resource, redeeming the partition's refresh token, failed; "access tokens missing": tokens returned to an invocation but absent from the partition.`,
      'Strict rotation is stricter than Entra ID, where an older refresh token stays valid after a rotation: there a lost refresh token costs nothing at once, but lost access tokens still cost a request to the identity provider each.',
      ...cpuNote,
    ],
  };
}

function ratio(ours: PathFigures, peer: PathFigures): number {
  return Math.round((ours.medianMs / peer.medianMs) * 100) / 100;
}

function trips(p: PathFigures): string {
  const per = p.perInvocation;
  return `${per.storeReads} / ${per.storeWrites} / ${per.authorityRequests}`;
}
