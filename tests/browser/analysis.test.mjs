// The analysis pages (issue 16) end to end, against the real server with demo data: the
// Funnels page (steps, range, window and a split by gender in its address) shows the numbers
// of POST /funnel, the Pivot page the cells of POST /pivot (counts and TGI); the CSV
// download holds the same cells. With the default download budget the pages compute in the
// browser (`data-source="browser"`), so these compare the browser's engine with the server's;
// with a budget of 0, or a funnel with an audience, the server computes and the numbers are
// the same. Screenshots at 1280×800 and 390×844 go to tests/output/.

import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launchBrowser, openPage } from './lib/browser.mjs';
import { api, loadDemo } from './lib/demo.mjs';
import { startServer } from './lib/server.mjs';

const OUTPUT_DIR = resolve(import.meta.dirname, '../output');
const ADMIN_TOKEN = 'browser-test-admin-token';
const TIMEOUT_MS = 30_000;

const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

/** `12,345` → 12345; `< 10` stays text. */
const number = (text) => (/^[\d,]+$/.test(text.trim()) ? Number(text.trim().replaceAll(',', '')) : text.trim());

const shot = async (page, name) => {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: resolve(OUTPUT_DIR, `${name}.png`), fullPage: true });
};
const real = (problems) => problems.filter((p) => !p.includes('net::ERR_ABORTED'));
/** Where the page says its numbers were computed: `browser` or `server`. */
const source = (page) => page.getByTestId('computed').getAttribute('data-source');

