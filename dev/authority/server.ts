import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { JSONWebKeySet } from 'jose';
import { AuthorityAdmin, type CriticalEventResult, type RefreshTokenInfo } from './admin.js';
import { RequestCounters, type RequestCounts } from './counters.js';
import {
  CriticalEvents,
  type CriticalEvent,
  type CriticalEventFeed,
  type CriticalEventKind,
} from './critical-events.js';
import type { DeviceDecision, DeviceFlowDeps } from './device.js';
import { DEVICE_CODE_INTERVAL_SECONDS, DeviceCodeStore } from './device-codes.js';
import { FailureInjector } from './failures.js';
import { TokenHolds, type TokenHold } from './holds.js';
import { createSigningKey, type MintOptions } from './keys.js';
import { closeServer, listen } from './listeners.js';
import { issuerFor, jwksUriFor, openIdConfiguration } from './metadata.js';
import { readStateFile, StateFile } from './persistence.js';
import { RefreshTokenStore, RotationPolicy } from './refresh-tokens.js';
import { requestListener, type RouterDeps } from './router.js';
import { SecretLog, type SecretListing } from './secrets.js';
import { OptionalClaims } from './optional-claims.js';
import { SESSIONS_PATH } from './sessions.js';
import { CodeStore, InteractionRequirements } from './state.js';
import { createTlsMaterial } from './tls.js';
import type { TokenEndpointDeps } from './token.js';
import { DEFAULT_USERS, UserDirectory, type DevUser } from './users.js';

export type { DevUser } from './users.js';
export type { RequestCounts } from './counters.js';
export type { CriticalEventResult, RefreshTokenInfo } from './admin.js';
export type { CriticalEvent, CriticalEventFeed, CriticalEventKind } from './critical-events.js';
export type { TokenHold } from './holds.js';
export type { SecretEntry, SecretKind, SecretListing } from './secrets.js';
export type { MintOptions } from './keys.js';
export type { DeviceDecision } from './device.js';

export interface AuthorityOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Of the HTTPS listener. Default 0: a free port. */
  port?: number;
  /**
   * The origin clients are told to reach the HTTPS listener at — in the issuer, the openid-configuration (token
   * endpoint, JWKS) and `url` — when something on another port forwards to it, such as a fault-injecting TCP proxy:
   * `https://127.0.0.1:PROXY_PORT`. The certificate must still match its host. Default: the listener's own origin.
   */
  publicUrl?: string;
  /**
   * When set (0: a free port), a plain-HTTP listener on the same host serves the pages a browser opens (authorize,
   * logout), and the openid-configuration advertises them there: no certificate warning for a person signing in.
   * Everything else, and those pages too, stays on HTTPS.
   */
  browserPort?: number;
  /**
   * A JSON file (for local development) that keeps the signing key, the users created on the fly and the refresh
   * tokens across restarts: loaded at start when it exists, saved after each change. Holds secrets (mode 0600).
   * Access tokens name the port in `iss`: keep `port` fixed too for them to stay valid.
   */
  stateFile?: string;
  /**
   * The one secret every confidential client must present. Default 'dev-client-secret'. A request without any
   * credential is a public client's: accepted for the device code grant and for refresh tokens issued that way.
   */
  clientSecret?: string;
  /** Default 3600. */
  accessTokenLifetimeSeconds?: number;
  /**
   * Of the access tokens of clients that declare the `cp1` capability (Continuous Access Evaluation): Entra gives
   * them up to 28 hours, since resource APIs revoke them by claims challenges. Default 86400 (24 hours).
   */
  caeAccessTokenLifetimeSeconds?: number;
  /** How many distinct secrets `secrets()` keeps (the most recent). Default 10,000. */
  secretLogLimit?: number;
  /** How long a device code (and its user code) can be approved and polled. Default 900, as in Entra. */
  deviceCodeLifetimeSeconds?: number;
  /** The polling interval the device code endpoint asks for. Default 1 (Entra asks for 5). */
  deviceCodeIntervalSeconds?: number;
  /** Default: Alice, Bob, Carol and Dave with fixed oids, in every tenant. */
  users?: DevUser[];
}

