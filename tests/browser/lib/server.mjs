// Starts the real `sieve serve` on a free loopback port, with an empty data
// directory and the built app, and stops it again.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = resolve(import.meta.dirname, '../../..');
const STARTUP_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** A port that was free a moment ago on 127.0.0.1. */
async function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

/**
 * Start `sieve serve`. SIEVE_BIN names the binary (required), SIEVE_DIST the
 * built app (default: the repository's dist/). `adminToken` opens the admin
 * routes (needed to load demo data); `args` are passed on to `sieve serve`.
 * Returns { url, stop(), logs() } once GET /api/v1/health answers 200.
 */
export async function startServer({ adminToken, args = [] } = {}) {
  const bin = process.env.SIEVE_BIN;
  if (!bin) throw new Error('SIEVE_BIN must name the sieve binary (bash .dev/test.sh sets it)');
  const dist = process.env.SIEVE_DIST ?? join(ROOT, 'dist');
  const dataDir = await mkdtemp(join(tmpdir(), 'sieve-browser-test-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;

  let output = '';
  const child = spawn(
    bin,
    [
      'serve',
      '--addr',
      `127.0.0.1:${port}`,
      '--data-dir',
      dataDir,
      '--dist',
      dist,
      ...(adminToken ? ['--admin-token', adminToken] : []),
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolveExit) =>
    child.on('exit', (code, signal) => resolveExit({ code, signal })),
  );
  let exit = null;
  exited.then((status) => (exit = status));
  const spawnError = new Promise((_, reject) => child.on('error', reject));
  spawnError.catch(() => {});

  async function stop() {
    if (exit === null) {
      child.kill('SIGTERM');
      // An unref'd timer: it must not keep node alive once the server has exited.
      const timedOut = await Promise.race([
        exited.then(() => false),
        sleep(STOP_TIMEOUT_MS, true, { ref: false }),
      ]);
      if (timedOut) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    await rm(dataDir, { recursive: true, force: true });
  }

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    await Promise.race([sleep(100), spawnError]);
    if (exit !== null) {
      await stop();
      throw new Error(`sieve serve exited (${JSON.stringify(exit)}) before it was healthy:\n${output}`);
    }
    try {
      const response = await fetch(`${url}/api/v1/health`);
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`sieve serve not healthy after ${STARTUP_TIMEOUT_MS} ms:\n${output}`);
    }
  }
  return { url, stop, logs: () => output };
}
