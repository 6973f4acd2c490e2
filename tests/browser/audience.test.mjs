// The audience builder end to end, against the real server with generated
// demo data: sign in from the link, build a 3-condition audience with a nested
// any and a not, compare the exact count with the server's /estimate and the
// sample interval with it, save it, reload, find it in Segments, open it, read
// the profile's TGI, look up a user; screenshots of every page at 1280×800 and
// 390×844 go to tests/output/.

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
const SEGMENT_NAME = 'E2E women in the south, not active';

const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

describe('audience builder with demo data', () => {
  let server;
  let browser;
  let tokens;
  let latestDs;
  let savedId;

  before(async () => {
    await mkdir(OUTPUT_DIR, { recursive: true });
    server = await startServer({ adminToken: ADMIN_TOKEN });
    tokens = await loadDemo(server.url, ADMIN_TOKEN);
    const { days } = await api(server.url, tokens.editor, '/apps/demo/days');
    latestDs = days.at(-1).ds;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const signInLink = () => `${server.url}/signin#app=demo&token=${tokens.editor}`;
  // From the top, so the sticky header sits where it belongs in a full-page shot.
  const shot = async (page, name) => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: resolve(OUTPUT_DIR, `${name}.png`), fullPage: true });
  };
  // A request cut short by the next navigation is not a problem.
  const real = (problems) => problems.filter((p) => !p.includes('net::ERR_ABORTED'));

  /** The rule the builder wrote into the address bar. */
  const ruleInUrl = (page) => JSON.parse(new URL(page.url()).searchParams.get('rule'));

  /** Pick a tag group and values for the selected condition. */
  async function choose(page, group, values) {
    const picker = page.getByTestId('picker');
    await picker.getByTestId('group-select').selectOption(group);
    for (const value of values) {
      await picker.locator(`[data-testid="value-option"][data-value="${value}"] input`).check();
    }
  }

  async function exactCount(page) {
    const exact = page.locator('[data-testid="exact-count"][data-tier="exact"]');
    await exact.waitFor({ timeout: TIMEOUT_MS });
    return Number(await exact.getAttribute('data-count'));
  }

  test('sign in, build, check counts, save, reopen, profile, lookup (1280×800)', async () => {
    const { context, page, problems } = await openPage(browser, DESKTOP);
    try {
      // The sign-in link stores the token, clears the fragment and opens the builder.
      await page.goto(signInLink());
      await page.waitForURL('**/audience', { timeout: TIMEOUT_MS });
      assert.equal(new URL(page.url()).hash, '');
      assert.equal((await page.getByTestId('signed-in-app').textContent()).trim(), 'demo');

      // gender = female
      await page.getByTestId('add-condition').click();
      await choose(page, 'gender', ['female']);
      // any of (province in Guangdong, Zhejiang; segment lapsed-buyers)
      await page.getByTestId('add-any').click();
      const group = page.getByTestId('cond-group').first();
      await group.getByTestId('add-into-group').click();
      await choose(page, 'province', ['Guangdong', 'Zhejiang']);
      await group.getByRole('button', { name: '+ Segment' }).click();
      await page.getByTestId('picker').getByRole('radio').first().check();
      // not active_7d = true, negated from the keyboard (N on the focused row)
      await page.getByTestId('add-condition').click();
      await choose(page, 'active_7d', ['true']);
      const row = page.locator('[data-path="2"]');
      await row.focus();
      await page.keyboard.press('n');
      await page.locator('[data-path="2"] .not-badge').waitFor();

      const rule = ruleInUrl(page);
      assert.equal(rule.all.length, 3);
      assert.ok(rule.all[1].any, 'second condition is an any');
      assert.equal(rule.all[1].any.length, 2);
      assert.deepEqual(rule.all[2], { not: { tag: 'active_7d', in: ['true'] } });

      // The exact count computed in the browser equals the server's.
      const count = await exactCount(page);
      const server_ = await api(server.url, tokens.editor, '/apps/demo/estimate', {
        method: 'POST',
        body: { ds: latestDs, rule, tier: 'exact' },
      });
      assert.equal(count, server_.count);
      assert.ok(count > 0, 'the audience is not empty');
      // The sample estimate's 95% interval contains it.
      const sample = page.getByTestId('sample-estimate');
      const lo = Number(await sample.getAttribute('data-lo'));
      const hi = Number(await sample.getAttribute('data-hi'));
      assert.ok(lo <= count && count <= hi, `${lo} <= ${count} <= ${hi}`);
      // One funnel row per top-level condition, ending at the count.
      const rows = page.getByTestId('funnel-row');
      assert.equal(await rows.count(), 3);
      const last = (await rows.nth(2).getByTestId('funnel-remaining').textContent()).trim();
      assert.equal(last, count.toLocaleString('en-US'));
      assert.deepEqual(
        server_.steps.map((s) => s.count).at(-1),
        count,
        'the server funnel ends at the count too',
      );
      // Bytes fetched are shown.
      assert.match(await page.getByTestId('net-status').textContent(), /Downloaded \d+ blobs/);
      await shot(page, 'audience-1280x800');

      // Save as a dynamic segment.
      await page.getByTestId('segment-name').fill(SEGMENT_NAME);
      await page.getByTestId('save-segment').click();
      await page.getByTestId('save-status').getByText('Saved').waitFor({ timeout: TIMEOUT_MS });
      savedId = new URL(page.url()).searchParams.get('segment');
      assert.ok(savedId, 'the address names the saved segment');

      // Reload: the rule survives in the address, and blobs come from the cache.
      await page.reload();
      assert.equal(await exactCount(page), count);
      assert.deepEqual(ruleInUrl(page), rule);
      await page.getByTestId('net-status').getByText(/from cache [1-9]/).waitFor({ timeout: TIMEOUT_MS });

      // Find it in Segments and open it.
      await page.getByRole('navigation', { name: 'Main' }).getByText('Segments', { exact: true }).click();
      const segmentRow = page.locator(`[data-testid="segment-row"][data-id="${savedId}"]`);
      await segmentRow.waitFor({ timeout: TIMEOUT_MS });
      assert.match(await segmentRow.textContent(), new RegExp(SEGMENT_NAME));
      await shot(page, 'segments-1280x800');
      await segmentRow.getByTestId('open-segment').click();
      await page.waitForURL(/\/audience\?.*segment=/, { timeout: TIMEOUT_MS });
      assert.equal(await exactCount(page), count);
      assert.deepEqual(ruleInUrl(page), rule);

      // The profile shows TGI for a group opened on demand.
      const province = page.locator('[data-testid="profile-group"][data-group="province"]');
      await province.locator('summary').click();
      const tgi = province.getByTestId('tgi');
      await tgi.first().waitFor({ timeout: TIMEOUT_MS });
      assert.ok((await tgi.count()) > 5);
      const values = (await tgi.allTextContents()).map((t) => t.trim());
      assert.ok(values.some((v) => /^\d+ ▲$/.test(v)), `an over-represented value: ${values}`);
      await province.locator('.chart svg').waitFor();
      await shot(page, 'audience-profile-1280x800');

      // Look up a member of the saved segment: it lists the segment.
      const csv = await api(server.url, tokens.editor, `/apps/demo/segments/${savedId}/members`);
      const user = csv.split('\n')[1].trim();
      await page.getByRole('navigation', { name: 'Main' }).getByText('Lookup', { exact: true }).click();
      await page.getByTestId('lookup-input').fill(user);
      await page.getByTestId('lookup-submit').click();
      await page.getByTestId('lookup-segments').getByText(savedId, { exact: true }).waitFor({ timeout: TIMEOUT_MS });
      assert.match(await page.getByTestId('lookup-tags').textContent(), /female/);
      await shot(page, 'lookup-1280x800');

      // Tags: the catalog, by category, with search.
      await page.getByRole('navigation', { name: 'Main' }).getByText('Tags', { exact: true }).click();
      await page.locator('[data-testid="tag-group"][data-group="province"]').waitFor({ timeout: TIMEOUT_MS });
      await shot(page, 'tags-1280x800');
      await page.getByTestId('tag-search').fill('guang');
      await page.locator('[data-testid="tag-group"][data-group="gender"]').waitFor({ state: 'detached' });
      assert.equal(await page.locator('[data-testid="tag-group"][data-group="province"]').count(), 1);

      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });

  test('a stale write is refused and offers reload or overwrite', async () => {
    assert.ok(savedId, 'the first test saved a segment');
    const { context, page, problems } = await openPage(browser, DESKTOP);
    try {
      await page.goto(signInLink());
      await page.waitForURL('**/audience');
      await page.goto(`${server.url}/segments`);
      const segmentRow = page.locator(`[data-testid="segment-row"][data-id="${savedId}"]`);
      await segmentRow.waitFor({ timeout: TIMEOUT_MS });
      // Someone else renames it meanwhile.
      const current = await api(server.url, tokens.editor, `/apps/demo/segments/${savedId}`);
      await api(server.url, tokens.editor, `/apps/demo/segments/${savedId}`, {
        method: 'PUT',
        body: { id: savedId, name: 'Renamed elsewhere', description: '', kind: 'dynamic', rule: current.rule },
      });
      await segmentRow.getByRole('button', { name: 'Rename' }).click();
      await segmentRow.getByTestId('rename-input').fill('Renamed here');
      await segmentRow.getByRole('button', { name: 'Save' }).click();
      const conflict = page.getByTestId('conflict');
      await conflict.waitFor({ timeout: TIMEOUT_MS });
      assert.match(await conflict.textContent(), /changed elsewhere/);
      await conflict.getByRole('button', { name: 'Overwrite' }).click();
      await segmentRow.getByText('Renamed here').waitFor({ timeout: TIMEOUT_MS });
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });

  test('Static (frozen now) is one freeze request and keeps the exact count; its refusal is shown', async () => {
    const { context, page, problems } = await openPage(browser, DESKTOP);
    try {
      await page.goto(signInLink());
      await page.waitForURL('**/audience');
      const rule = { all: [{ tag: 'gender', in: ['female'] }, { tag: 'province', in: ['Guangdong', 'Zhejiang'] }] };
      await page.goto(`${server.url}/audience?rule=${encodeURIComponent(JSON.stringify(rule))}`);
      const count = await exactCount(page);
      assert.ok(count > 0, 'the audience is not empty');

      // Every segment write the page makes from here on.
      const writes = [];
      page.on('request', (r) => {
        if (r.method() !== 'GET' && /\/api\/v1\/apps\/demo\/segments/.test(r.url())) {
          writes.push(`${r.method()} ${new URL(r.url()).pathname}`);
        }
      });
      await page.getByTestId('segment-name').fill('E2E frozen women');
      await page.getByLabel('Static (frozen now)').check();
      await page.getByTestId('save-segment').click();
      await page.getByTestId('save-status').getByText('Saved').waitFor({ timeout: TIMEOUT_MS });
      assert.deepEqual(writes, ['POST /api/v1/apps/demo/segments/e2e-frozen-women/freeze']);
      assert.match(await page.getByTestId('save-status').textContent(), new RegExp(`${count.toLocaleString('en-US')} users`));
      await shot(page, 'audience-save-static-1280x800');

      // The server's static segment has exactly the builder's exact count, on the builder's day.
      const saved = await api(server.url, tokens.editor, '/apps/demo/segments/e2e-frozen-women');
      assert.equal(saved.kind, 'static');
      assert.equal(saved.members.count, count);
      const csv = await api(server.url, tokens.editor, '/apps/demo/segments/e2e-frozen-women/members');
      assert.equal(csv.trim().split('\n').length - 1, count);
      // Nothing temporary was left behind.
      const { segments } = await api(server.url, tokens.editor, '/apps/demo/segments');
      assert.deepEqual(segments.filter((s) => s.id.includes('.tmp-')), []);

      // Freezing the same name again: the server refuses (the id exists) and the page says why.
      writes.length = 0;
      await page.getByTestId('save-segment').click();
      const status = page.getByTestId('save-status');
      await status.getByText(/409/).waitFor({ timeout: TIMEOUT_MS });
      assert.match(await status.textContent(), /segment `e2e-frozen-women` exists/);
      assert.deepEqual(writes, ['POST /api/v1/apps/demo/segments/e2e-frozen-women/freeze']);
      // The refused request shows as a console error in Chromium: the only one expected.
      assert.deepEqual(
        real(problems).filter((p) => !p.includes('409')),
        [],
      );
    } finally {
      await context.close();
    }
  });

  test('every page fits a phone (390×844)', async () => {
    const { context, page, problems } = await openPage(browser, PHONE);
    try {
      await page.goto(`${server.url}/signin`);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: TIMEOUT_MS });
      await shot(page, 'signin-390x844');
      await page.goto(signInLink());
      await page.waitForURL('**/audience');
      const rule = {
        all: [
          { tag: 'gender', in: ['female'] },
          { any: [{ tag: 'province', in: ['Guangdong', 'Zhejiang'] }, { tag: 'interests', in: ['beauty'] }] },
          { not: { tag: 'active_7d', in: ['true'] } },
        ],
      };
      await page.goto(`${server.url}/audience?rule=${encodeURIComponent(JSON.stringify(rule))}`);
      await exactCount(page);
      const pages = [
        ['audience', null],
        ['tags', '[data-testid="tag-group"]'],
        ['segments', '[data-testid="segment-row"]'],
        ['lookup', '[data-testid="lookup-input"]'],
      ];
      for (const [name, selector] of pages) {
        if (selector) {
          await page.goto(`${server.url}/${name}`);
          await page.locator(selector).first().waitFor({ timeout: TIMEOUT_MS });
        }
        const overflow = await page.evaluate(
          () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
        );
        assert.equal(overflow, 0, `${name} is not wider than the phone`);
        await shot(page, `${name}-390x844`);
      }
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });

  test('signing out forgets the token', async () => {
    const { context, page } = await openPage(browser, DESKTOP);
    try {
      await page.goto(signInLink());
      await page.waitForURL('**/audience');
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByTestId('needs-signin').waitFor({ timeout: TIMEOUT_MS });
      assert.equal(await page.evaluate(() => localStorage.getItem('sieve.session')), null);
    } finally {
      await context.close();
    }
  });
});
