// The Split page end to end, against the real server with generated demo data: the split
// previewed in the browser (WASM, the engine's salted hash) is the split the server freezes —
// the same group sizes, the example users in the same groups of the server's CSV exports, the
// same SRM p-value and the same tag mix to the last digit; the same salt gives the same groups
// again and another salt others; the outcome shown is the API's; a group downloads as the
// server's CSV; form problems and server refusals (409, a viewer's 403) are shown; screenshots at
// 1280×800 and 390×844 go to tests/output/.

import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { launchBrowser, openPage } from './lib/browser.mjs';
import { api, loadDemo } from './lib/demo.mjs';
import { startServer } from './lib/server.mjs';

const OUTPUT_DIR = resolve(import.meta.dirname, '../output');
const ADMIN_TOKEN = 'browser-test-admin-token';
const TIMEOUT_MS = 20_000;
const DAYS = 4;
const SEGMENT = 'lapsed-buyers';

const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

/** The user ids of a member export. */
const usersOf = (csv) => csv.trim().split('\n').slice(1).map((u) => u.trim());

describe('split with demo data', () => {
  let server;
  let browser;
  let tokens;
  let days;
  let savedId;

  before(async () => {
    await mkdir(OUTPUT_DIR, { recursive: true });
    server = await startServer({ adminToken: ADMIN_TOKEN });
    tokens = await loadDemo(server.url, ADMIN_TOKEN, { users: 20000, days: DAYS });
    days = (await api(server.url, tokens.editor, '/apps/demo/days')).days.map((d) => d.ds);
    // The split is made on the first day, so wait until the backfill has computed it.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const h = await api(server.url, tokens.editor, `/apps/demo/segments/${SEGMENT}/history`);
      if (h.days.every((d) => d.size !== null)) break;
      if (Date.now() > deadline) throw new Error('backfill did not finish in 120 s');
      await sleep(500);
    }
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const signIn = async (page, token = tokens.editor) => {
    await page.goto(`${server.url}/signin#app=demo&token=${token}`);
    await page.waitForURL('**/audience', { timeout: TIMEOUT_MS });
  };
  const shot = async (page, name) => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: resolve(OUTPUT_DIR, `${name}.png`), fullPage: true });
  };
  const real = (problems) => problems.filter((p) => !p.includes('net::ERR_ABORTED'));
  const groupCsv = (id, group) => api(server.url, tokens.editor, `/apps/demo/experiments/${id}/groups/${group}/members`);

  /** Fill the group rows: [[name, percent], ...]. */
  async function setGroups(page, groups) {
    let rows = page.getByTestId('group-row');
    while ((await rows.count()) < groups.length) await page.getByTestId('add-group').click();
    for (const [i, [name, percent]] of groups.entries()) {
      await rows.nth(i).getByTestId('group-name').fill(name);
      await rows.nth(i).getByTestId('group-name').press('Tab');
      await rows.nth(i).getByTestId('group-percent').fill(String(percent));
      await rows.nth(i).getByTestId('group-percent').press('Tab');
    }
    rows = page.getByTestId('group-row');
    assert.equal(await rows.count(), groups.length);
  }

  /** What the preview shows. */
  async function readPreview(page) {
    await page.getByTestId('preview-table').waitFor({ timeout: TIMEOUT_MS });
    const counts = {};
    for (const row of await page.getByTestId('preview-row').all()) {
      counts[await row.getAttribute('data-group')] = Number(await row.getByTestId('preview-count').getAttribute('data-count'));
    }
    const samples = {};
    for (const code of await page.getByTestId('preview-sample').all()) {
      const g = await code.getAttribute('data-group');
      (samples[g] ??= []).push((await code.textContent()).trim());
    }
    const srm = page.getByTestId('preview-srm');
    return {
      audience: Number(await page.getByTestId('preview-audience').getAttribute('data-count')),
      counts,
      samples,
      p: Number(await srm.getAttribute('data-p')),
      unassigned: Number(await page.getByTestId('preview-unassigned').getAttribute('data-count')),
    };
  }

  async function readMix(page, testid) {
    const table = page.getByTestId(testid);
    await table.waitFor({ timeout: TIMEOUT_MS });
    const rows = [];
    for (const row of await table.getByTestId('mix-row').all()) {
      rows.push({
        tag: await row.getAttribute('data-tag'),
        value: await row.getAttribute('data-value'),
        shares: (await row.getAttribute('data-shares')).split(',').map(Number),
      });
    }
    return rows;
  }

  test('the browser preview is the split the server freezes (1280×800)', async () => {
    const { context, page, problems } = await openPage(browser, DESKTOP);
    try {
      await signIn(page);
      await page.goto(`${server.url}/split?segment=${SEGMENT}`);
      await page.getByTestId('split-segment').waitFor({ timeout: TIMEOUT_MS });
      assert.equal(await page.getByTestId('split-segment').inputValue(), SEGMENT);
      // Members of the first day; the id follows the segment and day until edited.
      await page.getByTestId('day-picker').selectOption(days[0]);
      const expectedId = `${SEGMENT}-${days[0].replaceAll('-', '')}`;
      await page.waitForFunction(
        (id) => document.querySelector('[data-testid="experiment-id"]')?.value === id,
        expectedId,
        { timeout: TIMEOUT_MS },
      );
      assert.equal(await page.getByTestId('salt').inputValue(), expectedId, 'the salt starts as the id');
      await setGroups(page, [
        ['control', 45],
        ['treatment', 45],
      ]);
      assert.match(await page.getByTestId('groups-total').textContent(), /90% in the experiment, 10% not/);

      const preview = await readPreview(page);
      const members = usersOf(
        await api(server.url, tokens.editor, `/apps/demo/segments/${SEGMENT}/members?ds=${days[0]}`),
      );
      assert.equal(preview.audience, members.length);
      assert.ok(preview.audience > 100, `a segment worth splitting (${preview.audience})`);
      assert.equal(preview.counts.control + preview.counts.treatment + preview.unassigned, preview.audience);
      const previewMix = await readMix(page, 'preview-mix');
      assert.ok(previewMix.length > 5, 'the tag mix is previewed');
      await shot(page, 'split-new-1280x800');

      await page.getByTestId('save-split').click();
      await page.waitForURL(/\/split\?experiment=/, { timeout: TIMEOUT_MS });
      savedId = new URL(page.url()).searchParams.get('experiment');
      assert.equal(savedId, expectedId);
      const comparison = page.getByTestId('saved-comparison');
      await comparison.waitFor({ timeout: TIMEOUT_MS });
      assert.equal(await comparison.getAttribute('data-same'), 'true');

      // The independent oracle: the server's experiment and its CSV exports.
      const exp = await api(server.url, tokens.editor, `/apps/demo/experiments/${savedId}`);
      assert.equal(exp.ds, days[0]);
      assert.equal(exp.salt, expectedId);
      assert.equal(exp.audience, preview.audience);
      assert.deepEqual(Object.fromEntries(exp.groups.map((g) => [g.name, g.count])), preview.counts);
      assert.equal(exp.balance.p_value, preview.p, 'the same SRM p-value');
      assert.deepEqual(
        previewMix,
        exp.balance.mix.map((r) => ({ tag: r.tag, value: r.value, shares: r.shares })),
        'the same tag mix to the last digit',
      );
      const csv = {};
      for (const g of exp.groups) csv[g.name] = new Set(usersOf(await groupCsv(savedId, g.name)));
      for (const [group, users] of Object.entries(preview.samples)) {
        assert.equal(users.length, 3);
        for (const u of users) {
          assert.ok(csv[group].has(u), `${u} is in ${group} on the server too`);
          for (const other of Object.keys(csv).filter((g) => g !== group)) assert.ok(!csv[other].has(u));
        }
      }
      assert.equal(csv.control.size, preview.counts.control);

      // The saved page shows the server's numbers.
      for (const g of exp.groups) {
        const row = page.locator(`[data-testid="group-result"][data-group="${g.name}"]`);
        assert.equal(Number(await row.getByTestId('group-count').getAttribute('data-count')), g.count);
      }
      assert.equal(Number(await page.getByTestId('server-srm').getAttribute('data-p')), exp.balance.p_value);
      assert.deepEqual(await readMix(page, 'server-mix'), previewMix);

      // Outcome on the latest day (after the split): the API's rates and difference.
      await page.getByTestId('outcome-metric').selectOption('paid_7d');
      await page.locator(`[data-testid="outcome-table"][data-metric="paid_7d"][data-ds="${days.at(-1)}"]`).waitFor({
        timeout: TIMEOUT_MS,
      });
      const outcome = await api(
        server.url,
        tokens.editor,
        `/apps/demo/experiments/${savedId}/outcome?metric=paid_7d&ds=${days.at(-1)}`,
      );
      assert.equal(outcome.after_split, true);
      assert.equal(await page.getByTestId('outcome-baseline').count(), 0);
      for (const g of outcome.groups) {
        const row = page.locator(`[data-testid="outcome-row"][data-group="${g.name}"]`);
        const rate = Number((await row.getByTestId('outcome-rate').textContent()).replace('%', ''));
        assert.ok(Math.abs(rate - g.rate.rate * 100) <= 0.005 + 1e-9, `${g.name}: ${rate} vs ${g.rate.rate}`);
        assert.match(await row.textContent(), new RegExp(g.with_metric.toLocaleString('en-US')));
        if (g.difference) {
          const shown = (await row.getByTestId('outcome-diff').textContent()).trim().replace('−', '-').replace(' pp', '');
          assert.ok(Math.abs(Number(shown) - g.difference.rate * 100) <= 0.005 + 1e-9, `difference ${shown}`);
        }
      }
      await page.locator('.outcome-chart svg').waitFor();
      await shot(page, 'split-saved-1280x800');
      // The split's own day is a baseline, and says so.
      await page.getByTestId('outcome-day').selectOption(days[0]);
      await page.getByTestId('outcome-baseline').waitFor({ timeout: TIMEOUT_MS });

      // Export a group from the page: the file is the server's CSV.
      const [download] = await Promise.all([
        page.waitForEvent('download', { timeout: TIMEOUT_MS }),
        page.locator('[data-testid="export-group"][data-group="treatment"]').click(),
      ]);
      assert.equal(download.suggestedFilename(), `${savedId}-treatment.csv`);
      const file = await readFile(await download.path(), 'utf8');
      assert.equal(file, await groupCsv(savedId, 'treatment'));

      // The list shows it.
      await page.goto(`${server.url}/split`);
      await page.locator(`[data-testid="experiment-row"][data-id="${savedId}"]`).waitFor({ timeout: TIMEOUT_MS });
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });

  test('the same salt gives the same groups, another salt others', async () => {
    assert.ok(savedId, 'the first test saved a split');
    const first = await api(server.url, tokens.editor, `/apps/demo/experiments/${savedId}`);
    const again = async (id, salt) =>
      api(server.url, tokens.editor, '/apps/demo/experiments', {
        method: 'POST',
        body: {
          id,
          segment: SEGMENT,
          ds: first.ds,
          salt,
          groups: first.groups.map((g) => ({ name: g.name, percent: g.percent })),
        },
      });
    await again('e2e-same-salt', first.salt);
    await again('e2e-other-salt', `${first.salt}-other`);
    for (const g of first.groups) {
      assert.equal(await groupCsv('e2e-same-salt', g.name), await groupCsv(savedId, g.name), `${g.name}: same salt`);
      assert.notEqual(await groupCsv('e2e-other-salt', g.name), await groupCsv(savedId, g.name), `${g.name}: other salt`);
    }
  });

  test('form problems and server refusals are shown', async () => {
    assert.ok(savedId, 'the first test saved a split');
    const { context, page } = await openPage(browser, DESKTOP);
    try {
      await signIn(page);
      await page.goto(`${server.url}/split?segment=${SEGMENT}`);
      await page.getByTestId('split-segment').waitFor({ timeout: TIMEOUT_MS });
      await setGroups(page, [
        ['control group', 60],
        ['treatment', 50],
      ]);
      const problems = page.getByTestId('form-problems');
      await problems.waitFor({ timeout: TIMEOUT_MS });
      assert.match(await problems.textContent(), /Group 1: the name may use letters/);
      assert.equal(await page.getByTestId('save-split').isDisabled(), true);
      await setGroups(page, [
        ['control', 60],
        ['treatment', 50],
      ]);
      await page.getByTestId('form-problems').getByText(/total at most 100/).waitFor({ timeout: TIMEOUT_MS });
      await setGroups(page, [
        ['control', 50],
        ['treatment', 50],
      ]);
      await problems.waitFor({ state: 'detached', timeout: TIMEOUT_MS });
      // An id that exists: the server's 409 is shown.
      await page.getByTestId('day-picker').selectOption(days[0]);
      await page.getByTestId('experiment-id').fill(savedId);
      await page.getByTestId('preview-table').waitFor({ timeout: TIMEOUT_MS });
      await page.getByTestId('save-split').click();
      const alert = page.locator('[data-testid="split-form"] [role="alert"]');
      await alert.waitFor({ timeout: TIMEOUT_MS });
      assert.match(await alert.textContent(), /409: .*exists/);
    } finally {
      await context.close();
    }
    // A viewer may read splits but not make one: the 403 is explained.
    const viewer = await openPage(browser, DESKTOP);
    try {
      await signIn(viewer.page, tokens.viewer);
      await viewer.page.goto(`${server.url}/split?segment=${SEGMENT}`);
      await viewer.page.getByTestId('preview-table').waitFor({ timeout: TIMEOUT_MS });
      await viewer.page.getByTestId('save-split').click();
      const alert = viewer.page.locator('[data-testid="split-form"] [role="alert"]');
      await alert.waitFor({ timeout: TIMEOUT_MS });
      assert.match(await alert.textContent(), /403.*viewer token only reads/);
    } finally {
      await viewer.context.close();
    }
  });

  test('fits a phone (390×844)', async () => {
    assert.ok(savedId, 'the first test saved a split');
    const { context, page, problems } = await openPage(browser, PHONE);
    try {
      await signIn(page);
      await page.goto(`${server.url}/split?segment=${SEGMENT}`);
      await page.getByTestId('preview-mix').waitFor({ timeout: TIMEOUT_MS });
      const overflow = () =>
        page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      await shot(page, 'split-new-390x844');
      assert.equal(await overflow(), 0, 'the new split is not wider than the phone');
      await page.goto(`${server.url}/split?experiment=${savedId}`);
      await page.getByTestId('outcome-table').waitFor({ timeout: TIMEOUT_MS });
      await shot(page, 'split-saved-390x844');
      assert.equal(await overflow(), 0, 'the saved split is not wider than the phone');
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });
});