describe('analysis pages with demo data', () => {
  let server;
  let browser;
  let tokens;
  let days;

  before(async () => {
    await mkdir(OUTPUT_DIR, { recursive: true });
    server = await startServer({ adminToken: ADMIN_TOKEN });
    tokens = await loadDemo(server.url, ADMIN_TOKEN, { users: 20000, days: 4 });
    days = (await api(server.url, tokens.editor, '/apps/demo/days')).days.map((d) => d.ds).sort();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const signIn = async (page) => {
    await page.goto(`${server.url}/signin#app=demo&token=${tokens.editor}`);
    await page.waitForURL('**/audience', { timeout: TIMEOUT_MS });
  };
  for (const [name, options] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    test(`funnels: the page shows the route's numbers (${name})`, async () => {
      const { context, page, problems } = await openPage(browser, { ...options, acceptDownloads: true });
      try {
        await signIn(page);
        const [from, to] = [days[0], days.at(-1)];
        await page.goto(`${server.url}/funnels?steps=visit,add_to_cart,purchase&from=${from}&to=${to}&within=2&by=gender`);
        await page.getByTestId('funnel-result').waitFor({ timeout: TIMEOUT_MS });
        assert.equal(await source(page), 'browser');
        const want = await api(server.url, tokens.editor, '/apps/demo/funnel', {
          method: 'POST',
          body: { steps: [{ event: 'visit' }, { event: 'add_to_cart' }, { event: 'purchase' }], from, to, within_days: 2, by: 'gender' },
        });
        assert.ok(want.steps[2].count > 0, 'the demo converts');
        const shown = (await page.getByTestId('step-users').allTextContents()).map(number);
        assert.deepEqual(shown, want.steps.map((s) => s.count));
        // Hovering a bar shows its step's exact users (the band's <title>).
        const titles = await page.locator('[data-testid="funnel-result"] .hover-band title').allTextContents();
        assert.deepEqual(
          titles.map((t) => number(t.split('\n')[0].replace(/^.*: /, '').replace(' users', ''))),
          want.steps.map((s) => s.count),
        );
        const byRows = page.getByTestId('funnel-by-row');
        assert.equal(await byRows.count(), want.by.length);
        for (const b of want.by) {
          const cells = await page.locator(`[data-testid="funnel-by-row"][data-value="${b.value}"] [data-testid="by-users"]`).allTextContents();
          assert.deepEqual(cells.map((c) => number(c.replace(/\(.*\)/, ''))), b.steps.map((s) => s.count), b.value);
        }
        if (name === 'desktop') {
          const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('funnel-csv').click()]);
          const lines = (await readFile(await download.path(), 'utf8')).trim().split('\r\n');
          assert.equal(lines[0], 'step,event,users,from_previous,from_first,dropped,median_days');
          assert.deepEqual(lines.slice(1).map((l) => Number(l.split(',')[2])), want.steps.map((s) => s.count));
          const [byDownload] = await Promise.all([page.waitForEvent('download'), page.getByTestId('funnel-by-csv').click()]);
          const byLines = (await readFile(await byDownload.path(), 'utf8')).trim().split('\r\n');
          assert.equal(byLines[0], 'gender,step,event,users,from_first');
          assert.equal(byLines.length, 1 + want.by.length * want.steps.length);
        }
        if (name === 'desktop') {
          // "Added to cart but did not buy", saved as a static segment: step 2's users minus step 3's.
          page.once('dialog', (d) => d.accept('Cart, no purchase'));
          await page.locator('[data-testid="funnel-step"]').nth(1).getByTestId('save-dropped').click();
          await page.getByTestId('step-saved').waitFor({ timeout: TIMEOUT_MS });
          const segments = (await api(server.url, tokens.editor, '/apps/demo/segments')).segments;
          const saved = segments.find((s) => s.id === 'cart-no-purchase');
          assert.ok(saved, 'the segment exists');
          assert.equal(saved.members.count, want.steps[1].count - want.steps[2].count);
        }
        // The address holds the choice: a reload shows the same funnel.
        assert.match(page.url(), /steps=visit,add_to_cart,purchase/);
        assert.match(page.url(), /by=gender/);
        await shot(page, `analysis-funnels-${name}`);
        assert.deepEqual(real(problems), []);
      } finally {
        await context.close();
      }
    });

    test(`pivot: the page shows the route's cells (${name})`, async () => {
      const { context, page, problems } = await openPage(browser, { ...options, acceptDownloads: true });
      try {
        await signIn(page);
        await page.goto(`${server.url}/pivot?rows=gender&columns=member_level&show=counts`);
        await page.getByTestId('pivot-table').waitFor({ timeout: TIMEOUT_MS });
        assert.equal(await source(page), 'browser');
        const want = await api(server.url, tokens.editor, '/apps/demo/pivot', {
          method: 'POST',
          body: { ds: days.at(-1), rows: 'gender', columns: 'member_level' },
        });
        const rows = page.getByTestId('pivot-row');
        assert.equal(await rows.count(), want.rows.length);
        for (const [i, value] of want.rows.entries()) {
          const cells = await page.locator(`[data-testid="pivot-row"][data-value="${value}"] [data-testid="pivot-cell"]`).allTextContents();
          assert.deepEqual(cells.map(number), want.counts[i], value);
        }
        if (name === 'desktop') {
          const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('pivot-csv').click()]);
          const csv = await readFile(await download.path(), 'utf8');
          const lines = csv.trim().split('\r\n');
          assert.equal(lines[0], 'gender,member_level,users,row_share,column_share,tgi');
          assert.equal(lines.length, 1 + want.rows.length * want.columns.length);
          assert.equal(Number(lines[1].split(',')[2]), want.counts[0][0]);
        }
        await shot(page, `analysis-pivot-counts-${name}`);
        await page.getByTestId('pivot-show').selectOption('tgi');
        await page.waitForURL('**show=tgi', { timeout: TIMEOUT_MS });
        // Without an audience every defined TGI is 100 (the audience is everyone).
        const tgi = want.tgi[0][0] === null ? '–' : String(Math.round(want.tgi[0][0]));
        await page.waitForFunction(
          (t) => document.querySelector('[data-testid="pivot-cell"]')?.textContent.trim() === t,
          tgi,
          { timeout: TIMEOUT_MS },
        );
        await shot(page, `analysis-pivot-tgi-${name}`);
        assert.deepEqual(real(problems), []);
      } finally {
        await context.close();
      }
    });
  }

  test('past the download budget, and for a funnel with an audience, the server computes the same numbers', async () => {
    const { context, page, problems } = await openPage(browser, DESKTOP);
    try {
      await signIn(page);
      const [from, to] = [days[0], days.at(-1)];
      const steps = [{ event: 'visit' }, { event: 'add_to_cart' }];
      const funnelUrl = `${server.url}/funnels?steps=visit,add_to_cart&from=${from}&to=${to}&within=3`;
      const want = await api(server.url, tokens.editor, '/apps/demo/funnel', {
        method: 'POST',
        body: { steps, from, to, within_days: 3 },
      });
      // A budget of 0: nothing may be downloaded, so the server answers.
      await page.evaluate(() => localStorage.setItem('sieve.budget_mb', '0'));
      await page.goto(funnelUrl);
      await page.getByTestId('funnel-result').waitFor({ timeout: TIMEOUT_MS });
      assert.equal(await source(page), 'server');
      assert.deepEqual((await page.getByTestId('step-users').allTextContents()).map(number), want.steps.map((s) => s.count));
      await page.goto(`${server.url}/pivot?rows=gender&columns=channel&show=counts`);
      await page.getByTestId('pivot-table').waitFor({ timeout: TIMEOUT_MS });
      assert.equal(await source(page), 'server');
      const pivot = await api(server.url, tokens.editor, '/apps/demo/pivot', {
        method: 'POST',
        body: { ds: days.at(-1), rows: 'gender', columns: 'channel' },
      });
      const first = await page.locator(`[data-testid="pivot-row"][data-value="${pivot.rows[0]}"] [data-testid="pivot-cell"]`).allTextContents();
      assert.deepEqual(first.map(number), pivot.counts[0]);
      // The default budget again: the same funnel computed here gives the same numbers.
      await page.evaluate(() => localStorage.removeItem('sieve.budget_mb'));
      await page.goto(funnelUrl);
      await page.getByTestId('funnel-result').waitFor({ timeout: TIMEOUT_MS });
      assert.equal(await source(page), 'browser');
      assert.deepEqual((await page.getByTestId('step-users').allTextContents()).map(number), want.steps.map((s) => s.count));
      // An audience is evaluated on every day of the range: the server's job.
      const rule = { tag: 'gender', in: ['female'] };
      const withAudience = await api(server.url, tokens.editor, '/apps/demo/funnel', {
        method: 'POST',
        body: { steps, from, to, within_days: 3, audience: rule },
      });
      await page.goto(`${funnelUrl}&segment=${encodeURIComponent(JSON.stringify(rule))}`);
      await page.getByTestId('funnel-result').waitFor({ timeout: TIMEOUT_MS });
      assert.equal(await source(page), 'server');
      assert.deepEqual(
        (await page.getByTestId('step-users').allTextContents()).map(number),
        withAudience.steps.map((s) => s.count),
      );
      assert.ok(withAudience.steps[0].count < want.steps[0].count, 'the audience narrows the funnel');
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });
});

