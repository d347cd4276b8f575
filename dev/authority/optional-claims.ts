/**
 * Which APIs' app registrations request the `xms_cc` optional claim in their access tokens. In Entra the resource
 * controls it: a token for an API that does not request it carries no `xms_cc`, whatever capabilities the client
 * declared, so that API cannot tell its callers handle claims challenges. Here every resource requests it unless
 * told otherwise (`/_admin/optional-claims`).
 */
export class OptionalClaims {
  readonly #withoutXmsCc = new Set<string>();

  setXmsCc(resource: string, requested: boolean): void {
    if (requested) this.#withoutXmsCc.delete(resource.toLowerCase());
    else this.#withoutXmsCc.add(resource.toLowerCase());
  }

  requestsXmsCc(resource: string): boolean {
    return !this.#withoutXmsCc.has(resource.toLowerCase());
  }
}
