// Member lists in and out of the Segments page (issue 17), in Chromium against the real server
// with demo data: a segment's "Download" saves exactly what GET …/members answers; a static
// segment made from a picked file, and a list replaced by a dropped file, hold exactly the
// known ids of the file, and the page shows the server's accounting (accepted, duplicates,
// unknown users and malformed rows, with the file's line numbers).

import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launchBrowser, openPage } from './lib/browser.mjs';
import { api, loadDemo } from './lib/demo.mjs';
import { startServer } from './lib/server.mjs';

const OUTPUT_DIR = resolve(import.meta.dirname, '../output');
const ADMIN_TOKEN = 'browser-test-admin-token';
const TIMEOUT_MS = 30_000;
const real = (problems) => problems.filter((p) => !p.includes('net::ERR_ABORTED'));

describe('segment members in and out', () => {
  let server;
  let browser;
  let tokens;
  let latest;

  before(async () => {
    await mkdir(OUTPUT_DIR, { recursive: true });
    server = await startServer({ adminToken: ADMIN_TOKEN });
    tokens = await loadDemo(server.url, ADMIN_TOKEN, { users: 5000, days: 2 });
    latest = (await api(server.url, tokens.editor, '/apps/demo/days')).days.map((d) => d.ds).sort().at(-1);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('download, upload from a picked file, replace by a dropped file (desktop)', async () => {
    const { context, page, problems } = await openPage(browser, { viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    try {
      await page.goto(`${server.url}/signin#app=demo&token=${tokens.editor}`);
      await page.waitForURL('**/audience', { timeout: TIMEOUT_MS });
      const segments = (await api(server.url, tokens.editor, '/apps/demo/segments')).segments;
      const dynamic = segments.find((s) => s.kind === 'dynamic');
      assert.ok(dynamic, 'the demo has a dynamic segment');
      const want = await api(server.url, tokens.editor, `/apps/demo/segments/${dynamic.id}/members?ds=${latest}`);
      const ids = want.trim().split('\n').slice(1);
      assert.ok(ids.length > 20, 'the segment has members');

      await page.goto(`${server.url}/segments`);
      const row = page.locator(`[data-testid="segment-row"][data-id="${dynamic.id}"]`);
      const [download] = await Promise.all([page.waitForEvent('download'), row.getByTestId('download-members').click()]);
      assert.equal(download.suggestedFilename(), `${dynamic.id}-${latest}.csv`);
      assert.equal(await readFile(await download.path(), 'utf8'), want);
      await row.getByTestId('download-status').filter({ hasText: 'Saved' }).waitFor({ timeout: TIMEOUT_MS });

      // A bare list (no header): ten known ids, one repeated, an unknown id, a malformed row.
      const lines = [...ids.slice(0, 10), ids[0], 'no-such-user-xyz', 'a,b'];
      const file = join(tmpdir(), `vip-list-${process.pid}.csv`);
      await writeFile(file, `${lines.join('\n')}\n`);
      await page.getByTestId('upload-name').fill('Picked list');
      await page.getByTestId('upload-file').setInputFiles(file);
      const report = page.getByTestId('upload-report');
      await report.waitFor({ timeout: TIMEOUT_MS });
      const text = await report.textContent();
      assert.match(text, /“picked-list” now has 10 members/);
      assert.match(text, /13 rows: 10 accepted, 1 duplicate, 1 unknown user, 1 malformed\./);
      assert.match(text, /Unknown users on line 12\./);
      assert.match(text, /Malformed on line 13\./);
      const stored = (await api(server.url, tokens.editor, '/apps/demo/segments/picked-list')).members;
      assert.equal(stored.count, 10);
      await page.screenshot({ path: resolve(OUTPUT_DIR, 'segments-upload.png'), fullPage: true });

      // Replace its list by dropping a file with a header on its row.
      const replaced = ids.slice(20, 25);
      const newRow = page.locator('[data-testid="segment-row"][data-id="picked-list"]');
      await newRow.waitFor({ timeout: TIMEOUT_MS });
      const data = await page.evaluateHandle((text) => {
        const dt = new DataTransfer();
        dt.items.add(new File([text], 'replace.csv', { type: 'text/csv' }));
        return dt;
      }, `user_id\n${replaced.join('\n')}\n`);
      await newRow.getByTestId('replace-file-zone').dispatchEvent('drop', { dataTransfer: data });
      const replacedReport = page.getByTestId('replace-report');
      await replacedReport.waitFor({ timeout: TIMEOUT_MS });
      assert.match(await replacedReport.textContent(), /“picked-list” now has 5 members\. 5 rows: 5 accepted, 0 duplicates, 0 unknown users, 0 malformed\./);
      const after = await api(server.url, tokens.editor, `/apps/demo/segments/picked-list`);
      assert.equal(after.members.count, 5);
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });

  test("a viewer downloads; an upload is the server's 403 and creates nothing", async () => {
    const { context, page, problems } = await openPage(browser, { viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(`${server.url}/signin#app=demo&token=${tokens.viewer}`);
      await page.waitForURL('**/audience', { timeout: TIMEOUT_MS });
      await page.goto(`${server.url}/segments`);
      await page.getByTestId('segment-row').first().waitFor({ timeout: TIMEOUT_MS });
      assert.ok((await page.getByTestId('download-members').count()) > 0);
      // String ids: CSV only, so no format to choose.
      assert.equal(await page.getByTestId('download-format').count(), 0);
      const file = join(tmpdir(), `viewer-list-${process.pid}.csv`);
      await writeFile(file, 'user_id\nanyone\n');
      await page.getByTestId('upload-name').fill('Viewer list');
      await page.getByTestId('upload-file').setInputFiles(file);
      await page.locator('[data-testid="new-from-file"] .error-detail').first().waitFor({ timeout: TIMEOUT_MS });
      assert.match(await page.getByTestId('new-from-file').textContent(), /403/);
      const segments = (await api(server.url, tokens.editor, '/apps/demo/segments')).segments;
      assert.ok(!segments.some((s) => s.id === 'viewer-list'));
      assert.deepEqual(real(problems).filter((p) => !p.includes('403')), []);
    } finally {
      await context.close();
    }
  });
});
