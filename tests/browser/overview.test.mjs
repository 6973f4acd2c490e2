// The Overview page against the real server: it shows the status and version
// that /api/v1/health reports, at desktop and phone sizes, without errors.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launchBrowser, openPage } from './lib/browser.mjs';
import { startServer } from './lib/server.mjs';

const OUTPUT_DIR = resolve(import.meta.dirname, '../output');

const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800, isMobile: false },
  { name: 'phone', width: 390, height: 844, isMobile: true },
];

describe('overview', () => {
  let server;
  let browser;
  let health;

  before(async () => {
    await mkdir(OUTPUT_DIR, { recursive: true });
    server = await startServer();
    const response = await fetch(`${server.url}/api/v1/health`);
    assert.equal(response.status, 200);
    health = await response.json();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  for (const viewport of VIEWPORTS) {
    test(`shows the server's status and version (${viewport.width}×${viewport.height})`, async () => {
      const { context, page, problems } = await openPage(browser, {
        viewport: { width: viewport.width, height: viewport.height },
        isMobile: viewport.isMobile,
        hasTouch: viewport.isMobile,
      });
      try {
        await page.goto(`${server.url}/`);
        const status = page.getByTestId('server-status');
        await status.waitFor({ timeout: 15_000 });
        assert.equal((await status.textContent()).trim(), health.status);
        assert.equal(health.status, 'ok');
        const version = (await page.getByTestId('server-version').textContent()).trim();
        assert.equal(version, health.version);

        await page.getByRole('heading', { name: 'Overview' }).waitFor();
        const nav = page.getByRole('navigation', { name: 'Main' });
        for (const label of ['Overview', 'Tags', 'Audience', 'Segments', 'Trends', 'Split', 'Lookup']) {
          assert.ok(await nav.getByText(label, { exact: true }).isVisible(), `nav shows ${label}`);
        }
        // Nothing wider than the screen (no sideways scrolling of the page).
        const overflow = await page.evaluate(
          () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
        );
        assert.equal(overflow, 0, 'page is not wider than the viewport');

        await page.screenshot({
          path: resolve(OUTPUT_DIR, `overview-${viewport.width}x${viewport.height}.png`),
          fullPage: true,
        });
        assert.deepEqual(problems, []);
      } finally {
        await context.close();
      }
    });
  }

  test('a failing health check shows the error, and Retry recovers', async () => {
    const { context, page, problems } = await openPage(browser);
    try {
      await page.route('**/api/v1/health', (route) =>
        route.fulfill({
          status: 503,
          contentType: 'application/json',
          body: JSON.stringify({ error: 'starting up' }),
        }),
      );
      await page.goto(`${server.url}/`);
      const status = page.getByTestId('server-status');
      await status.waitFor({ timeout: 15_000 });
      assert.equal((await status.textContent()).trim(), 'error');
      assert.match(await page.getByRole('alert').textContent(), /503: starting up/);

      await page.unroute('**/api/v1/health');
      await page.getByRole('button', { name: 'Retry' }).click();
      await page.getByTestId('server-version').waitFor({ timeout: 15_000 });
      assert.equal((await status.textContent()).trim(), 'ok');
      // The browser logs the 503 itself; nothing else may go wrong.
      assert.deepEqual(
        problems.filter((problem) => !problem.includes('503')),
        [],
      );
    } finally {
      await context.close();
    }
  });

  test('a deep link to an app page is answered with the app', async () => {
    const { context, page, problems } = await openPage(browser);
    try {
      const response = await page.goto(`${server.url}/segments`);
      assert.equal(response.status(), 200);
      await page.getByRole('heading', { name: 'Segments' }).waitFor({ timeout: 15_000 });
      // Without a token, the page asks to sign in.
      await page.getByTestId('needs-signin').waitFor({ timeout: 15_000 });
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
