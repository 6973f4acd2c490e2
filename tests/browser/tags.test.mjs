// Tag governance (issue 15) on the Tags page, in Chromium against the real server: an
// editor moves a group to another category in place (no manifest changes), takes a group
// offline after the page lists the segment it affects, approves a held upload from the
// holds panel (the navigation's badge counts it first), restores a version, and defines a
// composite tag whose values then count what the API's estimates of their rules count; a
// viewer sees all of it read-only. Screenshots go to tests/output/.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launchBrowser, openPage } from './lib/browser.mjs';
import { api } from './lib/demo.mjs';
import { startServer } from './lib/server.mjs';

const OUTPUT_DIR = resolve(import.meta.dirname, '../output');
const ADMIN_TOKEN = 'browser-test-admin-token';
const TIMEOUT_MS = 20_000;
const DESKTOP = { viewport: { width: 1280, height: 1000 } };
const D1 = '2026-11-18';
const D2 = '2026-11-19';
const USERS = 600;

/** `user_id,value` rows of users `0..n`: female for even ids. */
function genderCsv(n) {
  let out = 'user_id,value\n';
  for (let i = 0; i < n; i++) out += `u${i},${i % 2 === 0 ? 'female' : 'male'}\n`;
  return out;
}

/** The oracle: how many rows of a CSV hold `value`. */
const recount = (csv, value) => csv.split('\n').slice(1).filter((l) => l.split(',')[1] === value).length;

/** Waits until the gender card's summary says `n holders` (the page read a new version). */
const holdersShown = (page, n) =>
  page.waitForFunction(
    (text) =>
      [...document.querySelectorAll('[data-testid="tag-group"][data-group="gender"] .muted.small')].some((e) =>
        e.textContent.includes(text),
      ),
    `${n} holders`,
    { timeout: 20_000 },
  );

