/** A minimal cookie jar for tests and load runs: remembers Set-Cookie values by name (Max-Age=0 or empty removes). */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  take(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
  }

  /** Whether it holds the web app's session cookie (with or without a `__Host-` prefix). */
  hasSession(): boolean {
    return [...this.cookies.keys()].some((name) => name.endsWith('msal_session'));
  }
}
