// Shared by the browser tests: a Zhizao server to test against, and the
// system Chromium.
//
// With ZHIZAO_URL (and ZHIZAO_ADMIN_PASSWORD) set, the tests use that server.
// Otherwise each test file starts `zhizao demo` itself from ZHIZAO_BIN
// (default target/debug/zhizao) on a free port with a fresh data directory.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const webDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(webDir, '..');
export const resultsDir = join(webDir, 'test-results');

export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

async function waitForHealthy(baseUrl, server, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`zhizao exited early with code ${server.exitCode}`);
    try {
      const res = await fetch(`${baseUrl}/healthz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${baseUrl}/healthz did not return 200 within ${timeoutMs / 1000} s`);
}

/** Starts `zhizao demo` unless ZHIZAO_URL points at a running server. */
export async function startServer() {
  if (process.env.ZHIZAO_URL) {
    const password = process.env.ZHIZAO_ADMIN_PASSWORD;
    assert.ok(password, 'ZHIZAO_ADMIN_PASSWORD must be set together with ZHIZAO_URL');
    return { baseUrl: process.env.ZHIZAO_URL.replace(/\/+$/, ''), password, stop: async () => {} };
  }
  const bin = resolve(repoRoot, process.env.ZHIZAO_BIN ?? 'target/debug/zhizao');
  assert.ok(existsSync(bin), `server binary not found: ${bin} (build it or set ZHIZAO_BIN / ZHIZAO_URL)`);
  const password = randomBytes(12).toString('hex');
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'zhizao-e2e-'));
  const baseUrl = `http://127.0.0.1:${port}`;
  const mqttPort = await freePort();
  const server = spawn(bin, ['demo', '--listen', `127.0.0.1:${port}`, '--mqtt-listen', `127.0.0.1:${mqttPort}`, '--data-dir', dataDir], {
    env: { ...process.env, ZHIZAO_ADMIN_PASSWORD: password },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (chunk) => {
    log = (log + chunk).slice(-20000);
  };
  server.stdout.on('data', keep);
  server.stderr.on('data', keep);
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForHealthy(baseUrl, server, 60_000);
  } catch (err) {
    await stop();
    throw new Error(`${err.message}\n--- server output ---\n${log}`);
  }
  return { baseUrl, password, stop, mqttPort };
}

/** The system Chromium, headless; never a downloaded browser. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Logs the admin in over the API; returns a client `api(method, path, body)` that fails on any non-2xx. */
export async function adminApi(server) {
  const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: server.password }),
  });
  assert.equal(login.status, 200, 'the admin logs in over the API');
  const { token } = await login.json();
  return async function api(method, path, body) {
    const res = await fetch(`${server.baseUrl}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    assert.ok(res.ok, `${method} ${path}: HTTP ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
}

/** Signs the admin in through the login page. */
export async function loginPage(page, server) {
  await page.goto(`${server.baseUrl}/#/login`);
  await page.fill('input[name="username"]', 'admin');
  await page.fill('input[name="password"]', server.password);
  await page.click('[data-testid="login-submit"]');
  await page.waitForURL(/#\/screen/);
}

/**
 * Takes the breaks out of every site's calendar. Time in a break is planned
 * downtime, so a demo that starts during one has no OEE and counts no stop
 * time yet; tests must not depend on the hour they run at. Returns what
 * puts the calendars back (for a shared server).
 */
export async function withoutBreaks(api) {
  const sites = await api('GET', '/sites?limit=100');
  const saved = [];
  for (const site of sites.items) {
    const { calendar, default: isDefault } = await api('GET', `/sites/${site.id}/calendar`);
    if (!isDefault) saved.push([site.id, structuredClone(calendar)]);
    for (const shift of calendar.pattern.shifts) shift.breaks = [];
    await api('PUT', `/sites/${site.id}/calendar`, calendar);
  }
  return async () => {
    for (const [id, calendar] of saved) await api('PUT', `/sites/${id}/calendar`, calendar);
  };
}
