/**
 * `npm run screenshot` (with `npm start` running): a person's visit in headless Chromium — home, the local
 * authority's account picker, the profile page, the profile again (served from the token cache); then their session
 * revoked on the authority's sessions page (Continuous Access Evaluation), the profile reloaded (the downstream API's
 * claims challenge sends them to sign in again) and back; then sign-out (a same-origin POST) back to home — saved as
 * PNG files in `.local/screenshots/`. Needs Chromium (Debian: `apt-get install chromium`; or CHROMIUM_PATH).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.APP_URL ?? 'http://localhost:7071';
const sessions = process.env.AUTHORITY_SESSIONS_URL ?? 'http://127.0.0.1:7073/_dev/sessions';
const folder = join(process.cwd(), '.local', 'screenshots');

async function main(): Promise<void> {
  await mkdir(folder, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    // Background networking off: this machine reaches no host but loopback.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage();
    const shot = async (name: string) => {
      const path = join(folder, name);
      await page.screenshot({ path });
      console.log(`${path}  (${page.url()})`);
    };
    await page.goto(`${base}/api/home`);
    await shot('1-home.png');
    await page.click('text=Sign in');
    await page.waitForLoadState();
    await shot('2-sign-in.png');
    await page.click('button >> nth=0');
    await page.waitForURL('**/api/profile');
    await shot('3-profile.png');
    await page.reload();
    const note = await page.textContent('p.muted');
    await shot('4-profile-again.png');
    if (!note?.includes('served from the token cache'))
      throw new Error(`the second profile was not served from the cache: ${note}`);

    await page.goto(sessions);
    await shot('5-authority-sessions.png');
    await page.click('button >> nth=0');
    await page.waitForLoadState();
    await shot('6-session-revoked.png');
    await page.goto(`${base}/api/profile`);
    await page.waitForLoadState();
    await shot('7-sign-in-again.png');
    await page.click('button >> nth=0');
    await page.waitForURL('**/api/profile');
    await shot('8-profile-after-challenge.png');
    if (!(await page.textContent('p.notice'))?.includes('signed in again'))
      throw new Error('the profile after the claims sign-in does not say so');

    await page.click('text=Sign out');
    await page.waitForURL('**/api/home', { timeout: 15_000 });
    await shot('9-signed-out.png');
    if (!(await page.textContent('body'))?.includes('Sign in')) throw new Error('home still shows a session');
  } finally {
    await browser.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
