/**
 * A latch on the token endpoint, for tests of races: a held client's token requests stop after their grant was
 * decided (tokens signed, the refresh token redeemed) and before the answer is completed and sent.
 */
export interface TokenHold {
  /** Requests waiting now. */
  held(): number;
  /** Resolves once at least `count` requests are waiting. */
  whenHeld(count: number): Promise<void>;
  /** Lets the waiting requests go on and removes the hold. */
  release(): void;
}

interface Hold {
  readonly waiting: (() => void)[];
  readonly watchers: { readonly count: number; readonly resolve: () => void }[];
}

export class TokenHolds {
  readonly #byClient = new Map<string, Hold>();

  /** Holds the token requests of `clientId` from now on (one hold per client id). */
  hold(clientId: string): TokenHold {
    if (this.#byClient.has(clientId)) throw new Error(`token requests of ${clientId} are already held`);
    const hold: Hold = { waiting: [], watchers: [] };
    this.#byClient.set(clientId, hold);
    return {
      held: () => hold.waiting.length,
      whenHeld: (count) =>
        hold.waiting.length >= count
          ? Promise.resolve()
          : new Promise((resolve) => hold.watchers.push({ count, resolve })),
      release: () => {
        if (this.#byClient.get(clientId) === hold) this.#byClient.delete(clientId);
        for (const go of hold.waiting.splice(0)) go();
      },
    };
  }

  /** Where the token endpoint waits: undefined (go on at once) unless `clientId` is held. */
  pass(clientId: string | undefined): Promise<void> | undefined {
    const hold = clientId === undefined ? undefined : this.#byClient.get(clientId);
    if (!hold) return undefined;
    return new Promise((resolve) => {
      hold.waiting.push(resolve);
      for (const watcher of [...hold.watchers]) {
        if (hold.waiting.length < watcher.count) continue;
        hold.watchers.splice(hold.watchers.indexOf(watcher), 1);
        watcher.resolve();
      }
    });
  }
}
