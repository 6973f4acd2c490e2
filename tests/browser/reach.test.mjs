// Reach in the app (issue 17), in Chromium against the real server with demo data and a
// webhook receiver of the test's own on 127.0.0.1 (the server runs with
// --allow-private-destinations): a destination made on the Destinations page, a segment sent
// to it from the Segments page, its sync followed to "up to date", its delivery log, pause and
// resume. The receiver checks every signature with its own HMAC and collects the ids: they
// must be exactly the segment's members from GET …/members. Then: the destination edited in
// place (batch size, with the app's check of a bad URL), and an experiment's group sent once
// from the Split page: exactly the group's members from GET …/groups/{group}/members arrive,
// under the key `<experiment>/<group>`, and the sync ends `done`.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launchBrowser, openPage } from './lib/browser.mjs';
import { api, loadDemo } from './lib/demo.mjs';
import { startServer } from './lib/server.mjs';

const OUTPUT_DIR = resolve(import.meta.dirname, '../output');
const ADMIN_TOKEN = 'browser-test-admin-token';
const SECRET = 'a-secret-of-twenty-bytes';
const TIMEOUT_MS = 30_000;
const real = (problems) => problems.filter((p) => !p.includes('net::ERR_ABORTED'));

/** A receiver that verifies signatures and keeps every body it accepted. */
async function startReceiver() {
  const bodies = [];
  const forged = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const header = req.headers['x-sieve-signature'] ?? '';
      const t = /t=(\d+)/.exec(header)?.[1];
      const v1 = /v1=([0-9a-f]+)/.exec(header)?.[1];
      const want = createHmac('sha256', SECRET).update(`${t}.${raw}`).digest('hex');
      if (!t || v1 !== want) {
        forged.push(raw);
        res.writeHead(401).end();
        return;
      }
      bodies.push(JSON.parse(raw));
      res.writeHead(200).end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/hook`, bodies, forged, close: () => server.close() };
}

describe('reach in the app', () => {
  let server;
  let browser;
  let tokens;
  let receiver;
  let latest;

  before(async () => {
    await mkdir(OUTPUT_DIR, { recursive: true });
    receiver = await startReceiver();
    server = await startServer({ adminToken: ADMIN_TOKEN, args: ['--allow-private-destinations'] });
    tokens = await loadDemo(server.url, ADMIN_TOKEN, { users: 5000, days: 2 });
    latest = (await api(server.url, tokens.editor, '/apps/demo/days')).days.map((d) => d.ds).sort().at(-1);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    receiver?.close();
  });

  test('make a destination, send a segment, follow its sync and log (desktop)', async () => {
    const { context, page, problems } = await openPage(browser, { viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(`${server.url}/signin#app=demo&token=${tokens.editor}`);
      await page.waitForURL('**/audience', { timeout: TIMEOUT_MS });
      await page.goto(`${server.url}/destinations`);
      // The app's own check names the field before anything is sent.
      await page.getByTestId('destination-id').fill('hook');
      await page.getByTestId('destination-url').fill(receiver.url);
      await page.getByTestId('destination-secret').fill('short');
      await page.getByTestId('destination-create').click();
      await page.locator('[data-testid="destination-form"] .error-detail').first().waitFor({ timeout: TIMEOUT_MS });
      assert.match(await page.getByTestId('destination-form').textContent(), /16 to 256/);
      await page.getByTestId('destination-secret').fill(SECRET);
      await page.getByTestId('destination-create').click();
      await page.locator('[data-testid="destination"][data-id="hook"]').waitFor({ timeout: TIMEOUT_MS });
      const listed = (await api(server.url, tokens.editor, '/apps/demo/destinations')).destinations;
      assert.deepEqual(listed.map((d) => [d.id, d.url, d.has_secret]), [['hook', receiver.url, true]]);
      assert.ok(!JSON.stringify(listed).includes(SECRET), 'the secret is never answered');

      const segment = (await api(server.url, tokens.editor, '/apps/demo/segments')).segments.find((s) => s.kind === 'dynamic');
      const members = (await api(server.url, tokens.editor, `/apps/demo/segments/${segment.id}/members?ds=${latest}`))
        .trim().split('\n').slice(1).sort();
      await page.goto(`${server.url}/segments`);
      const panel = page.locator(`[data-testid="sync-row"][data-id="${segment.id}"]`);
      await panel.getByTestId('send-destination').selectOption('hook');
      await panel.getByTestId('send').click();
      const sync = panel.getByTestId('sync');
      await sync.getByTestId('sync-summary').filter({ hasText: `up to date with ${latest}` }).waitFor({ timeout: TIMEOUT_MS }).catch(async (e) => {
        console.log(await sync.textContent(), JSON.stringify(await api(server.url, tokens.editor, `/apps/demo/segments/${segment.id}/syncs`)));
        throw e;
      });
      assert.match(await sync.getByTestId('sync-summary').textContent(), new RegExp(`\\(${members.length.toLocaleString('en-US')} members\\)`));
      // The receiver got every member once, in full deliveries of this segment, all signed.
      const received = receiver.bodies.filter((b) => b.segment === segment.id && b.kind === 'full');
      assert.deepEqual([...new Set(received.flatMap((b) => b.added))].sort(), members);
      assert.equal(receiver.forged.length, 0);
      // The delivery log: every batch delivered, their ids adding up to the members.
      await sync.getByTestId('sync-log').click();
      await sync.getByTestId('delivery-log').waitFor({ timeout: TIMEOUT_MS });
      const statuses = await sync.getByTestId('delivery').evaluateAll((rows) => rows.map((r) => r.dataset.status));
      assert.ok(statuses.length >= 1 && statuses.every((s) => s === 'delivered'), statuses.join());
      const ids = (await sync.getByTestId('delivery-ids').allTextContents()).map((t) => Number(t.replaceAll(',', '')));
      assert.equal(ids.reduce((a, b) => a + b, 0), members.length);
      await page.screenshot({ path: resolve(OUTPUT_DIR, 'segments-sync.png'), fullPage: true });
      // Pause and resume.
      await sync.getByTestId('sync-pause').click();
      await panel.locator('[data-testid="sync"][data-state="paused"]').waitFor({ timeout: TIMEOUT_MS });
      await panel.getByTestId('sync-resume').click();
      await panel.locator('[data-testid="sync"][data-state="active"]').waitFor({ timeout: TIMEOUT_MS });
      // The Destinations page shows the sync.
      await page.goto(`${server.url}/destinations`);
      await page.locator('[data-testid="sync-overview"][data-state="active"]').waitFor({ timeout: TIMEOUT_MS });
      await page.screenshot({ path: resolve(OUTPUT_DIR, 'destinations.png'), fullPage: true });
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });

  test('edit a destination, send an experiment group once (desktop)', async () => {
    const { context, page, problems } = await openPage(browser, { viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(`${server.url}/signin#app=demo&token=${tokens.editor}`);
      await page.waitForURL('**/audience', { timeout: TIMEOUT_MS });
      await page.goto(`${server.url}/destinations`);
      const row = page.locator('[data-testid="destination"][data-id="hook"]');
      await row.getByTestId('destination-edit').click();
      const form = page.getByTestId('destination-edit-form');
      await form.getByTestId('edit-url').fill('ftp://nowhere');
      await form.getByTestId('destination-save').click();
      await form.locator('.error-detail').first().waitFor({ timeout: TIMEOUT_MS });
      assert.match(await form.textContent(), /http:\/\/ or https:\/\//);
      await form.getByTestId('edit-url').fill(receiver.url);
      await form.getByTestId('edit-batch_size').fill('250');
      await form.getByTestId('destination-save').click();
      await form.waitFor({ state: 'detached', timeout: TIMEOUT_MS });
      await row.filter({ hasText: '250 ids per request' }).waitFor({ timeout: TIMEOUT_MS });
      const hook = await api(server.url, tokens.editor, '/apps/demo/destinations/hook');
      assert.deepEqual([hook.url, hook.batch_size, hook.has_secret], [receiver.url, 250, true]);

      // An experiment of a dynamic segment, its treatment group sent once.
      const segment = (await api(server.url, tokens.editor, '/apps/demo/segments')).segments.find((s) => s.kind === 'dynamic');
      await api(server.url, tokens.editor, '/apps/demo/experiments', {
        method: 'POST',
        body: { id: 'reach-ab', segment: segment.id, ds: latest, salt: 'reach', groups: [{ name: 'control', percent: 50 }, { name: 'treatment', percent: 50 }] },
      });
      const group = (await api(server.url, tokens.editor, '/apps/demo/experiments/reach-ab/groups/treatment/members'))
        .trim().split('\n').slice(1).sort();
      assert.ok(group.length > 50, `a real group: ${group.length}`);
      await page.goto(`${server.url}/split?experiment=reach-ab`);
      const panel = page.locator('[data-testid="group-send"][data-group="treatment"]');
      await panel.getByTestId('send-destination').selectOption('hook');
      await panel.getByTestId('send-once').check();
      await panel.getByTestId('send').click();
      await panel.locator('[data-testid="sync"][data-state="done"]').waitFor({ timeout: TIMEOUT_MS });
      assert.match(await panel.getByTestId('sync-summary').textContent(), /\(once\): sent once/);
      const received = receiver.bodies.filter((b) => b.segment === 'reach-ab/treatment');
      assert.ok(received.every((b) => b.kind === 'full' && b.experiment === 'reach-ab' && b.group === 'treatment'));
      assert.ok(received.every((b) => b.added.length <= 250), 'the edited batch size is used');
      assert.deepEqual([...new Set(received.flatMap((b) => b.added))].sort(), group);
      assert.equal(receiver.forged.length, 0);
      // Done: no pause; "Send again" instead of "Resend in full".
      assert.equal(await panel.getByTestId('sync-pause').count(), 0);
      assert.equal((await panel.getByTestId('sync-resend').textContent()).trim(), 'Send again');
      await page.screenshot({ path: resolve(OUTPUT_DIR, 'split-group-send.png'), fullPage: true });
      // The Destinations page lists it beside the segment's sync, linking to the split.
      await page.goto(`${server.url}/destinations`);
      await page.locator('[data-testid="sync-overview"][data-state="done"] a[href="/split?experiment=reach-ab"]').waitFor({ timeout: TIMEOUT_MS });
      await page.screenshot({ path: resolve(OUTPUT_DIR, 'destinations-two-syncs.png'), fullPage: true });
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });
});