describe('tag governance on the Tags page', () => {
  let server;
  let browser;
  let editor;
  let viewer;

  const upload = async (token, ds, group, csv) => {
    const r = await fetch(`${server.url}/api/v1/apps/tg/days/${ds}/tags/${group}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/csv' },
      body: csv,
    });
    return { status: r.status, body: await r.json() };
  };
  const count = async (ds, rule) =>
    (await api(server.url, editor, '/apps/tg/estimate', { method: 'POST', body: { ds, rule } })).count;
  const catalogGroup = async (name) =>
    (await api(server.url, editor, '/apps/tg/groups')).groups.find((g) => g.name === name);

  before(async () => {
    await mkdir(OUTPUT_DIR, { recursive: true });
    server = await startServer({ adminToken: ADMIN_TOKEN });
    await api(server.url, ADMIN_TOKEN, '/apps', { method: 'POST', body: { id: 'tg', name: 'Tags governance' } });
    const token = async (role) =>
      (await api(server.url, ADMIN_TOKEN, '/apps/tg/tokens', { method: 'POST', body: { role, name: `E2E ${role}` } }))
        .token;
    editor = await token('editor');
    viewer = await token('viewer');
    for (const ds of [D1, D2]) {
      assert.equal((await upload(editor, ds, 'gender', genderCsv(USERS))).status, 200);
      let plan = 'user_id,value\n';
      for (let i = 0; i < USERS; i++) plan += `u${i},${i % 5 === 0 ? 'pro' : 'free'}\n`;
      assert.equal((await upload(editor, ds, 'plan', plan)).status, 200);
    }
    await api(server.url, editor, '/apps/tg/segments', {
      method: 'POST',
      body: { id: 'women', name: 'women', rule: { tag: 'gender', in: ['female'] } },
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const signIn = async (page, secret) => {
    await page.goto(`${server.url}/signin#app=tg&token=${secret}`);
    await page.waitForURL('**/audience', { timeout: TIMEOUT_MS });
    await page.goto(`${server.url}/tags`);
    await page.waitForSelector('[data-testid="tag-group"][data-group="gender"]', { timeout: TIMEOUT_MS });
  };
  const shot = async (page, name) => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: resolve(OUTPUT_DIR, `${name}.png`), fullPage: true });
  };
  // Requests a navigation cut short (signing in, then opening the Tags page) are not problems.
  const real = (problems) => problems.filter((p) => !p.includes('net::ERR_ABORTED'));
  const card = (page, group) => page.locator(`[data-testid="tag-group"][data-group="${group}"]`);

  test('an editor moves a group in the category tree and takes it offline after seeing who is affected', async () => {
    const { context, page, problems } = await openPage(browser, DESKTOP);
    try {
      await signIn(page, editor);
      const daysBefore = await api(server.url, editor, '/apps/tg/days');
      const gender = card(page, 'gender');
      await gender.getByTestId('edit-group').click();
      await gender.getByTestId('edit-category').fill('people/basic');
      await gender.getByTestId('edit-owner').fill('data team');
      await gender.getByTestId('edit-display_name').fill('Gender');
      await gender.getByTestId('save-group').click();
      // The card moves under the new category, with its new name, in place.
      const moved = page.locator('[data-testid="category"][data-path="people/basic"] [data-group="gender"]');
      await moved.waitFor({ timeout: TIMEOUT_MS });
      assert.equal((await moved.locator('.group-name').textContent()).trim(), 'Gender');
      assert.match(await moved.getByTestId('group-meta').textContent(), /owner data team/);
      const g = await catalogGroup('gender');
      assert.equal(g.category, 'people/basic');
      assert.deepEqual(await api(server.url, editor, '/apps/tg/days'), daysBefore, 'metadata only: no version');

      // A bad category is refused with the field named, and nothing changes.
      await moved.getByTestId('edit-group').click();
      await moved.getByTestId('edit-category').fill('a//b');
      await moved.getByTestId('save-group').click();
      await page.getByText(/demographics\/location/).first().waitFor({ timeout: TIMEOUT_MS });
      assert.equal((await catalogGroup('gender')).category, 'people/basic');
      await moved.getByTestId('edit-category').fill('people/basic');

      // Offline: the page asks, naming the segment that uses the group, before changing anything.
      await moved.getByTestId('edit-status').selectOption('offline');
      await moved.getByTestId('save-group').click();
      const confirm = moved.getByTestId('offline-confirm');
      await confirm.waitFor({ timeout: TIMEOUT_MS });
      assert.match(await confirm.getByTestId('affected').textContent(), /women/);
      assert.equal((await catalogGroup('gender')).status, 'active', 'not before confirming');
      await shot(page, 'tags-offline-confirm');
      await confirm.getByTestId('confirm-offline').click();
      await moved.getByTestId('offline').waitFor({ timeout: TIMEOUT_MS });
      const after = await catalogGroup('gender');
      assert.equal(after.status, 'offline');
      assert.equal(after.offline_from, '2026-11-20');
      // Back online, through the API (the next tests use the group).
      await api(server.url, editor, '/apps/tg/groups/gender', { method: 'PATCH', body: { status: 'active' } });
      assert.deepEqual(real(problems).filter((p) => !p.includes('status of 400')), []);
    } finally {
      await context.close();
    }
  });

  test('a held upload shows in the badge and the holds panel, and approving it publishes it', async () => {
    await api(server.url, editor, '/apps/tg/groups/gender', {
      method: 'PATCH',
      body: { quality: { policy: 'hold', max_change_pct: 30 } },
    });
    const truncated = genderCsv(USERS).split('\n').slice(0, 201).join('\n') + '\n';
    const before = await count(D2, { tag: 'gender', in: ['female'] });
    const held = await upload(editor, D2, 'gender', truncated);
    assert.equal(held.status, 202);
    assert.equal(await count(D2, { tag: 'gender', in: ['female'] }), before, 'nothing changed yet');
    const { context, page, problems } = await openPage(browser, DESKTOP);
    try {
      await signIn(page, editor);
      const badge = page.getByTestId('nav-attention');
      await badge.waitFor({ timeout: TIMEOUT_MS });
      assert.equal((await badge.textContent()).trim(), '1');
      const hold = page.locator('[data-testid="hold"][data-group="gender"]');
      await hold.waitFor({ timeout: TIMEOUT_MS });
      assert.match(await hold.textContent(), /600 → 200 users with a value/);
      await card(page, 'gender').getByTestId('held').waitFor({ timeout: TIMEOUT_MS });
      await shot(page, 'tags-held');
      await hold.getByTestId('approve').click();
      await page.getByTestId('holds').waitFor({ state: 'detached', timeout: TIMEOUT_MS });
      await badge.waitFor({ state: 'detached', timeout: TIMEOUT_MS });
      assert.equal(await count(D2, { tag: 'gender', in: ['female'] }), recount(truncated, 'female'));
      // The card reads the new version: 200 holders.
      await holdersShown(page, 200);
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });

  test('restoring a version from the card brings its counts back', async () => {
    const { context, page, problems } = await openPage(browser, DESKTOP);
    try {
      await signIn(page, editor);
      // The page shows the latest day (D2): its version 1 held the full upload.
      const gender = card(page, 'gender');
      await gender.getByTestId('group-history').click();
      const v1 = gender.locator('[data-testid="version-row"][data-version="1"]');
      await v1.waitFor({ timeout: TIMEOUT_MS });
      await shot(page, 'tags-versions');
      await v1.getByTestId('restore').click();
      await holdersShown(page, 600);
      assert.equal(await count(D2, { tag: 'gender', in: ['female'] }), recount(genderCsv(USERS), 'female'));
      const versions = await api(server.url, editor, `/apps/tg/days/${D2}/versions`);
      assert.equal(versions.versions[0].cause, 'restore');
      assert.equal(versions.versions[0].restored_from, 1);
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });

  test('an editor defines a composite tag whose values count what their rules count', async () => {
    const { context, page, problems } = await openPage(browser, DESKTOP);
    try {
      await signIn(page, editor);
      const form = page.getByTestId('composite-form');
      await form.getByTestId('composite-group').fill('grade');
      await form.getByTestId('composite-category').fill('value');
      const rules = {
        pro_women: { all: [{ tag: 'plan', in: ['pro'] }, { tag: 'gender', in: ['female'] }] },
        pro: { tag: 'plan', in: ['pro'] },
        rest: { all: [] },
      };
      await form.getByTestId('composite-values').fill(JSON.stringify(rules, null, 2));
      await form.getByTestId('save-composite').click();
      await page.locator('[data-testid="composite"][data-group="grade"]').waitFor({ timeout: TIMEOUT_MS });
      const grade = card(page, 'grade');
      await grade.waitFor({ timeout: TIMEOUT_MS });
      await shot(page, 'tags-composite');
      // First match: pro women, then the other pros, then everyone else, against the API's
      // estimates of the rules themselves.
      const proWomen = await count(D2, rules.pro_women);
      const pros = await count(D2, rules.pro);
      const all = await count(D2, { all: [] });
      const shown = async (value) => {
        const row = grade.locator('.value-row', { has: page.locator('.value-name', { hasText: new RegExp(`^${value}$`) }) });
        return Number((await row.getByTestId('value-count').textContent()).replace(/[^0-9]/g, ''));
      };
      assert.equal(await shown('pro_women'), proWomen);
      assert.equal(await shown('pro'), pros - proWomen);
      assert.equal(await shown('rest'), all - pros);
      assert.ok((await grade.textContent()).includes('composite'));
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });

  test('a viewer reads the catalog, the holds and the versions, and is offered no change', async () => {
    const truncated = genderCsv(USERS).split('\n').slice(0, 101).join('\n') + '\n';
    assert.equal((await upload(editor, D2, 'gender', truncated)).status, 202);
    const { context, page, problems } = await openPage(browser, DESKTOP);
    try {
      await signIn(page, viewer);
      await page.locator('[data-testid="hold"][data-group="gender"]').waitFor({ timeout: TIMEOUT_MS });
      assert.equal(await page.getByTestId('approve').count(), 0);
      assert.equal(await page.getByTestId('edit-group').count(), 0);
      assert.equal(await page.getByTestId('composite-form').count(), 0);
      const gender = card(page, 'gender');
      assert.match(await gender.getByTestId('group-usage').textContent(), /1 segment · 1 composite/);
      await gender.getByTestId('group-history').click();
      await gender.locator('[data-testid="version-row"]').first().waitFor({ timeout: TIMEOUT_MS });
      assert.equal(await gender.getByTestId('restore').count(), 0);
      await shot(page, 'tags-viewer');
      assert.deepEqual(real(problems), []);
    } finally {
      await context.close();
    }
  });
});