describe('compare page with demo data', () => {
  let server;
  let browser;
  let tokens;
  let latest;

  before(async () => {
    await mkdir(OUTPUT_DIR, { recursive: true });
    server = await startServer({ adminToken: ADMIN_TOKEN });
    tokens = await loadDemo(server.url, ADMIN_TOKEN, { users: 20000, days: 2 });
    latest = (await api(server.url, tokens.editor, '/apps/demo/days')).days.map((d) => d.ds).sort().at(-1);
    for (const [id, rule] of [
      ['cmp-women', { tag: 'gender', in: ['female'] }],
      ['cmp-visitors', { event: 'visit', last_days: 2, count: { '>=': 1 } }],
      ['cmp-gold', { tag: 'member_level', in: ['gold', 'platinum'] }],
    ]) {
      await api(server.url, tokens.editor, '/apps/demo/segments', {
        method: 'POST',
        body: { id, name: id, kind: 'dynamic', rule },
      });
    }
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('compare: sizes from /overlap, the distribution from /pivot (desktop)', async () => {
    const { context, page, problems } = await openPage(browser, DESKTOP);
    try {
      await page.goto(`${server.url}/signin#app=demo&token=${tokens.editor}`);
      await page.waitForURL('**/audience', { timeout: TIMEOUT_MS });
      // The segments are computed by the durable job: wait until the overlap route knows them.
      let overlap;
      for (let i = 0; i < 60; i++) {
        try {
          overlap = await api(server.url, tokens.editor, '/apps/demo/overlap', {
            method: 'POST',
            body: { ds: latest, segments: ['cmp-women', 'cmp-visitors'] },
          });
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      assert.ok(overlap, 'the segments were computed');
      await page.goto(`${server.url}/compare?a=cmp-women&b=cmp-visitors&group=member_level`);
      await page.getByTestId('compare-distribution').waitFor({ timeout: TIMEOUT_MS });
      assert.equal(await source(page), 'browser');
      const [onlyA, onlyB, both] = overlap.regions.map((r) => r.count);
      const read = async (id) => number(await page.getByTestId(id).textContent());
      assert.equal(await read('only-a'), onlyA);
      assert.equal(await read('only-b'), onlyB);
      assert.equal(await read('both'), both);
      assert.equal(await read('size-a'), onlyA + both);
      assert.equal(await read('size-b'), onlyB + both);
      const pivot = await api(server.url, tokens.editor, '/apps/demo/pivot', {
        method: 'POST',
        body: { ds: latest, rows: 'member_level', columns: 'member_level', audience: { segment: 'cmp-women' } },
      });
      const pivotB = await api(server.url, tokens.editor, '/apps/demo/pivot', {
        method: 'POST',
        body: { ds: latest, rows: 'member_level', columns: 'member_level', audience: { segment: 'cmp-visitors' } },
      });
      for (const [i, value] of pivot.rows.entries()) {
        const row = page.locator(`[data-testid="compare-row"][data-value="${value}"]`);
        assert.equal(number(await row.getByTestId('a-users').textContent()), pivot.counts[i][i], value);
        assert.equal(number(await row.getByTestId('b-users').textContent()), pivotB.counts[i][i], value);
      }
      await shot(page, 'analysis-compare-desktop');
      // A third set joins the overlap: seven regions, each the route's.
      let three;
      for (let i = 0; i < 60 && !three; i++) {
        three = await api(server.url, tokens.editor, '/apps/demo/overlap', {
          method: 'POST',
          body: { ds: latest, segments: ['cmp-women', 'cmp-visitors', 'cmp-gold'] },
        }).catch(() => new Promise((r) => setTimeout(r, 500)));
      }
      assert.equal(three.regions.length, 7);
      await page.goto(`${server.url}/compare?a=cmp-women&b=cmp-visitors&c=cmp-gold&group=member_level`);
      await page.getByTestId('compare-regions').waitFor({ timeout: TIMEOUT_MS });
      assert.equal(await source(page), 'browser');
      const regions = (await page.getByTestId('region-users').allTextContents()).map(number);
      assert.deepEqual(regions, three.regions.map((r) => r.count));
      assert.equal(await page.locator('[data-testid="compare-sizes"] .hover-band').count(), 7);
      // A and B's sizes do not change with a third set.
      assert.equal(await read('size-a'), onlyA + both);
      assert.equal(await read('both'), both);
      await shot(page, 'analysis-compare-three-desktop');
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });

  test("compare: the builder's rule as A, from the Audience page's link, equals /overlap; tables download (desktop)", async () => {
    const { context, page, problems } = await openPage(browser, { ...DESKTOP, acceptDownloads: true });
    try {
      await page.goto(`${server.url}/signin#app=demo&token=${tokens.editor}`);
      await page.waitForURL('**/audience', { timeout: TIMEOUT_MS });
      const rule = { tag: 'gender', in: ['male'] };
      await page.goto(`${server.url}/audience?rule=${encodeURIComponent(JSON.stringify(rule))}`);
      await page.getByTestId('analyse-compare').click({ timeout: TIMEOUT_MS });
      await page.waitForURL('**/compare?**', { timeout: TIMEOUT_MS });
      await page.getByTestId('compare-sizes').waitFor({ timeout: TIMEOUT_MS });
      // The builder's compiled rule (its conditions under an `all`).
      const a = JSON.parse(await page.getByTestId('compare-a').inputValue());
      assert.deepEqual(a, { all: [rule] });
      const b = await page.getByTestId('compare-b').inputValue();
      assert.ok(b, 'B defaults to a saved segment');
      const overlap = await api(server.url, tokens.editor, '/apps/demo/overlap', {
        method: 'POST',
        body: { ds: latest, segments: [a, b] },
      });
      const [onlyA, onlyB, both] = overlap.regions.map((r) => r.count);
      const read = async (id) => number(await page.getByTestId(id).textContent());
      assert.equal(await read('only-a'), onlyA);
      assert.equal(await read('only-b'), onlyB);
      assert.equal(await read('both'), both);
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('compare-sizes-csv').click()]);
      const lines = (await readFile(await download.path(), 'utf8')).trim().split('\r\n');
      assert.equal(lines[0], 'a,b,only_a,both,only_b');
      assert.deepEqual(lines[1].split(',').map(Number), [onlyA + both, onlyB + both, onlyA, both, onlyB]);
      await page.getByTestId('compare-distribution').waitFor({ timeout: TIMEOUT_MS });
      const [rowsDownload] = await Promise.all([page.waitForEvent('download'), page.getByTestId('compare-csv').click()]);
      const rows = (await readFile(await rowsDownload.path(), 'utf8')).trim().split('\r\n');
      assert.match(rows[0], /,a_users,a_share,b_users,b_share,difference,tgi_a_vs_b,beyond_chance$/);
      assert.equal(rows.length, 1 + (await page.getByTestId('compare-row').count()));
      await shot(page, 'analysis-compare-rule-desktop');
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });
});
