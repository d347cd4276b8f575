import { escapeHtml } from '../http/responses.js';

const STYLE = `body{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}
table{border-collapse:collapse}td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}
a.button,button{display:inline-block;padding:.5rem 1rem;border:1px solid #0067b8;border-radius:4px;background:#0067b8;color:#fff;text-decoration:none;font:inherit;cursor:pointer}
form.inline{display:inline}.actions{margin:1rem 0}.muted{color:#666}.notice{padding:.6rem .8rem;border-left:4px solid #0067b8;background:#eef5fc}`;

/** A page of the web app; `head` adds elements to its head (already escaped). */
export function page(title: string, body: string, head = ''): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style>${head}</head><body>${body}</body></html>`;
}

/** The sign-out button: a same-origin form post (a link would let any site sign the person out). */
export const SIGN_OUT_FORM =
  '<form class="inline" method="post" action="/api/auth/logout"><button type="submit">Sign out</button></form>';
