import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestCounters, RequestCounts } from './counters.js';
import { decideDevice, type DeviceDecision, type DeviceFlowDeps } from './device.js';
import { HttpError, readJsonObject, sendJson } from './http.js';
import type { MintOptions } from './keys.js';
import type { FailureInjector } from './failures.js';
import type { RefreshTokenStore } from './refresh-tokens.js';
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
}

/** Test and dev controls of the authority, in process; `/_admin/*` serves the same over HTTP. */
export class AuthorityAdmin {
  constructor(
    private readonly counters: RequestCounters,
    private readonly refreshTokenStore: RefreshTokenStore,
    private readonly interaction: InteractionRequirements,
    private readonly failures: FailureInjector,
    readonly mint: (claims: Record<string, unknown>, opts?: MintOptions) => Promise<string>,
    private readonly deviceFlow: Pick<DeviceFlowDeps, 'devices' | 'users'>,
  ) {}

  /**
   * What a person does on the verification page, without a browser: approves the pending device code with this
   * user code for the user `loginHint` names (a dev user's username or oid; another hint creates that user).
   */
  approveDevice(userCode: string, loginHint: string): DeviceDecision {
    return decideDevice(this.deviceFlow, userCode, { loginHint });
  }

  /** Declines the pending device code with this user code: its polls answer `authorization_declined`. */
  declineDevice(userCode: string): DeviceDecision {
    return decideDevice(this.deviceFlow, userCode, 'decline');
  }

  requests(clientId?: string): RequestCounts {
    return this.counters.snapshot(clientId);
  }

  /** The refresh tokens issued to this user for this client, oldest first. */
  refreshTokens(clientId: string, oid: string): RefreshTokenInfo[] {
    return this.refreshTokenStore.list(clientId, oid).map((r) => ({
      token: r.token,
      issuedAt: r.issuedAt.toISOString(),
      sequence: r.sequence,
      issuedBy: r.issuedBy,
      publicClient: r.publicClient,
      revoked: r.revoked,
    }));
  }

  /** Every refresh token of the user (in one tenant if `tid` is given) becomes invalid; returns how many. */
  revoke(oid: string, tid?: string): number {
    return this.refreshTokenStore.revokeUser(oid, tid);
  }

  /** Refresh and OBO requests for the user answer interaction_required with `claims`, until set to null. */
  requireInteraction(oid: string, claims: string | Record<string, unknown> | null): void {
    this.interaction.set(oid, claims === null || typeof claims === 'string' ? claims : JSON.stringify(claims));
  }

  /**
   * The next `count` token requests answer `status` (with Retry-After when given): those of `clientId` only, when
   * given, else anyone's. Replaces what was armed before for the same client id (or for everyone); 0 disarms.
   */
  failNext(count: number, status: number, retryAfter?: number, clientId?: string): void {
    this.failures.arm(count, retryAfter === undefined ? { status } : { status, retryAfter }, clientId);
  }
}

/** /_admin/{requests,refresh-tokens,revoke,require-interaction,fail,mint,approve-device,decline-device} */
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
      admin.failNext(count, status, retryAfter, clientId);
      return sendJson(res, 200, { count, status, retryAfter, client_id: clientId });
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
