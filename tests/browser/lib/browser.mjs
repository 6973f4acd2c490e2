// Debian's Chromium, driven by playwright-core (no browser download).

import { chromium } from 'playwright-core';

/** Path of the browser; CHROMIUM_BIN overrides Debian's. */
export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

// Headless, and no background traffic: this machine reaches only package
// registries, and Chromium's own connections would fail, many at a time.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** Launch a fresh headless browser (playwright gives it an empty profile). */
export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM_BIN, headless: true, args: ARGS });
}

/**
 * Open a page that records what goes wrong in it: uncaught exceptions,
 * console errors, and failed requests.
 */
export async function openPage(browser, contextOptions) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('requestfailed', (request) =>
    problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`),
  );
  return { context, page, problems };
}
