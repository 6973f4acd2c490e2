// Numeric and event conditions in the audience builder, against the real server with
// demo data: a numeric range (age 18–25) from the number editor, with its histogram; an
// event window (purchase at least twice in the last 5 days) from the event editor; the
// rule written to the address bar, the browser's exact count equal to the server's
// /estimate, and a window reaching before the first day warned about with its days.
// Screenshots at 1280×800 and 390×844 go to tests/output/.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launchBrowser, openPage } from './lib/browser.mjs';
import { api, loadDemo } from './lib/demo.mjs';
import { startServer } from './lib/server.mjs';

const OUTPUT_DIR = resolve(import.meta.dirname, '../output');
const ADMIN_TOKEN = 'browser-behaviour-admin';
const TIMEOUT_MS = 20_000;
const DAYS = 5;

const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

describe('numeric and event conditions', () => {
  let server;
  let browser;
  let tokens;
  let days;

  before(async () => {
    await mkdir(OUTPUT_DIR, { recursive: true });
    server = await startServer({ adminToken: ADMIN_TOKEN });
    tokens = await loadDemo(server.url, ADMIN_TOKEN, { users: 20000, days: DAYS });
    ({ days } = await api(server.url, tokens.editor, '/apps/demo/days'));
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const shot = async (page, name) => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: resolve(OUTPUT_DIR, `${name}.png`), fullPage: true });
  };
  const ruleInUrl = (page) => JSON.parse(new URL(page.url()).searchParams.get('rule'));
  /** Type into a number field and commit it (the editors apply on change). */
  const enter = async (locator, value) => {
    await locator.fill(String(value));
    await locator.dispatchEvent('change');
  };
  async function exactCount(page) {
    const exact = page.locator('[data-testid="exact-count"][data-tier="exact"]');
    await exact.waitFor({ timeout: TIMEOUT_MS });
    return Number(await exact.getAttribute('data-count'));
  }
  const serverCount = async (rule) =>
    (await api(server.url, tokens.editor, '/apps/demo/estimate', {
      method: 'POST',
      body: { ds: days.at(-1).ds, rule, tier: 'exact' },
    })).count;

  async function build(page) {
    await page.goto(`${server.url}/signin#app=demo&token=${tokens.editor}`);
    await page.waitForURL('**/audience', { timeout: TIMEOUT_MS });
    const picker = page.getByTestId('picker');

    // age between 18 and 25, typed into the number editor.
    await page.getByTestId('add-condition').click();
    await picker.getByTestId('group-select').selectOption('age');
    await picker.getByTestId('number-editor').waitFor({ timeout: TIMEOUT_MS });
    await enter(picker.getByTestId('number-lo'), 18);
    await enter(picker.getByTestId('number-hi'), 25);
    // The histogram of age in the rest of the audience next to all users.
    await picker.getByTestId('number-histogram').locator('svg').waitFor({ timeout: TIMEOUT_MS });
    await page.locator('[data-path="0"]').getByText('between 18 and 25').waitFor({ timeout: TIMEOUT_MS });
    // Alone, the condition's "rest of the audience" is everyone: both bars of each range agree.
    const bars = (await picker.getByTestId('number-histogram').locator('[role="img"]').getAttribute('aria-label'))
      .split('; ')
      .map((b) => b.match(/: (.+) of the audience, (.+) of all users$/));
    assert.ok(bars.length >= 5, `${bars.length} ranges`);
    for (const b of bars) assert.equal(b[1], b[2]);
    if (page.viewportSize().width > 1000) await shot(page, 'behaviour-number-1280x800');

    // purchase count >= 2 in the last 5 days.
    await page.getByTestId('add-condition').click();
    await picker.getByTestId('group-select').selectOption('__event:purchase');
    await picker.getByTestId('event-editor').waitFor({ timeout: TIMEOUT_MS });
    await enter(picker.getByTestId('event-days'), DAYS);
    await picker.getByTestId('event-op').selectOption('>=');
    await enter(picker.getByTestId('event-lo'), 2);
    await page.waitForFunction(
      () => new URL(location.href).searchParams.get('rule')?.includes('"last_days":5'),
      null,
      { timeout: TIMEOUT_MS },
    );
  }

  test('build, compare with the server, warn about missing days (1280×800)', async () => {
    const { context, page, problems } = await openPage(browser, DESKTOP);
    try {
      await build(page);
      const rule = ruleInUrl(page);
      assert.deepEqual(rule, {
        all: [
          { tag: 'age', between: [18, 25] },
          { event: 'purchase', last_days: DAYS, count: { '>=': 2 } },
        ],
      });
      const count = await exactCount(page);
      assert.equal(count, await serverCount(rule));
      assert.ok(count > 0, 'some 18–25 year olds bought twice');
      assert.match(await page.locator('[data-path="1"]').textContent(), /purchase\s*count\s*≥ 2\s*in the last 5 days/);
      // Funnel: age alone, then with the purchases.
      const rows = page.getByTestId('funnel-row');
      assert.equal(await rows.count(), 2);
      assert.equal(await page.getByTestId('rule-warning').count(), 0, 'the window is all published');
      await shot(page, 'behaviour-1280x800');

      // Two more days than were published: both are named, and count as zero.
      const picker = page.getByTestId('picker');
      await page.locator('[data-path="1"]').click();
      await enter(picker.getByTestId('event-days'), DAYS + 2);
      const warning = page.getByTestId('rule-warning');
      await warning.waitFor({ timeout: TIMEOUT_MS });
      const first = new Date(`${days[0].ds}T00:00:00Z`);
      const before = (n) => new Date(first.getTime() - n * 86_400_000).toISOString().slice(0, 10);
      const text = await warning.textContent();
      assert.ok(text.includes(`${before(2)}…${before(1)}`), text);
      const widened = ruleInUrl(page);
      assert.equal(await exactCount(page), await serverCount(widened));
      assert.deepEqual(problems.filter((p) => !p.includes('net::ERR_ABORTED')), []);
    } finally {
      await context.close();
    }
  });

  test('the editors fit a phone (390×844)', async () => {
    const { context, page } = await openPage(browser, PHONE);
    try {
      await build(page);
      await exactCount(page);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `page wider than the screen by ${overflow}px`);
      await shot(page, 'behaviour-390x844');
    } finally {
      await context.close();
    }
  });
});
