/**
 * `npm run screenshot` (with `npm start` running): a person's sign-in in headless Chromium — home, the local
 * authority's account picker, the profile page, and the profile again (served from the token cache) — saved as PNG
 * files in `.local/screenshots/`. Needs Chromium (Debian: `apt-get install chromium`; or CHROMIUM_PATH).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.APP_URL ?? 'http://localhost:7071';
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
  } finally {
    await browser.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
