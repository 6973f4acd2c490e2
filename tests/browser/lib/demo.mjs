// Demo data for browser tests: `sieve demo` writes a small population as CSV,
// `sieve load` creates the app `demo` on a running server, uploads it through
// the HTTP routes and writes the app's tokens.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Generate and load a demo of `users` users over `days` days into the server
 * at `url`. Returns { app, editor, viewer, service } (the app's tokens).
 */
export async function loadDemo(url, adminToken, { users = 20000, days = 3 } = {}) {
  const bin = process.env.SIEVE_BIN;
  const dir = await mkdtemp(join(tmpdir(), 'sieve-demo-'));
  try {
    await run(bin, ['demo', '--users', String(users), '--days', String(days), '--out', join(dir, 'csv')]);
    const tokensFile = join(dir, 'tokens.json');
    await run(
      bin,
      ['load', '--url', url, '--admin-token', adminToken, '--dir', join(dir, 'csv'), '--tokens-out', tokensFile],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    return JSON.parse(await readFile(tokensFile, 'utf8'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Call the API with an app token; returns the decoded JSON (or text). */
export async function api(url, token, path, { method = 'GET', body } = {}) {
  const response = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      // Uncompressed: compressed, the server's member export stream is polled past its end
      // and the connection breaks (a server bug, reported).
      'Accept-Encoding': 'identity',
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text;
}
