// Browser test of the operator terminal (#/terminal) and the screen's
// downtime Pareto, against the demo plant.
//
//   node --test web/tests/
//
// Server: see support.mjs (ZHIZAO_URL + ZHIZAO_ADMIN_PASSWORD, or ZHIZAO_BIN).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { adminApi, launchBrowser, loginPage, resultsDir, startServer, withoutBreaks } from './support.mjs';

const tid = (id) => `[data-testid="${id}"]`;

describe('operator terminal and downtime Pareto', () => {
  let server;
  let restoreCalendars;
  let browser;
  let page;
  let api;
  const pageErrors = [];

  /** Polls `probe` until it gives something, for at most `ms`. */
  async function eventually(probe, ms, what) {
    const deadline = Date.now() + ms;
    for (;;) {
      const got = await probe();
      if (got) return got;
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  before(async () => {
    mkdirSync(resultsDir, { recursive: true });
    server = await startServer();
    api = await adminApi(server);
    restoreCalendars = await withoutBreaks(api);
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await loginPage(page, server);
  });

  after(async () => {
    await restoreCalendars?.();
    await browser?.close();
    await server?.stop();
  });

  it('shows the downtime Pareto on the screen once the plant has stopped somewhere', async () => {
    // The simulated machines start in random states; some are stopped.
    const pareto = await eventually(
      async () => {
        const p = await api('GET', '/kpi/downtime?from=-8h');
        return p.items.length > 0 ? p : null;
      },
      30_000,
      'a stop in the demo plant',
    );
    assert.ok(pareto.total_seconds > 0);
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.reload();
    const panel = page.locator(tid('downtime-pareto'));
    await panel.waitFor();
    await page.waitForFunction(
      (sel) => Number(document.querySelector(sel)?.getAttribute('data-items')) > 0,
      tid('downtime-pareto'),
    );
    assert.equal(await panel.locator('canvas').count(), 1, 'the chart is drawn');
    // Eight states are counted, the new stop states among them.
    for (const s of ['planned_stop', 'blocked', 'starved']) {
      await page.locator(`[data-state-count="${s}"]`).waitFor();
    }
    await page.waitForTimeout(800);
    await page.screenshot({ path: join(resultsDir, 'screen-pareto-zh.png') });
  });

  it('lets an operator give the stop at the machine its reason in two touches', async () => {
    const machines = (await api('GET', '/equipment?limit=100')).items;
    const found = await eventually(
      async () => {
        for (const m of machines) {
          const open = (await api('GET', `/equipment/${m.id}/stops`)).filter((s) => s.reason === null);
          if (open.length > 0) return { machine: m, stop: open[0] };
        }
        return null;
      },
      30_000,
      'an unexplained stop',
    );
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${server.baseUrl}/#/terminal?id=${found.machine.id}`);
    const card = page.locator(tid('terminal-state'));
    await card.waitFor();
    assert.match(await card.innerText(), new RegExp(found.machine.code));
    assert.equal(await page.locator(tid('terminal-machine')).inputValue(), String(found.machine.id));
    await page.locator(tid('terminal-shift')).waitFor();

    const stops = page.locator(tid('terminal-stop'));
    await stops.first().waitFor();
    await stops.first().click();
    const reasons = page.locator(tid('terminal-reasons'));
    // A group first, then the reason inside it.
    await reasons.locator('[data-code="material"]').click();
    await reasons.getByText('等待吊运').waitFor();
    await page.screenshot({ path: join(resultsDir, 'terminal-reasons-zh.png') });
    await reasons.locator('[data-code="material.crane"]').click();
    await page.locator(tid('terminal-saved')).getByText('已记录：等待吊运').waitFor();

    // The newest unexplained stop is first on the terminal.
    const explained = await eventually(
      async () => {
        const all = await api('GET', `/equipment/${found.machine.id}/stops`);
        return all.find((s) => s.reason?.code === 'material.crane') ?? null;
      },
      5_000,
      'the reason over the API',
    );
    assert.equal(explained.by, 'admin');

    await page.click(tid('lang-toggle'));
    await page.getByText(/Stops to explain \(\d+\)/).waitFor();
    await page.screenshot({ path: join(resultsDir, 'terminal-en.png') });
    await page.click(tid('lang-toggle'));
  });

  it('raised no page errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});
