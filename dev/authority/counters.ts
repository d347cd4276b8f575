export type Endpoint = 'token' | 'authorize' | 'devicecode' | 'metadata' | 'jwks' | 'logout';

export interface RequestCounts {
  /** Requests of every counted endpoint (per client: token, authorize, devicecode, logout; globally: all but /_admin). */
  total: number;
  token: number;
  /** Token requests by grant_type (the raw value sent, e.g. `client_credentials`). */
  byGrant: Record<string, number>;
  authorize: number;
  /** Device authorization requests (`/devicecode`). */
  deviceCode: number;
  /** Global: metadata requests carry no client id. */
  metadata: number;
  /** Global: JWKS requests carry no client id. */
  jwks: number;
  logout: number;
}

interface Tally {
  token: number;
  authorize: number;
  devicecode: number;
  logout: number;
  byGrant: Map<string, number>;
}

/** Counts requests per client id so that tests using unique client ids stay isolated from each other. */
export class RequestCounters {
  readonly #global = { metadata: 0, jwks: 0, other: 0 };
  readonly #all: Tally = newTally();
  readonly #byClient = new Map<string, Tally>();

  countMetadata(): void {
    this.#global.metadata++;
  }

  countJwks(): void {
    this.#global.jwks++;
  }

  countOther(): void {
    this.#global.other++;
  }

  count(
    endpoint: 'token' | 'authorize' | 'devicecode' | 'logout',
    clientId: string | undefined,
    grantType?: string,
  ): void {
    const tallies = [this.#all];
    if (clientId) {
      let tally = this.#byClient.get(clientId);
      if (!tally) this.#byClient.set(clientId, (tally = newTally()));
      tallies.push(tally);
    }
    for (const tally of tallies) {
      tally[endpoint]++;
      if (endpoint === 'token') {
        const grant = grantType || '(none)';
        tally.byGrant.set(grant, (tally.byGrant.get(grant) ?? 0) + 1);
      }
    }
  }

  snapshot(clientId?: string): RequestCounts {
    const tally = clientId === undefined ? this.#all : (this.#byClient.get(clientId) ?? newTally());
    const { metadata, jwks, other } = this.#global;
    const ownTotal = tally.token + tally.authorize + tally.devicecode + tally.logout;
    return {
      total: clientId === undefined ? ownTotal + metadata + jwks + other : ownTotal,
      token: tally.token,
      byGrant: Object.fromEntries(tally.byGrant),
      authorize: tally.authorize,
      deviceCode: tally.devicecode,
      metadata,
      jwks,
      logout: tally.logout,
    };
  }
}

function newTally(): Tally {
  return { token: 0, authorize: 0, devicecode: 0, logout: 0, byGrant: new Map() };
}
