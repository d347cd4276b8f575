export interface InjectedFailure {
  readonly status: number;
  readonly retryAfter?: number;
  /**
   * The OAuth error and Entra error code to answer with; default by status (429 too_many_requests, 5xx
   * temporarily_unavailable). E.g. `{ error: 'invalid_grant', aadsts: 50196 }`: Entra's throttling of a user flow.
   */
  readonly oauth?: { readonly error: string; readonly aadsts: number };
}

interface Armed {
  remaining: number;
  readonly failure: InjectedFailure;
}

/** The next N token requests fail with the given status: those of one client id, or anyone's. */
export class FailureInjector {
  #forAll: Armed | undefined;
  readonly #byClient = new Map<string, Armed>();

  /** Replaces what was armed for `clientId` (or for everyone); a count of 0 disarms. */
  arm(count: number, failure: InjectedFailure, clientId?: string): void {
    const armed = count > 0 ? { remaining: count, failure } : undefined;
    if (clientId === undefined) this.#forAll = armed;
    else if (armed) this.#byClient.set(clientId, armed);
    else this.#byClient.delete(clientId);
  }

  /** The failure the current request must answer with, if any; a client's own failures go first. */
  take(clientId: string | undefined): InjectedFailure | undefined {
    const own = clientId === undefined ? undefined : this.#byClient.get(clientId);
    if (own) {
      if (--own.remaining <= 0) this.#byClient.delete(clientId!);
      return own.failure;
    }
    const forAll = this.#forAll;
    if (!forAll) return undefined;
    if (--forAll.remaining <= 0) this.#forAll = undefined;
    return forAll.failure;
  }
}
