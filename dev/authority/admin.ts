import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestCounters, RequestCounts } from './counters.js';
import {
  CRITICAL_EVENT_KINDS,
  type CriticalEvent,
  type CriticalEventKind,
  type CriticalEvents,
} from './critical-events.js';
import { decideDevice, type DeviceDecision, type DeviceFlowDeps } from './device.js';
import type { TokenHold, TokenHolds } from './holds.js';
import { HttpError, readJsonObject, sendJson } from './http.js';
import type { MintOptions } from './keys.js';
import type { FailureInjector } from './failures.js';
import type { OptionalClaims } from './optional-claims.js';
import type { RefreshTokenStore, RotationPolicy } from './refresh-tokens.js';
import type { SecretListing, SecretLog } from './secrets.js';
import type { InteractionRequirements } from './state.js';

export interface RefreshTokenInfo {
  readonly token: string;
  readonly issuedAt: string;
  /** Issue order over the whole authority (1, 2, 3…): the order the responses carrying them were sent. */
  readonly sequence: number;
  /** authorization_code, refresh_token, on_behalf_of or device_code */
  readonly issuedBy: string;
  /** Issued to a public client (no client secret). */
  readonly publicClient: boolean;
  readonly revoked: boolean;
  /** Superseded by a newer one under strict rotation: redeeming it answers invalid_grant. */
  readonly superseded: boolean;
}

export interface CriticalEventResult {
  readonly event: CriticalEvent;
  /** Refresh tokens revoked by it (`revoke_session`); 0 for `reissue`. */
  readonly revoked: number;
}

export interface AdminDeps {
  readonly counters: RequestCounters;
  readonly refreshTokens: RefreshTokenStore;
  readonly interaction: InteractionRequirements;
  readonly failures: FailureInjector;
  readonly criticalEvents: CriticalEvents;
  readonly rotation: RotationPolicy;
  readonly optionalClaims: OptionalClaims;
  readonly secrets: SecretLog;
  readonly holds: TokenHolds;
  readonly deviceFlow: Pick<DeviceFlowDeps, 'devices' | 'users'>;
  mint(claims: Record<string, unknown>, opts?: MintOptions): Promise<string>;
}

/** Test and dev controls of the authority, in process; `/_admin/*` serves the same over HTTP. */
export class AuthorityAdmin {
  constructor(private readonly deps: AdminDeps) {}

  mint(claims: Record<string, unknown>, opts?: MintOptions): Promise<string> {
    return this.deps.mint(claims, opts);
  }

  /**
   * What a person does on the verification page, without a browser: approves the pending device code with this
   * user code for the user `loginHint` names (a dev user's username or oid; another hint creates that user).
   */
  approveDevice(userCode: string, loginHint: string): DeviceDecision {
    return decideDevice(this.deps.deviceFlow, userCode, { loginHint });
  }

  /** Declines the pending device code with this user code: its polls answer `authorization_declined`. */
  declineDevice(userCode: string): DeviceDecision {
    return decideDevice(this.deps.deviceFlow, userCode, 'decline');
  }

  requests(clientId?: string): RequestCounts {
    return this.deps.counters.snapshot(clientId);
  }

  /** The refresh tokens issued to this user for this client, oldest first. */
  refreshTokens(clientId: string, oid: string): RefreshTokenInfo[] {
    return this.deps.refreshTokens.list(clientId, oid).map((r) => ({
      token: r.token,
      issuedAt: r.issuedAt.toISOString(),
      sequence: r.sequence,
      issuedBy: r.issuedBy,
      publicClient: r.publicClient,
      revoked: r.revoked,
      superseded: r.superseded,
    }));
  }

  /** Every refresh token of the user (in one tenant if `tid` is given) becomes invalid; returns how many. */
  revoke(oid: string, tid?: string): number {
    return this.deps.refreshTokens.revokeUser(oid, tid);
  }

  /**
   * Refresh and OBO requests for the user answer interaction_required with `claims`, until set to null or an
   * interactive sign-in of the user asks for those claims.
   */
  requireInteraction(oid: string, claims: string | Record<string, unknown> | null): void {
    this.deps.interaction.set(oid, claims === null || typeof claims === 'string' ? claims : JSON.stringify(claims));
  }

