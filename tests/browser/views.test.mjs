// The analysis views end to end (issue 16), against the real server with generated demo data:
// the builder's profile of a numeric group (histogram and quartiles) and of an event (reach in
// 1/7/30 days, active days), checked against the server's /estimate of the equivalent rules;
// the Lookup page's events and its timeline, checked against /users/{id}/tags?ds= for every
// day; the Overview's population sizes, checked against each day's manifest. Screenshots go to
// tests/output/.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launchBrowser, openPage } from './lib/browser.mjs';
import { api, loadDemo } from './lib/demo.mjs';
import { startServer } from './lib/server.mjs';

const OUTPUT_DIR = resolve(import.meta.dirname, '../output');
const ADMIN_TOKEN = 'browser-test-admin-token';
const TIMEOUT_MS = 30_000;
const DAYS = 4;
const DESKTOP = { viewport: { width: 1280, height: 800 } };

/** `12,345` → 12345. */
const num = (text) => Number(text.trim().replace(/,/g, ''));

describe('analysis views with demo data', () => {
  let server;
  let browser;
  let tokens;
  let days;

  before(async () => {
    await mkdir(OUTPUT_DIR, { recursive: true });
    server = await startServer({ adminToken: ADMIN_TOKEN });
    tokens = await loadDemo(server.url, ADMIN_TOKEN, { users: 20000, days: DAYS });
    days = (await api(server.url, tokens.editor, '/apps/demo/days')).days.map((d) => d.ds);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const signInLink = () => `${server.url}/signin#app=demo&token=${tokens.editor}`;
  const shot = async (page, name) => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: resolve(OUTPUT_DIR, `${name}.png`), fullPage: true });
  };
  const real = (problems) => problems.filter((p) => !p.includes('net::ERR_ABORTED'));
  const estimate = async (rule) => {
    const e = await api(server.url, tokens.editor, '/apps/demo/estimate', {
      method: 'POST',
      body: { ds: days.at(-1), rule, tier: 'exact' },
    });
    return e.count;
  };

  test('profile: numeric quartiles and event reach equal the server', async () => {
    const { context, page, problems } = await openPage(browser, DESKTOP);
    try {
      await page.goto(signInLink());
      await page.waitForURL('**/audience');
      const audience = { tag: 'gender', in: ['female'] };
      const rule = { all: [audience] };
      await page.goto(`${server.url}/audience?rule=${encodeURIComponent(JSON.stringify(rule))}`);

      // Numeric: age's quartiles in the audience.
      const age = page.locator('[data-testid="profile-group"][data-group="age"]');
      await age.locator('summary').click();
      const row = age.locator('[data-testid="numeric-quartiles"] tr[data-who="audience"]');
      await row.getByTestId('median').waitFor({ timeout: TIMEOUT_MS });
      await age.locator('.chart svg').waitFor({ timeout: TIMEOUT_MS });
      const n = num(await row.getByTestId('q-n').textContent());
      assert.equal(n, await estimate({ all: [audience, { tag: 'age', '>=': -1000 }] }), 'users with an age');
      for (const [id, q] of [['q1', 1 / 4], ['median', 1 / 2], ['q3', 3 / 4]]) {
        const v = Number((await row.getByTestId(id).textContent()).trim());
        const rank = Math.max(1, Math.ceil(n * q));
        // The nearest-rank quantile: at least `rank` users at or below it, fewer below it.
        const atMost = await estimate({ all: [audience, { tag: 'age', '<=': v }] });
        const below = await estimate({ all: [audience, { tag: 'age', '<': v }] });
        assert.ok(atMost >= rank && below < rank, `${id} ${v}: ${below} < ${rank} <= ${atMost}`);
      }

      // Event: purchase in the last 1/7/30 days (as many as the retained days allow).
      const purchase = page.locator('[data-testid="profile-group"][data-kind="event"][data-group="purchase"]');
      await purchase.locator('summary').click();
      const reach = purchase.getByTestId('event-reach');
      await reach.locator('tr').first().waitFor({ timeout: TIMEOUT_MS });
      const windows = await reach.locator('tr').evaluateAll((rows) => rows.map((r) => r.dataset.key));
      assert.ok(windows.includes('1') && windows.includes('7'), `windows ${windows}`);
      for (const w of windows) {
        const shown = num(await reach.locator(`tr[data-key="${w}"]`).getByTestId('audience-users').textContent());
        const server_ = await estimate({
          all: [audience, { event: 'purchase', last_days: Number(w), count: { '>=': 1 } }],
        });
        assert.equal(shown, server_, `purchase in the last ${w} days`);
      }
      // Active days: the bands add up to the audience, and "0 days" is those who never did it.
      const daysTable = purchase.getByTestId('event-days');
      const bands = await daysTable.locator('tr').evaluateAll((rows) =>
        rows.map((r) => [r.dataset.key, r.querySelector('[data-testid="audience-users"]').textContent]),
      );
      const total = bands.reduce((s, [, t]) => s + num(t), 0);
      assert.equal(total, await estimate(rule), 'the bands cover the audience');
      const longest = Number(windows.at(-1));
      const never = await estimate({ all: [audience, { event: 'purchase', last_days: longest, count: { '=': 0 } }] });
      // The active-days window is min(30, retained days); here it is the longest reach window.
      assert.equal(num(bands[0][1]), never, 'audience with 0 active days');
      await purchase.locator('.chart svg').waitFor();
      await age.scrollIntoViewIfNeeded();
      await shot(page, 'views-profile-1280x800');
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });

  test('lookup: events and a timeline equal to the membership API on every day', async () => {
    const { context, page, problems } = await openPage(browser, DESKTOP);
    try {
      // A user who purchased on the latest day (so the events table has rows).
      const csv = await api(
        server.url,
        tokens.editor,
        `/apps/demo/segments/active-women-south/members?ds=${days.at(-1)}`,
      );
      const candidates = csv.split('\n').slice(1, 40).map((l) => l.trim()).filter(Boolean);
      let user;
      let latest;
      for (const c of candidates) {
        latest = await api(server.url, tokens.editor, `/apps/demo/users/${c}/tags?ds=${days.at(-1)}`);
        if (Object.keys(latest.events).length > 0) {
          user = c;
          break;
        }
      }
      assert.ok(user, 'a user with events on the latest day');
      await page.goto(signInLink());
      await page.waitForURL('**/audience');
      await page.goto(`${server.url}/lookup`);
      await page.getByTestId('lookup-input').fill(user);
      await page.getByTestId('lookup-submit').click();
      const events = page.getByTestId('lookup-events');
      await events.waitFor({ timeout: TIMEOUT_MS });
      for (const [e, count] of Object.entries(latest.events)) {
        assert.equal(num(await events.locator(`tr[data-event="${e}"]`).getByTestId('event-count').textContent()), count);
      }
      const grid = page.getByTestId('lookup-timeline').locator('table');
      await grid.waitFor({ timeout: TIMEOUT_MS });
      const shownDays = await grid.locator('th.tl-day').evaluateAll((ths) => ths.map((t) => t.dataset.ds));
      assert.deepEqual(shownDays, days);
      const rows = await grid.locator('tbody tr').evaluateAll((trs) =>
        trs.map((tr) => ({
          kind: tr.dataset.kind,
          group: tr.dataset.group,
          value: tr.dataset.value,
          states: [...tr.querySelectorAll('td')].map((td) => td.dataset.state),
        })),
      );
      assert.ok(rows.length > 5, 'rows for the tags and segments');
      const answers = [];
      for (const ds of days) {
        try {
          answers.push(await api(server.url, tokens.editor, `/apps/demo/users/${user}/tags?ds=${ds}`));
        } catch {
          answers.push(null);
        }
      }
      // Every value and segment the API names on some day has a row, and each cell agrees.
      const expected = new Set();
      for (const a of answers.filter(Boolean)) {
        for (const s of a.segments) expected.add(`segment||${s}`);
        for (const [g, vs] of Object.entries(a.tags)) for (const v of vs) expected.add(`tag|${g}|${v}`);
      }
      assert.deepEqual(new Set(rows.map((r) => `${r.kind}|${r.group}|${r.value}`)), expected);
      for (const r of rows) {
        r.states.forEach((state, i) => {
          const a = answers[i];
          if (!a) return assert.equal(state, 'no answer');
          const held = r.kind === 'segment' ? a.segments.includes(r.value) : (a.tags[r.group] ?? []).includes(r.value);
          assert.equal(['yes', 'entered'].includes(state), held, `${r.kind} ${r.group} ${r.value} on ${days[i]}`);
        });
      }
      await shot(page, 'views-lookup-1280x800');
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });

  test('overview: population sizes equal the manifests, distribution and state in the URL', async () => {
    const { context, page, problems } = await openPage(browser, DESKTOP);
    try {
      await page.goto(signInLink());
      await page.waitForURL('**/audience');
      await page.goto(`${server.url}/?population=active_7d&groups=gender,os`);
      const rows = page.getByTestId('overview-population');
      await rows.first().waitFor({ timeout: TIMEOUT_MS });
      const shown = await rows.evaluateAll((trs) =>
        trs.map((tr) => [tr.dataset.population, tr.dataset.sizes]),
      );
      const pops = shown.map(([p]) => p);
      assert.deepEqual(pops, ['all', 'active_1d', 'active_7d', 'active_30d', 'active_180d', 'paid_1d', 'paid_7d', 'paid_30d']);
      const manifests = [];
      for (const ds of days) manifests.push(await api(server.url, tokens.editor, `/apps/demo/days/${ds}/manifest`));
      for (const [p, sizes] of shown) {
        const expected = days
          .map((ds, i) => {
            const m = manifests[i];
            const n =
              p === 'all'
                ? m.universe.count
                : m.groups.find((g) => g.name === p)?.values.find((v) => v.value === 'true')?.count;
            return `${ds}=${n ?? ''}`;
          })
          .join(';');
        assert.equal(sizes, expected, p);
        const latest = Number(expected.split(';').at(-1).split('=')[1]);
        const text = await page.locator(`[data-testid="overview-population"][data-population="${p}"]`).getByTestId('population-size').textContent();
        assert.equal(num(text), latest, `${p} today`);
      }
      // The distribution of active_7d over the chosen groups, exact (the full tier fits).
      const dist = page.getByTestId('overview-distribution');
      await dist.locator('[data-testid="distribution"][data-group="gender"] .chart svg').waitFor({ timeout: TIMEOUT_MS });
      await dist.locator('[data-testid="distribution"][data-group="os"] .chart svg').waitFor({ timeout: TIMEOUT_MS });
      assert.equal(await dist.getByTestId('distribution-tier').getAttribute('data-tier'), 'full');
      // Choosing another population and a group writes the address.
      await page.locator('[data-testid="overview-population"][data-population="paid_30d"]').getByTestId('population-show').click();
      await page.locator('[data-testid="overview-groups"] input[data-group="province"]').check();
      await page.waitForFunction(() => location.search.includes('population=paid_30d') && location.search.includes('province'));
      await dist.locator('[data-testid="distribution"][data-group="province"] .chart svg').waitFor({ timeout: TIMEOUT_MS });
      await page.getByTestId('overview-movers').locator('table').waitFor({ timeout: TIMEOUT_MS });
      await page.getByTestId('overview-freshness').locator('table').waitFor({ timeout: TIMEOUT_MS });
      await shot(page, 'views-overview-1280x800');
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });
});
