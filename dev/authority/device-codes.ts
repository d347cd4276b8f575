import { randomInt } from 'node:crypto';
import type { ClaimsRequest } from './claims.js';
import { opaqueToken } from './ids.js';
import type { SignedInUser } from './users.js';

/** Entra's default: the user has 15 minutes to sign in. */
export const DEVICE_CODE_LIFETIME_SECONDS = 900;
/**
 * Entra asks for 5 seconds between polls; the local authority asks for 1 so that a sign-in (and a test) completes
 * quickly. msal-node waits exactly `interval` seconds between polls.
 */
export const DEVICE_CODE_INTERVAL_SECONDS = 1;

/** No 0/O, 1/I/L: codes a person types from another screen. */
const USER_CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
const USER_CODE_LENGTH = 9;

export interface DeviceCodeRequest {
  readonly clientId: string;
  /** The tenant segment of the path the code was requested on. */
  readonly tenant: string;
  /** The tenant id its user signs in to. */
  readonly tid: string;
  readonly scopes: readonly string[];
  /** The `claims` parameter of the device authorization request. */
  readonly claims: ClaimsRequest;
}

type DeviceState =
  | { readonly status: 'pending' }
  | { readonly status: 'approved'; readonly user: SignedInUser }
  | { readonly status: 'declined' }
  | { readonly status: 'redeemed' };

interface DeviceEntry {
  readonly request: DeviceCodeRequest;
  readonly deviceCode: string;
  readonly userCode: string;
  readonly expiresAt: number;
  state: DeviceState;
}

/** What a poll of the token endpoint with a device code finds. */
export type DevicePoll =
  | { readonly status: 'approved'; readonly request: DeviceCodeRequest; readonly user: SignedInUser }
  | { readonly status: 'pending' | 'declined' | 'expired' | 'redeemed'; readonly request: DeviceCodeRequest }
  /** Issued to another client id, or in another tenant: the poll changes nothing. */
  | { readonly status: 'mismatch'; readonly request: DeviceCodeRequest }
  | { readonly status: 'unknown' };

/** What the verification page (or the admin endpoint) finds for a user code. */
export type UserCodeLookup =
  | { readonly status: 'pending'; readonly request: DeviceCodeRequest; readonly userCode: string }
  | { readonly status: 'unknown' | 'expired' | 'used' };

export interface IssuedDeviceCode {
  readonly deviceCode: string;
  readonly userCode: string;
  readonly expiresIn: number;
}

/** `9XK4-CFJ6X`, ` 9xk4cfj6x ` → `9XK4CFJ6X`: what a person types is compared without case, spaces or dashes. */
export function normalizeUserCode(value: string): string {
  return value.replace(/[\s-]+/g, '').toUpperCase();
}

/**
 * Device authorizations (RFC 8628, as Entra runs it): a device code polled by the client, a user code a person
 * enters on the verification page. Each is approved or declined once, and its tokens are redeemed once.
 */
export class DeviceCodeStore {
  readonly #byDeviceCode = new Map<string, DeviceEntry>();
  readonly #byUserCode = new Map<string, DeviceEntry>();

  constructor(readonly lifetimeSeconds: number = DEVICE_CODE_LIFETIME_SECONDS) {}

  issue(request: DeviceCodeRequest): IssuedDeviceCode {
    this.#sweep();
    let userCode: string;
    do userCode = newUserCode();
    while (this.#byUserCode.has(userCode));
    const entry: DeviceEntry = {
      request,
      deviceCode: opaqueToken(48),
      userCode,
      expiresAt: Date.now() + this.lifetimeSeconds * 1000,
      state: { status: 'pending' },
    };
    this.#byDeviceCode.set(entry.deviceCode, entry);
    this.#byUserCode.set(userCode, entry);
    return { deviceCode: entry.deviceCode, userCode, expiresIn: this.lifetimeSeconds };
  }

  lookup(userCode: string): UserCodeLookup {
    const entry = this.#byUserCode.get(normalizeUserCode(userCode));
    if (!entry) return { status: 'unknown' };
    if (entry.expiresAt <= Date.now()) return { status: 'expired' };
    if (entry.state.status !== 'pending') return { status: 'used' };
    return { status: 'pending', request: entry.request, userCode: entry.userCode };
  }

  /** Approves (with `user`) or declines (without) a pending user code; returns false when it is not pending. */
  decide(userCode: string, user: SignedInUser | undefined): boolean {
    const entry = this.#byUserCode.get(normalizeUserCode(userCode));
    if (!entry || entry.expiresAt <= Date.now() || entry.state.status !== 'pending') return false;
    entry.state = user ? { status: 'approved', user } : { status: 'declined' };
    return true;
  }

  /**
   * A poll by `clientId` in tenant `tid`. An approved device code is redeemed by the poll that finds it so: a
   * second poll finds it `redeemed`.
   */
  poll(deviceCode: string, clientId: string, tid: string): DevicePoll {
    const entry = this.#byDeviceCode.get(deviceCode);
    if (!entry) return { status: 'unknown' };
    const { request, state } = entry;
    if (request.clientId !== clientId || request.tid !== tid) return { status: 'mismatch', request };
    if (state.status === 'redeemed' || state.status === 'declined') return { status: state.status, request };
    if (entry.expiresAt <= Date.now()) return { status: 'expired', request };
    if (state.status === 'pending') return { status: 'pending', request };
    entry.state = { status: 'redeemed' };
    return { status: 'approved', request, user: state.user };
  }

  #sweep(): void {
    // Expired entries stay an hour so that late polls are told `expired_token`, not `bad_verification_code`.
    const horizon = Date.now() - 3600_000;
    for (const [code, entry] of this.#byDeviceCode) {
      if (entry.expiresAt >= horizon) continue;
      this.#byDeviceCode.delete(code);
      this.#byUserCode.delete(entry.userCode);
    }
  }
}

function newUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}
