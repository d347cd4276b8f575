/** Every secret the authority handed out or was handed, so that a test can search logs for each of them. */
export type SecretKind =
  | 'access_token'
  | 'id_token'
  | 'refresh_token'
  | 'authorization_code'
  | 'code_verifier'
  | 'device_code'
  | 'user_code'
  | 'client_secret'
  | 'minted_token';

export interface SecretEntry {
  /** What it was when first seen (a minted token later received as an assertion stays `minted_token`). */
  readonly kind: SecretKind;
  readonly value: string;
  /** Order of last sight over the authority's life: 1, 2, 3… */
  readonly sequence: number;
}

export interface SecretListing {
  /** Pass it as `since` to list only what comes after this listing. */
  readonly mark: number;
  /** Entries after `since` were dropped to bound memory: the listing is incomplete. */
  readonly truncated: boolean;
  readonly secrets: SecretEntry[];
}

export const DEFAULT_SECRET_LOG_LIMIT = 10_000;

/**
 * The `limit` most recently seen distinct secrets, each once: a refresh token issued, then redeemed, is one entry,
 * listed after any mark taken before it was redeemed.
 */
export class SecretLog {
  /** In order of last sight. */
  readonly #byValue = new Map<string, SecretEntry>();
  #sequence = 0;
  #lastDropped = 0;

  constructor(readonly limit = DEFAULT_SECRET_LOG_LIMIT) {}

  record(kind: SecretKind, value: string | null | undefined): void {
    if (!value) return;
    const seen = this.#byValue.get(value);
    this.#byValue.delete(value);
    this.#byValue.set(value, { kind: seen?.kind ?? kind, value, sequence: ++this.#sequence });
    if (this.#byValue.size <= this.limit) return;
    const oldest = this.#byValue.values().next().value!;
    this.#byValue.delete(oldest.value);
    this.#lastDropped = oldest.sequence;
  }

  /** The sequence of the last sight so far. */
  mark(): number {
    return this.#sequence;
  }

  /** The secrets seen after `since` (0: all that are kept), in order of last sight. */
  since(since = 0): SecretListing {
    const secrets = [...this.#byValue.values()].filter((entry) => entry.sequence > since);
    return { mark: this.#sequence, truncated: this.#lastDropped > since, secrets };
  }
}
