// Browser test of the web UI against a running Zhizao server.
//
//   node --test web/tests/
//
// With ZHIZAO_URL (and ZHIZAO_ADMIN_PASSWORD) set, the test uses that server.
// Otherwise it starts `zhizao demo` itself from ZHIZAO_BIN (default
// target/debug/zhizao) on a free port with a fresh data directory.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(webDir, '..');
const resultsDir = join(webDir, 'test-results');

const TILE = '[data-equipment-code][data-state]';
const TREND = '[data-testid="temperature-trend"]';

function freePort() {
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
async function startServer() {
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
  const server = spawn(bin, ['demo', '--listen', `127.0.0.1:${port}`, '--mqtt-listen', '127.0.0.1:0', '--data-dir', dataDir], {
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
  return { baseUrl, password, stop };
}

describe('zhizao web UI', () => {
  let server;
  let browser;
  let page;
  const pageErrors = [];

  before(async () => {
    mkdirSync(resultsDir, { recursive: true });
    server = await startServer();
    browser = await chromium.launch({
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
    const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('rejects a wrong password with the server message', async () => {
    await page.goto(`${server.baseUrl}/#/login`);
    await page.fill('input[name="username"]', 'admin');
    await page.fill('input[name="password"]', `wrong-${server.password}`);
    await page.click('[data-testid="login-submit"]');
    const error = page.locator('[data-testid="login-error"]');
    await error.waitFor({ state: 'visible' });
    assert.notEqual((await error.innerText()).trim(), '');
    assert.match(page.url(), /#\/login/);
  });

  it('logs in and shows the control-centre screen with machine tiles', async () => {
    await page.fill('input[name="password"]', server.password);
    await page.click('[data-testid="login-submit"]');
    await page.waitForURL(/#\/screen/);
    await page.waitForFunction((sel) => document.querySelectorAll(sel).length >= 30, TILE);
    const tiles = await page.locator(TILE).count();
    assert.ok(tiles >= 30, `expected at least 30 machine tiles, got ${tiles}`);
    await page.locator('[data-testid="state-counts"]').waitFor();
    await page.locator('[data-testid="event-ticker"]').waitFor();
    assert.match(await page.locator('[data-testid="screen-title"]').innerText(), /生产控制中心/);
  });

  it('draws the temperature trend of a line from history within 20 s', async () => {
    await page.waitForFunction((sel) => Number(document.querySelector(sel)?.dataset.seriesCount) >= 1, TREND, {
      timeout: 20_000,
    });
    await page.waitForTimeout(1500); // let the charts finish their entry animation
    await page.screenshot({ path: join(resultsDir, 'screen-zh.png') });
  });

  it('pins a line on the trend with a click on its row and unpins it with a second click', async () => {
    const trend = page.locator(TREND);
    const mode = page.locator('[data-testid="trend-mode"]');
    const row = page.locator('[data-testid="plant-overview"] [data-line-code]').last();
    const code = await row.getAttribute('data-line-code');
    await row.click();
    await page.waitForFunction(({ sel, code }) => document.querySelector(sel)?.dataset.lineCode === code, {
      sel: TREND,
      code,
    });
    assert.equal(await mode.getAttribute('data-pinned'), 'true');
    await row.click();
    await page.waitForFunction(() => document.querySelector('[data-testid="trend-mode"]')?.dataset.pinned === 'false');
    assert.equal(await trend.getAttribute('data-line-code'), code, 'rotation resumes from the pinned line');
  });

  it('updates machine states live within 10 s', async () => {
    const before = await page.$$eval(TILE, (els) =>
      Object.fromEntries(els.map((el) => [el.dataset.equipmentCode, el.dataset.state])),
    );
    await page.waitForFunction(
      ({ sel, states }) =>
        [...document.querySelectorAll(sel)].some((el) => {
          const old = states[el.dataset.equipmentCode];
          return old !== undefined && old !== el.dataset.state;
        }),
      { sel: TILE, states: before },
      { timeout: 10_000 },
    );
  });

  it('switches to English', async () => {
    await page.click('[data-testid="lang-toggle"]');
    const counts = page.locator('[data-testid="state-counts"]');
    await counts.getByText('Running', { exact: true }).waitFor();
    assert.match(await page.locator('[data-testid="screen-title"]').innerText(), /Production Control Center/);
    await page.waitForTimeout(800);
    await page.screenshot({ path: join(resultsDir, 'screen-en.png') });
  });

  it('lists equipment and shows the field error for a duplicate code', async () => {
    await page.click('[data-testid="nav-equipment"]');
    await page.waitForURL(/#\/admin\/equipment/);
    const rows = page.locator('[data-testid="equipment-table"] tbody tr');
    await rows.first().waitFor();
    assert.ok((await rows.count()) > 0, 'the equipment table has rows');
    const existingCode = (await rows.first().locator('td').first().innerText()).trim();
    assert.notEqual(existingCode, '');

    await page.click('[data-testid="equipment-create"]');
    const form = page.locator('[data-testid="equipment-form"]');
    await form.waitFor();
    await form.locator('input[name="code"]').fill(existingCode);
    await form.locator('input[name="name"]').fill('Duplicate test machine');
    await form.locator('input[name="equipment_type"]').fill('cnc');
    await form.locator('select[name="line_id"]').selectOption({ index: 1 });
    await page.click('[data-testid="equipment-save"]');
    const fieldError = form.locator('[data-testid="field-error-code"]');
    await fieldError.waitFor({ state: 'visible' });
    assert.notEqual((await fieldError.innerText()).trim(), '');
    await page.screenshot({ path: join(resultsDir, 'admin-duplicate.png') });
  });

  it('raised no uncaught errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