export interface LocalAuthority {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** http://127.0.0.1:BROWSER_PORT when `browserPort` was given. */
  readonly browserUrl: string | undefined;
  /** The dev page that revokes a user's session: on the browser listener when there is one. */
  readonly sessionsUrl: string;
  /** What a CAE-aware resource API (`startDownstreamApi`'s `criticalEvents`) needs to challenge tokens. */
  readonly cae: CriticalEventFeed;
  /** The PEM certificate clients must trust. */
  readonly ca: string;
  /** '127.0.0.1:PORT', for MSAL's knownAuthorities. */
  readonly host: string;
  /** The public signing keys (the JWKS document). */
  readonly jwks: JSONWebKeySet;
  /** `${url}/${tenantId}`: what MSAL gets as `authority`. */
  authorityUrl(tenantId: string): string;
  /** `${url}/${tenantId}/v2.0` */
  issuer(tenantId: string): string;
  jwksUri(tenantId: string): string;
  /** The openid-configuration as a JSON string, for MSAL's `authorityMetadata`. */
  metadata(tenantId: string): string;
  /** Signs `claims` with the authority key; `iss` defaults to issuer(claims.tid) and `ver` to '2.0'. */
  mint(claims: Record<string, unknown>, opts?: MintOptions): Promise<string>;
  /** Request counts for one client id, or over all requests. */
  requests(clientId?: string): RequestCounts;
  refreshTokens(clientId: string, oid: string): RefreshTokenInfo[];
  revoke(oid: string, tid?: string): number;
  requireInteraction(oid: string, claims: string | Record<string, unknown> | null): void;
  /** Fails the next `count` token requests of `clientId` (or, without it, of anyone). */
  failNext(
    count: number,
    status: number,
    retryAfter?: number,
    clientId?: string,
    oauth?: { readonly error: string; readonly aadsts: number },
  ): void;
  /** Approves a pending device code for the user `loginHint` names, as the verification page would. */
  approveDevice(userCode: string, loginHint: string): DeviceDecision;
  /** Declines a pending device code, as the verification page's cancel button would. */
  declineDevice(userCode: string): DeviceDecision;
  /** A CAE critical event for the user: `revoke_session` or `reissue` (see `CriticalEventKind`). */
  criticalEvent(oid: string, kind: CriticalEventKind, tid?: string): CriticalEventResult;
  criticalEvents(): CriticalEvent[];
  /** Redeeming a refresh token supersedes every older one of the user and client (stricter than Entra). */
  strictRefreshTokenRotation(enabled: boolean, clientId?: string): void;
  /** Whether the registration of API `resource` (a token audience) requests the `xms_cc` optional claim (default yes). */
  requestXmsCc(resource: string, requested: boolean): void;
  secretsMark(): number;
  /** Every secret issued or received after `since` (a `secretsMark()`), to search logs for. */
  secrets(since?: number): SecretListing;
  /** Holds `clientId`'s token requests after their grant is decided and before they are answered. */
  holdTokenRequests(clientId: string): TokenHold;
  /** Stops listening; with a `stateFile`, resolves once the last change is saved. */
  close(): Promise<void>;
}

