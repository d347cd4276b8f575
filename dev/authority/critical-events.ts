/**
 * Continuous Access Evaluation's critical events, as the local authority plays them:
 * - `revoke_session`: the user's refresh tokens are revoked, an on-behalf-of assertion issued before the event is
 *   refused, and CAE-aware resource APIs reject the user's CAE tokens issued before it. Only an interactive sign-in
 *   (authorization code, device code) gets tokens again.
 * - `reissue` (an IP or policy change the authority can satisfy silently): resource APIs reject the user's CAE tokens
 *   issued before it; any later grant, typically one carrying the resource's claims challenge, gets a new token.
 */
export type CriticalEventKind = 'revoke_session' | 'reissue';

export const CRITICAL_EVENT_KINDS: readonly CriticalEventKind[] = ['revoke_session', 'reissue'];

export interface CriticalEvent {
  readonly kind: CriticalEventKind;
  /** Lower case. */
  readonly oid: string;
  /** Lower case; absent: the user in every tenant. */
  readonly tid?: string;
  /**
   * Epoch seconds: the first whole second after the event. A token issued before it (`iat < at`) predates the event;
   * the authority issues the user's tokens no earlier than `at`, so `iat` alone tells before from after.
   */
  readonly at: number;
}

/** What a CAE-aware resource API (the local downstream API) needs from the authority. */
export interface CriticalEventFeed {
  /** The authorize endpoint a claims challenge names (`authorization_uri`). */
  readonly authorizationUri: string;
  /** The user's latest critical event in tenant `tid` (events without a tenant count everywhere). */
  latest(oid: string, tid: string): CriticalEvent | undefined;
}

/** The latest event of each kind per user and tenant: bounded by the number of users. */
export class CriticalEvents {
  readonly #byOid = new Map<string, Map<string, CriticalEvent>>();

  /** `onChange` runs after every event recorded. */
  constructor(private readonly onChange: () => void = () => {}) {}

  record(kind: CriticalEventKind, oid: string, tid?: string): CriticalEvent {
    const event: CriticalEvent = {
      kind,
      oid: oid.toLowerCase(),
      ...(tid ? { tid: tid.toLowerCase() } : {}),
      at: Math.floor(Date.now() / 1000) + 1,
    };
    this.#add(event);
    this.onChange();
    return event;
  }

  /** The latest event (of `kind`, when given) that applies to the user in tenant `tid`; a revocation wins a tie. */
  latest(oid: string, tid: string, kind?: CriticalEventKind): CriticalEvent | undefined {
    let latest: CriticalEvent | undefined;
    for (const event of this.#byOid.get(oid.toLowerCase())?.values() ?? []) {
      if (event.tid !== undefined && event.tid !== tid.toLowerCase()) continue;
      if (kind !== undefined && event.kind !== kind) continue;
      const later = !latest || event.at > latest.at || (event.at === latest.at && event.kind === 'revoke_session');
      if (later) latest = event;
    }
    return latest;
  }

  all(): CriticalEvent[] {
    return [...this.#byOid.values()].flatMap((events) => [...events.values()]);
  }

  /** Adds events saved by an earlier run. */
  restore(events: readonly CriticalEvent[]): void {
    for (const event of events) this.#add(event);
  }

  #add(event: CriticalEvent): void {
    let events = this.#byOid.get(event.oid);
    if (!events) this.#byOid.set(event.oid, (events = new Map<string, CriticalEvent>()));
    const key = `${event.tid ?? '*'}\u0000${event.kind}`;
    const previous = events.get(key);
    if (!previous || previous.at <= event.at) events.set(key, event);
  }
}

/** Resolves once the clock has reached `epochSeconds` (at once when it has). */
export async function reachSecond(epochSeconds: number): Promise<void> {
  const wait = epochSeconds * 1000 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}
