import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseClaims } from './claims.js';
import type { RequestCounters } from './counters.js';
import type { DeviceCodeStore, UserCodeLookup } from './device-codes.js';
import { entraErrorBody, invalidRequest, missingParameter, OAuthError } from './errors.js';
import { HttpError, readForm, sendHtml, sendJson } from './http.js';
import { newTraceId, tenantIdFor } from './ids.js';
import { deviceCodeEntryPage, deviceDonePage, devicePickerPage } from './pages.js';
import { parseUserScopes, splitScopes } from './scopes.js';
import type { SecretLog } from './secrets.js';
import type { SignedInUser, UserDirectory } from './users.js';

export interface DeviceFlowDeps {
  readonly devices: DeviceCodeStore;
  readonly users: UserDirectory;
  readonly counters: RequestCounters;
  readonly intervalSeconds: number;
  /** The origin of the pages a browser opens (the verification page is one). */
  readonly browserUrl: string;
  readonly secrets: SecretLog;
}

export function verificationUri(browserUrl: string, tenant: string): string {
  return `${browserUrl}/${tenant}/oauth2/v2.0/deviceauth`;
}

/** POST /{tenant}/oauth2/v2.0/devicecode: client_id and scope in, Entra's device authorization response out. */
export async function handleDeviceCode(
  req: IncomingMessage,
  res: ServerResponse,
  tenant: string,
  deps: DeviceFlowDeps,
): Promise<void> {
  const correlationId = headerValue(req, 'client-request-id');
  const headers: Record<string, string> = { 'x-ms-request-id': newTraceId() };
  if (correlationId) headers['client-request-id'] = correlationId;
  try {
    let form: URLSearchParams;
    try {
      form = await readForm(req);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      deps.counters.count('devicecode', undefined);
      throw invalidRequest(900144, e.message);
    }
    const clientId = form.get('client_id');
    deps.counters.count('devicecode', clientId ?? undefined);
    if (!clientId) throw missingParameter('client_id');
    const scope = form.get('scope');
    if (!scope) throw missingParameter('scope');
    parseUserScopes(scope);
    const claims = parseClaims(form.get('claims'));
    // Public clients send no secret here; Entra ignores one sent anyway (it is checked at the token endpoint).
    const tid = tenantIdFor(tenant);
    const issued = deps.devices.issue({ clientId, tenant, tid, scopes: splitScopes(scope), claims });
    deps.secrets.record('device_code', issued.deviceCode);
    deps.secrets.record('user_code', issued.userCode);
    const uri = verificationUri(deps.browserUrl, tenant);
    sendJson(
      res,
      200,
      {
        user_code: issued.userCode,
        device_code: issued.deviceCode,
        verification_uri: uri,
        expires_in: issued.expiresIn,
        interval: deps.intervalSeconds,
        message: `To sign in, use a web browser to open the page ${uri} and enter the code ${issued.userCode} to authenticate.`,
      },
      headers,
    );
  } catch (e) {
    if (!(e instanceof OAuthError)) throw e;
    sendJson(res, e.status, entraErrorBody(e, correlationId), headers);
  }
}

export type DeviceDecision =
  | { readonly status: 'approved'; readonly user: SignedInUser; readonly clientId: string }
  | { readonly status: 'declined'; readonly clientId: string }
  | { readonly status: 'unknown' | 'expired' | 'used' | 'no_such_user' };

/**
 * Approves a pending user code for a user — by oid (a picker button) or login hint (a configured user's username
 * or oid; another hint creates that user, as the authorize picker does) — or declines it when neither is given.
 * `tenant`, when given, is the tenant segment of the page: a code of another tenant is unknown there.
 */
export function decideDevice(
  deps: Pick<DeviceFlowDeps, 'devices' | 'users'>,
  userCode: string,
  who: { readonly oid?: string; readonly loginHint?: string } | 'decline',
  tenant?: string,
): DeviceDecision {
  const found = lookupFor(deps.devices, userCode, tenant);
  if (found.status !== 'pending') return found;
  const { tid, clientId } = found.request;
  if (who === 'decline') {
    deps.devices.decide(found.userCode, undefined);
    return { status: 'declined', clientId };
  }
  const user = who.oid
    ? deps.users.byOid(tid, who.oid)
    : who.loginHint
      ? deps.users.byLoginHint(tid, who.loginHint)
      : undefined;
  if (!user) return { status: 'no_such_user' };
  deps.devices.decide(found.userCode, user);
  return { status: 'approved', user, clientId };
}

function lookupFor(devices: DeviceCodeStore, userCode: string, tenant: string | undefined): UserCodeLookup {
  const found = devices.lookup(userCode);
  if (found.status === 'pending' && tenant !== undefined && found.request.tid !== tenantIdFor(tenant)) {
    return { status: 'unknown' };
  }
  return found;
}

const LOOKUP_PROBLEMS = {
  unknown: 'That code is not valid. Check it and try again.',
  expired: 'That code has expired. Ask your application for a new one.',
  used: 'That code has already been used.',
  no_such_user: 'No account was chosen, or the chosen account does not exist.',
} as const;

/**
 * GET/POST /{tenant}/oauth2/v2.0/deviceauth: the verification page. Without a user code: a form to enter it.
 * With a pending one: the account picker (or, with `login_hint`, that account at once), or `decision=decline`.
 */
export async function handleDeviceAuth(
  req: IncomingMessage,
  res: ServerResponse,
  tenant: string,
  url: URL,
  deps: DeviceFlowDeps,
): Promise<void> {
  deps.counters.countOther();
  const params = req.method === 'POST' ? await readForm(req) : url.searchParams;
  const userCode = params.get('user_code')?.trim();
  const loginHint = params.get('login_hint')?.trim() || undefined;
  const action = url.pathname;
  if (!userCode) return sendHtml(res, 200, deviceCodeEntryPage(action, loginHint));

  const found = lookupFor(deps.devices, userCode, tenant);
  if (found.status !== 'pending') {
    return sendHtml(res, 400, deviceCodeEntryPage(action, loginHint, LOOKUP_PROBLEMS[found.status]));
  }
  const oid = req.method === 'POST' ? params.get('user') || undefined : undefined;
  const decline = req.method === 'POST' && params.get('decision') === 'decline';
  if (!decline && !oid && !loginHint) {
    const users = deps.users.listFor(found.request.tid);
    return sendHtml(res, 200, devicePickerPage(action, found.userCode, found.request.clientId, users));
  }
  const decided = decideDevice(deps, found.userCode, decline ? 'decline' : { oid, loginHint }, tenant);
  switch (decided.status) {
    case 'approved':
      return sendHtml(res, 200, deviceDonePage(decided.user.username));
    case 'declined':
      return sendHtml(res, 200, deviceDonePage(undefined));
    default:
      return sendHtml(res, 400, deviceCodeEntryPage(action, undefined, LOOKUP_PROBLEMS[decided.status]));
  }
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
