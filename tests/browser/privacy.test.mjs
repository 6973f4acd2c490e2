// Privacy and access (issue 18) end to end, against the real server with demo
// data: an admin-role token manages tokens, privacy settings and reads the audit
// log on the Settings page; an aggregate token's builder never asks for a
// full-tier blob, shows counts below the minimum audience as "< k", and offers
// no export, save or lookup. Screenshots go to tests/output/.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launchBrowser, openPage } from './lib/browser.mjs';
import { api, loadDemo } from './lib/demo.mjs';
import { startServer } from './lib/server.mjs';

const OUTPUT_DIR = resolve(import.meta.dirname, '../output');
const ADMIN_TOKEN = 'browser-test-admin-token';
const TIMEOUT_MS = 20_000;
const DESKTOP = { viewport: { width: 1280, height: 900 } };

/** Every full-tier blob address in a manifest or event-days answer (any `full.blob`). */
function fullTierHashes(json, out = new Set()) {
  if (Array.isArray(json)) {
    for (const item of json) fullTierHashes(item, out);
  } else if (json && typeof json === 'object') {
    for (const [key, value] of Object.entries(json)) {
      if (key === 'full' && value && typeof value.blob === 'string') out.add(value.blob);
      fullTierHashes(value, out);
    }
  }
  return out;
}

/** What the app shows for a count below k. */
const below = (k) => `< ${k.toLocaleString('en-US')}`;