  /**
   * The next `count` token requests answer `status` (with Retry-After when given): those of `clientId` only, when
   * given, else anyone's. Replaces what was armed before for the same client id (or for everyone); 0 disarms.
   */
  failNext(
    count: number,
    status: number,
    retryAfter?: number,
    clientId?: string,
    oauth?: { readonly error: string; readonly aadsts: number },
  ): void {
    this.deps.failures.arm(
      count,
      { status, ...(retryAfter === undefined ? {} : { retryAfter }), ...(oauth ? { oauth } : {}) },
      clientId,
    );
  }

  /**
   * A Continuous Access Evaluation critical event for the user (in one tenant when `tid` is given): see
   * `CriticalEventKind`. `revoke_session` also revokes every refresh token of the user, as `revoke` does.
   */
  criticalEvent(oid: string, kind: CriticalEventKind, tid?: string): CriticalEventResult {
    const revoked = kind === 'revoke_session' ? this.deps.refreshTokens.revokeUser(oid, tid) : 0;
    return { event: this.deps.criticalEvents.record(kind, oid, tid), revoked };
  }

  /** The latest critical events of each kind, per user and tenant. */
  criticalEvents(): CriticalEvent[] {
    return this.deps.criticalEvents.all();
  }

  /**
   * Strict rotation (stricter than Entra): redeeming a refresh token supersedes every older refresh token of that
   * user and client, and redeeming a superseded one answers invalid_grant. For `clientId`, or for everyone.
   */
  strictRefreshTokenRotation(enabled: boolean, clientId?: string): void {
    this.deps.rotation.setStrict(enabled, clientId);
  }

  /** Whether the registration of API `resource` (a token audience) requests the `xms_cc` optional claim. */
  requestXmsCc(resource: string, requested: boolean): void {
    this.deps.optionalClaims.setXmsCc(resource, requested);
  }

  /** A mark to pass to `secrets`: only what is issued or received after it is listed then. */
  secretsMark(): number {
    return this.deps.secrets.mark();
  }

  /**
   * Every token, code, PKCE verifier, device code and client secret issued or received since `since` (default:
   * all that are kept; the most recent 10,000 by default, `truncated` tells when some were dropped).
   */
  secrets(since?: number): SecretListing {
    return this.deps.secrets.since(since);
  }

  /** Holds the token requests of `clientId` right before their answer is completed, until released (in process). */
  holdTokenRequests(clientId: string): TokenHold {
    return this.deps.holds.hold(clientId);
  }
}

/**
 * /_admin/{requests,refresh-tokens,revoke,require-interaction,fail,mint,approve-device,decline-device,
 * critical-event,critical-events,strict-rotation,optional-claims,secrets-mark,secrets}
 */