export async function startLocalAuthority(options: AuthorityOptions = {}): Promise<LocalAuthority> {
  const hostName = options.host ?? '127.0.0.1';
  const saved = options.stateFile ? await readStateFile(options.stateFile) : undefined;
  const [tls, key] = await Promise.all([createTlsMaterial(), createSigningKey(saved?.signingKey)]);
  let stateFile: StateFile | undefined;
  const changed = () => stateFile?.changed();
  const counters = new RequestCounters();
  const secrets = new SecretLog(options.secretLogLimit);
  const holds = new TokenHolds();
  const state = {
    codes: new CodeStore(),
    refreshTokens: new RefreshTokenStore(changed),
    interaction: new InteractionRequirements(),
    failures: new FailureInjector(),
    devices: new DeviceCodeStore(options.deviceCodeLifetimeSeconds),
    criticalEvents: new CriticalEvents(changed),
    rotation: new RotationPolicy(),
    optionalClaims: new OptionalClaims(),
  };
  const users = new UserDirectory(options.users ?? DEFAULT_USERS, changed);
  if (saved) {
    state.refreshTokens.restore(saved.refreshTokens);
    state.criticalEvents.restore(saved.criticalEvents);
    users.restoreCreated(saved.users);
  }
  if (options.stateFile) {
    stateFile = new StateFile(options.stateFile, () => ({
      signingKey: key.privateJwk,
      users: users.created(),
      refreshTokens: state.refreshTokens.all(),
      criticalEvents: state.criticalEvents.all(),
    }));
    await stateFile.save();
  }

  const origins = { api: '', browser: '' };
  const issuer = (tenant: string) => issuerFor(origins.api, tenant);
  const metadata = (tenant: string) => openIdConfiguration(origins.api, tenant, origins.browser);
  const mint = async (claims: Record<string, unknown>, opts?: MintOptions) => {
    const defaults: Record<string, unknown> = { ver: '2.0' };
    if (typeof claims.tid === 'string') defaults.iss = issuer(claims.tid);
    const minted = await key.sign({ ...defaults, ...claims }, opts);
    secrets.record('minted_token', minted);
    return minted;
  };
  const admin = new AuthorityAdmin({ ...state, counters, secrets, holds, mint, deviceFlow: { ...state, users } });
  const token: TokenEndpointDeps = {
    ...state,
    get baseUrl() {
      return origins.api;
    },
    key,
    tokens: {
      key,
      lifetimeSeconds: options.accessTokenLifetimeSeconds ?? 3600,
      caeLifetimeSeconds: options.caeAccessTokenLifetimeSeconds ?? 86_400,
      optionalClaims: state.optionalClaims,
      issuer,
    },
    clientSecret: options.clientSecret ?? 'dev-client-secret',
    counters,
    holds,
    secrets,
  };
  const countAuthorize = (id?: string) => counters.count('authorize', id);
  const authorize = { users, codes: state.codes, interaction: state.interaction, secrets, countAuthorize };
  const device: DeviceFlowDeps = {
    devices: state.devices,
    users,
    counters,
    secrets,
    intervalSeconds: options.deviceCodeIntervalSeconds ?? DEVICE_CODE_INTERVAL_SECONDS,
    get browserUrl() {
      return origins.browser;
    },
  };
  const sessions = { users, admin };
  const deps: RouterDeps = { counters, admin, key, authorize, token, device, sessions, metadata };

  const hostForUrl = hostName.includes(':') ? `[${hostName}]` : hostName;
  const servers: Server[] = [];
  const close = async () => {
    await Promise.all(servers.map(closeServer));
    await stateFile?.flush();
  };
  try {
    if (options.browserPort !== undefined) {
      const browserServer = createHttpServer(requestListener(deps, 'browser'));
      servers.push(browserServer);
      await listen(browserServer, options.browserPort, hostName);
      origins.browser = `http://${hostForUrl}:${(browserServer.address() as AddressInfo).port}`;
    }
    const server = createHttpsServer({ key: tls.key, cert: tls.cert }, requestListener(deps, 'all'));
    servers.push(server);
    await listen(server, options.port ?? 0, hostName);
    origins.api =
      options.publicUrl?.replace(/\/+$/, '') ?? `https://${hostForUrl}:${(server.address() as AddressInfo).port}`;
    origins.browser ||= origins.api;
  } catch (e) {
    await close();
    throw e;
  }

  const baseUrl = origins.api;
  const cae: CriticalEventFeed = {
    authorizationUri: `${origins.browser}/common/oauth2/v2.0/authorize`,
    latest: (oid, tid) => state.criticalEvents.latest(oid, tid),
  };
  return {
    url: baseUrl,
    browserUrl: options.browserPort === undefined ? undefined : origins.browser,
    sessionsUrl: `${origins.browser}${SESSIONS_PATH}`,
    cae,
    ca: tls.cert,
    host: baseUrl.slice('https://'.length),
    jwks: key.jwks,
    authorityUrl: (tenantId) => `${baseUrl}/${tenantId}`,
    issuer,
    jwksUri: (tenantId) => jwksUriFor(baseUrl, tenantId),
    metadata: (tenantId) => JSON.stringify(metadata(tenantId)),
    mint,
    requests: (clientId) => admin.requests(clientId),
    refreshTokens: (clientId, oid) => admin.refreshTokens(clientId, oid),
    revoke: (oid, tid) => admin.revoke(oid, tid),
    requireInteraction: (oid, claims) => admin.requireInteraction(oid, claims),
    failNext: (count, status, retryAfter, clientId, oauth) =>
      admin.failNext(count, status, retryAfter, clientId, oauth),
    approveDevice: (userCode, loginHint) => admin.approveDevice(userCode, loginHint),
    declineDevice: (userCode) => admin.declineDevice(userCode),
    criticalEvent: (oid, kind, tid) => admin.criticalEvent(oid, kind, tid),
    criticalEvents: () => admin.criticalEvents(),
    strictRefreshTokenRotation: (enabled, clientId) => admin.strictRefreshTokenRotation(enabled, clientId),
    requestXmsCc: (resource, requested) => admin.requestXmsCc(resource, requested),
    secretsMark: () => admin.secretsMark(),
    secrets: (since) => admin.secrets(since),
    holdTokenRequests: (clientId) => admin.holdTokenRequests(clientId),
    close,
  };
}