describe('privacy and access', () => {
  let server;
  let browser;
  let latestDs;

  before(async () => {
    await mkdir(OUTPUT_DIR, { recursive: true });
    server = await startServer({ adminToken: ADMIN_TOKEN });
    await loadDemo(server.url, ADMIN_TOKEN);
    const { days } = await api(server.url, ADMIN_TOKEN, '/apps/demo/days');
    latestDs = days.at(-1).ds;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** A new token of `role`, made with the server's admin token; answers its secret. */
  async function token(role, name) {
    const created = await api(server.url, ADMIN_TOKEN, '/apps/demo/tokens', {
      method: 'POST',
      body: { role, name },
    });
    return created.token;
  }

  const signIn = async (page, secret) => {
    await page.goto(`${server.url}/signin#app=demo&token=${secret}`);
    await page.waitForURL('**/audience', { timeout: TIMEOUT_MS });
  };
  const shot = async (page, name) => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: resolve(OUTPUT_DIR, `${name}.png`), fullPage: true });
  };
  const real = (problems) =>
    problems.filter((p) => !p.includes('net::ERR_ABORTED') && !p.includes('status of 401'));

  test('an admin token manages tokens and settings, and the audit log shows it', async () => {
    const admin = await token('admin', 'E2E admin');
    const { context, page, problems } = await openPage(browser, DESKTOP);
    try {
      await signIn(page, admin);
      const nav = page.getByRole('navigation', { name: 'Main' });
      await nav.getByRole('link', { name: 'Settings' }).click();
      await page.waitForURL('**/settings');

      // Create a viewer token: its secret is shown once, and it works.
      await page.getByTestId('token-name').fill('E2E viewer');
      await page.getByTestId('token-role').selectOption('viewer');
      await page.getByTestId('create-token').click();
      const secretBox = page.getByTestId('new-secret');
      await secretBox.waitFor({ timeout: TIMEOUT_MS });
      const secret = await secretBox.inputValue();
      assert.ok(secret.length > 10, 'a secret is shown');
      const days = await fetch(`${server.url}/api/v1/apps/demo/days`, {
        headers: { Authorization: `Bearer ${secret}` },
      });
      assert.equal(days.status, 200);
      const row = page.locator('[data-testid="token-row"][data-name="E2E viewer"]');
      await row.waitFor({ timeout: TIMEOUT_MS });
      assert.match(await row.textContent(), /viewer/);
      await shot(page, 'settings-1280x900');

      // Revoke it (after a confirm): the secret is refused at once.
      await row.getByTestId('revoke-token').click();
      await row.getByTestId('confirm-revoke').click();
      await row.waitFor({ state: 'detached', timeout: TIMEOUT_MS });
      const refused = await fetch(`${server.url}/api/v1/apps/demo/days`, {
        headers: { Authorization: `Bearer ${secret}` },
      });
      assert.equal(refused.status, 401);

      // A minimum audience: saved, and the app's settings say it.
      await page.getByTestId('min-audience').fill('250');
      await page.getByTestId('save-privacy').click();
      const audit = page.getByTestId('audit-table');
      await audit.locator('[data-action="change_settings"]').waitFor({ timeout: TIMEOUT_MS });
      const app = await api(server.url, ADMIN_TOKEN, '/apps/demo');
      assert.equal(app.settings.min_audience, 250);
      // The audit log lists the token's creation and revocation and the change.
      for (const action of ['create_token', 'revoke_token', 'change_settings']) {
        assert.ok(
          (await audit.locator(`[data-action="${action}"]`).count()) > 0,
          `the audit log lists ${action}`,
        );
      }
      const revoked = audit.locator('[data-action="revoke_token"]').last();
      assert.match(await revoked.textContent(), /E2E admin/, 'by the admin token');
      // A bad value is refused, next to its field.
      await page.getByTestId('epsilon').fill('-1');
      await page.getByTestId('save-privacy').click();
      await page.locator('[data-testid="privacy-form"] .error-detail').waitFor({ timeout: TIMEOUT_MS });
      await shot(page, 'settings-after-1280x900');
      assert.deepEqual(real(problems).filter((p) => !p.includes('status of 400')), []);
    } finally {
      await context.close();
    }
  });

  test('a viewer token sees no Settings', async () => {
    const viewer = await token('viewer', 'E2E viewer 2');
    const { context, page } = await openPage(browser, DESKTOP);
    try {
      await signIn(page, viewer);
      await page.getByTestId('estimate-card').waitFor();
      const nav = page.getByRole('navigation', { name: 'Main' });
      await nav.getByRole('link', { name: 'Audience' }).waitFor();
      assert.equal(await nav.getByRole('link', { name: 'Settings' }).isVisible(), false);
    } finally {
      await context.close();
    }
  });

  test('an aggregate token gets no full-tier blob, "< k" below k, no export or lookup', async () => {
    // The smallest tag value (by users) and a k above it, well under all users.
    const manifest = await api(server.url, ADMIN_TOKEN, `/apps/demo/days/${latestDs}/manifest`);
    const events = await api(server.url, ADMIN_TOKEN, `/apps/demo/days/${latestDs}/events`);
    const full = fullTierHashes([manifest, events]);
    full.add(manifest.universe.blob);
    const values = manifest.groups
      .filter((g) => !g.numeric)
      .flatMap((g) => g.values.map((v) => ({ group: g.name, value: v.value, count: v.count })))
      .filter((v) => v.count > 0)
      .sort((a, b) => a.count - b.count);
    const small = values[0];
    const k = Math.max(small.count * 4, 200);
    assert.ok(k < manifest.universe.count / 4, `k = ${k} leaves most counts shown`);
    await api(server.url, ADMIN_TOKEN, '/apps/demo', { method: 'PATCH', body: { min_audience: k } });

    const aggregate = await token('aggregate', 'E2E aggregate');
    const { context, page, problems } = await openPage(browser, DESKTOP);
    const blobs = [];
    page.on('request', (request) => {
      const match = /\/blobs\/([^/?#]+)/.exec(request.url());
      if (match) blobs.push(match[1]);
    });
    try {
      await signIn(page, aggregate);
      // No save form, but the counts-only note; the budget is not offered.
      await page.getByTestId('aggregate-note').waitFor({ timeout: TIMEOUT_MS });
      assert.match(await page.getByTestId('aggregate-note').textContent(), /aggregate token sees counts only/);
      assert.equal(await page.getByTestId('save-segment').count(), 0);
      assert.equal(await page.locator('.budget').isVisible(), false);

      // One condition on the smallest value: its count is withheld as "< k".
      await page.getByTestId('add-condition').click();
      const picker = page.getByTestId('picker');
      await picker.getByTestId('group-select').selectOption(small.group);
      const option = picker.locator(`[data-testid="value-option"][data-value="${small.value}"]`);
      assert.equal((await option.getByTestId('option-count').textContent()).trim(), below(k));
      await option.locator('input').check();
      const headline = page.locator('[data-testid="estimate-card"] .estimate-number [data-tier="withheld"]');
      await headline.waitFor({ timeout: TIMEOUT_MS }).catch(async (e) => {
        await shot(page, "aggregate-audience-failed");
        throw new Error(`${e.message}\ncard: ${await page.getByTestId("estimate-card").textContent()}`);
      });
      assert.equal((await headline.textContent()).trim(), below(k));
      const funnel = page.getByTestId('funnel-remaining').first();
      assert.equal((await funnel.textContent()).trim(), below(k));
      await shot(page, 'aggregate-audience-1280x900');

      // Sample blobs were loaded; no full-tier blob was ever asked for.
      assert.ok(blobs.length > 0, 'sample blobs were loaded');
      const asked = blobs.filter((hash) => full.has(hash));
      assert.deepEqual(asked, [], 'no full-tier blob requested');

      // Tags: small counts read "< k" too.
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tags' }).click();
      const card = page.locator(`[data-testid="tag-group"][data-group="${small.group}"]`);
      await card.waitFor({ timeout: TIMEOUT_MS });
      assert.match(await card.textContent(), new RegExp(below(k).replace(/[<,]/g, (c) => `\\${c}`)));

      // Lookup is withheld; Segments offers no split; Split explains why not.
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Lookup' }).click();
      await page.getByTestId('lookup-withheld').waitFor({ timeout: TIMEOUT_MS });
      assert.equal(await page.getByTestId('lookup-input').count(), 0);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Segments' }).click();
      await page.locator('[data-testid="segments-table"], .table-card .empty-state').first().waitFor({ timeout: TIMEOUT_MS });
      assert.equal(await page.getByTestId('segment-split').count(), 0);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Split' }).click();
      await page.getByTestId('aggregate-note').waitFor({ timeout: TIMEOUT_MS });
      assert.equal(await page.getByTestId('export-group').count(), 0);
      assert.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).isVisible(), false);

      assert.deepEqual(blobs.filter((hash) => full.has(hash)), [], 'still no full-tier blob');
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });
});