export async function handleAdmin(
  req: IncomingMessage,
  res: ServerResponse,
  action: string,
  url: URL,
  admin: AuthorityAdmin,
): Promise<void> {
  const route = `${req.method ?? 'GET'} ${action}`;
  switch (route) {
    case 'GET requests':
      return sendJson(res, 200, admin.requests(url.searchParams.get('client_id') ?? undefined));
    case 'GET refresh-tokens': {
      const clientId = url.searchParams.get('client_id');
      const oid = url.searchParams.get('oid');
      if (!clientId || !oid) throw new HttpError(400, 'client_id and oid are required');
      return sendJson(res, 200, { refreshTokens: admin.refreshTokens(clientId, oid) });
    }
    case 'POST revoke': {
      const body = await readJsonObject(req);
      const oid = requiredString(body, 'oid');
      const tid = optionalString(body, 'tid');
      return sendJson(res, 200, { revoked: admin.revoke(oid, tid) });
    }
    case 'POST require-interaction': {
      const body = await readJsonObject(req);
      const oid = requiredString(body, 'oid');
      const claims = body.claims ?? null;
      if (claims !== null && typeof claims !== 'string' && (typeof claims !== 'object' || Array.isArray(claims))) {
        throw new HttpError(400, 'claims must be a JSON object, a string or null');
      }
      admin.requireInteraction(oid, claims as string | Record<string, unknown> | null);
      return sendJson(res, 200, { oid, required: claims !== null });
    }
    case 'POST fail': {
      const body = await readJsonObject(req);
      const count = integer(body, 'count', 0, 1_000_000);
      const status = integer(body, 'status', 400, 599);
      const retryAfter = body.retryAfter === undefined ? undefined : integer(body, 'retryAfter', 0, 86_400);
      const clientId = optionalString(body, 'client_id');
      const error = optionalString(body, 'error');
      const oauth = error === undefined ? undefined : { error, aadsts: integer(body, 'aadsts', 0, 99_999_999) };
      admin.failNext(count, status, retryAfter, clientId, oauth);
      return sendJson(res, 200, { count, status, retryAfter, client_id: clientId, ...(oauth ?? {}) });
    }
    case 'POST mint': {
      const body = await readJsonObject(req);
      const claims = body.claims;
      if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
        throw new HttpError(400, 'claims must be a JSON object');
      }
      const opts: MintOptions = {};
      if (body.expiresInSeconds !== undefined) opts.expiresInSeconds = integer(body, 'expiresInSeconds', -1e9, 1e9);
      if (body.notBeforeSeconds !== undefined) opts.notBeforeSeconds = integer(body, 'notBeforeSeconds', -1e9, 1e9);
      return sendJson(res, 200, { token: await admin.mint(claims as Record<string, unknown>, opts) });
    }
    case 'POST approve-device': {
      const body = await readJsonObject(req);
      const userCode = requiredString(body, 'user_code');
      return sendDecision(res, userCode, admin.approveDevice(userCode, requiredString(body, 'login_hint')));
    }
    case 'POST decline-device': {
      const body = await readJsonObject(req);
      const userCode = requiredString(body, 'user_code');
      return sendDecision(res, userCode, admin.declineDevice(userCode));
    }
    case 'POST critical-event': {
      const body = await readJsonObject(req);
      const kind = body.kind;
      if (!CRITICAL_EVENT_KINDS.includes(kind as CriticalEventKind)) {
        throw new HttpError(400, `kind must be one of ${CRITICAL_EVENT_KINDS.join(', ')}`);
      }
      const { event, revoked } = admin.criticalEvent(
        requiredString(body, 'oid'),
        kind as CriticalEventKind,
        optionalString(body, 'tid'),
      );
      return sendJson(res, 200, { ...event, revoked });
    }
    case 'GET critical-events':
      return sendJson(res, 200, { events: admin.criticalEvents() });
    case 'POST strict-rotation': {
      const body = await readJsonObject(req);
      if (typeof body.enabled !== 'boolean') throw new HttpError(400, 'enabled must be true or false');
      const clientId = optionalString(body, 'client_id');
      admin.strictRefreshTokenRotation(body.enabled, clientId);
      return sendJson(res, 200, { enabled: body.enabled, client_id: clientId });
    }
    case 'POST optional-claims': {
      const body = await readJsonObject(req);
      const resource = requiredString(body, 'resource');
      if (typeof body.xms_cc !== 'boolean') throw new HttpError(400, 'xms_cc must be true or false');
      admin.requestXmsCc(resource, body.xms_cc);
      return sendJson(res, 200, { resource, xms_cc: body.xms_cc });
    }
    case 'POST secrets-mark':
      return sendJson(res, 200, { mark: admin.secretsMark() });
    case 'GET secrets': {
      const since = url.searchParams.get('since') ?? '0';
      if (!/^\d{1,15}$/.test(since)) throw new HttpError(400, 'since must be a mark (a non-negative integer)');
      return sendJson(res, 200, admin.secrets(Number(since)));
    }
    default:
      throw new HttpError(404, `No admin endpoint ${route}`);
  }
}

function sendDecision(res: ServerResponse, userCode: string, decision: DeviceDecision): void {
  switch (decision.status) {
    case 'approved': {
      const { user, clientId } = decision;
      const { oid, tid, username } = user;
      return sendJson(res, 200, { user_code: userCode, approved: true, client_id: clientId, oid, tid, username });
    }
    case 'declined':
      return sendJson(res, 200, { user_code: userCode, approved: false, client_id: decision.clientId });
    case 'unknown':
      throw new HttpError(404, `No device code has the user code ${userCode}`);
    case 'expired':
      throw new HttpError(409, `The device code with the user code ${userCode} has expired`);
    case 'used':
      throw new HttpError(409, `The device code with the user code ${userCode} was already approved or declined`);
    case 'no_such_user':
      throw new HttpError(400, 'No such user');
  }
}

function requiredString(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (typeof value !== 'string' || !value) throw new HttpError(400, `${name} must be a non-empty string`);
  return value;
}

function optionalString(body: Record<string, unknown>, name: string): string | undefined {
  return body[name] === undefined || body[name] === null ? undefined : requiredString(body, name);
}

function integer(body: Record<string, unknown>, name: string, min: number, max: number): number {
  const value = body[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new HttpError(400, `${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}
