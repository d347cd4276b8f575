import type { DevUser } from './users.js';

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; color: #1b1b1b; }
  h1 { font-size: 1.4rem; }
  .note { color: #616161; font-size: 0.9rem; }
  button { display: block; width: 100%; margin: 0.5rem 0; padding: 0.7rem; text-align: left; font-size: 1rem;
    background: #fff; border: 1px solid #8a8886; border-radius: 4px; cursor: pointer; }
  button:hover { background: #f3f2f1; }
  .user small { display: block; color: #616161; }
  input[type=text] { width: 100%; box-sizing: border-box; padding: 0.6rem; font-size: 1rem; }
  code { background: #f3f2f1; padding: 0 0.2rem; }
</style>
</head>
<body>
${body}
</body>
</html>
`;
}

function hiddenFields(params: URLSearchParams): string {
  return [...params]
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
}

/** One submit button per dev user (the forms post the chosen user's oid), its label led by `verb` when given. */
function userButtons(users: readonly DevUser[], verb?: string): string {
  const lead = verb ? `${escapeHtml(verb)}: ` : '';
  return users
    .map(
      (u) =>
        `<button class="user" type="submit" name="user" value="${escapeHtml(u.oid)}">` +
        `${lead}${escapeHtml(u.name)}<small>${escapeHtml(u.username)}</small></button>`,
    )
    .join('\n');
}

/** The account picker: one button per dev user, plus a free-form username. No passwords. */
export function signInPage(actionUrl: string, params: URLSearchParams, users: readonly DevUser[]): string {
  const fields = hiddenFields(params);
  const buttons = userButtons(users);
  return page(
    'Sign in to the local authority',
    `<h1>Sign in to the local authority</h1>
<p class="note">Development only: pick an account, no password is asked. Application <code>${escapeHtml(params.get('client_id') ?? '')}</code>.</p>
<form method="post" action="${escapeHtml(actionUrl)}">
${fields}
${buttons}
</form>
<form method="post" action="${escapeHtml(actionUrl)}">
${fields}
<p><label for="login_hint">Or another account (created on first use):</label></p>
<input type="text" id="login_hint" name="login_hint" placeholder="someone@dev.localhost" required>
<button type="submit">Sign in</button>
</form>`,
  );
}

/** response_mode=form_post: a page that posts the result to the redirect URI. */
export function formPostPage(redirectUri: string, fields: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) params.set(name, value);
  return page(
    'Signing in',
    `<form method="post" action="${escapeHtml(redirectUri)}" id="result">
${hiddenFields(params)}
<noscript><button type="submit">Continue</button></noscript>
</form>
<script>document.getElementById('result').submit();</script>`,
  );
}

export function errorPage(reason: string): string {
  return page('Sign-in error', `<h1>Sign-in error</h1>\n<p>${escapeHtml(reason)}</p>`);
}

export function signedOutPage(): string {
  return page('Signed out', '<h1>Signed out</h1>\n<p>You have signed out of the local authority.</p>');
}

/** The device sign-in page before a code is entered (or after a wrong one). */
export function deviceCodeEntryPage(actionUrl: string, loginHint: string | undefined, problem?: string): string {
  const hint = loginHint ? `<input type="hidden" name="login_hint" value="${escapeHtml(loginHint)}">\n` : '';
  return page(
    'Enter code',
    `<h1>Enter code</h1>
<p class="note">Development only: enter the code your device or command-line application shows.</p>
${problem ? `<p><strong>${escapeHtml(problem)}</strong></p>\n` : ''}<form method="post" action="${escapeHtml(actionUrl)}">
${hint}<input type="text" name="user_code" autocomplete="off" autocapitalize="characters" required autofocus>
<button type="submit">Next</button>
</form>`,
  );
}

/** The account picker of a device sign-in: like the authorize picker, plus a button that declines. */
export function devicePickerPage(
  actionUrl: string,
  userCode: string,
  clientId: string,
  users: readonly DevUser[],
): string {
  const code = `<input type="hidden" name="user_code" value="${escapeHtml(userCode)}">`;
  const buttons = userButtons(users);
  return page(
    'Sign in on another device',
    `<h1>Sign in on another device</h1>
<p class="note">Development only: pick an account, no password is asked. Application <code>${escapeHtml(clientId)}</code> asked for code <code>${escapeHtml(userCode)}</code>.</p>
<form method="post" action="${escapeHtml(actionUrl)}">
${code}
${buttons}
</form>
<form method="post" action="${escapeHtml(actionUrl)}">
${code}
<p><label for="login_hint">Or another account (created on first use):</label></p>
<input type="text" id="login_hint" name="login_hint" placeholder="someone@dev.localhost" required>
<button type="submit">Sign in</button>
</form>
<form method="post" action="${escapeHtml(actionUrl)}">
${code}
<button type="submit" name="decision" value="decline">Cancel: do not sign in</button>
</form>`,
  );
}

/** After a device sign-in was approved or declined. */
export function deviceDonePage(username: string | undefined): string {
  return username
    ? page(
        'Signed in',
        `<h1>Signed in</h1>\n<p>You signed in as <code>${escapeHtml(username)}</code> on your device. You can close this window.</p>`,
      )
    : page('Sign-in cancelled', '<h1>Sign-in cancelled</h1>\n<p>Your device was not signed in.</p>');
}

/** The dev users, each with a button that revokes their session (a critical event); `notice` says what was done. */
export function sessionsPage(actionUrl: string, users: readonly DevUser[], notice?: string): string {
  return page(
    'Sessions',
    `<h1>Sessions</h1>
<p class="note">Development only: revoking a session revokes the user's refresh tokens, and CAE-aware APIs (the local downstream API) reject their tokens issued before it. The user must sign in again.</p>
${notice ? `<p><strong>${escapeHtml(notice)}</strong></p>\n` : ''}<form method="post" action="${escapeHtml(actionUrl)}">
${userButtons(users, 'Revoke session')}
</form>`,
  );
}

export function forbiddenPage(reason: string): string {
  return page('Forbidden', `<h1>Forbidden</h1>\n<p>${escapeHtml(reason)}</p>`);
}
