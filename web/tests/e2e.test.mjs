// Browser test of the web UI against a running Zhizao server.
//
//   node --test web/tests/
//
// With ZHIZAO_URL (and ZHIZAO_ADMIN_PASSWORD) set, the test uses that server.
// Otherwise it starts `zhizao demo` itself from ZHIZAO_BIN (default
// target/debug/zhizao) on a free port with a fresh data directory.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { adminApi, launchBrowser, resultsDir, startServer, withoutBreaks } from './support.mjs';

const TILE = '[data-equipment-code][data-state]';
const TREND = '[data-testid="temperature-trend"]';

/** MQTT remaining-length varint. */
function mqttLength(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

const mqttString = (s) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};

/** A minimal MQTT 3.1.1 client: connect, publish each message with QoS 1, wait for every PUBACK. */
function mqttPublish(port, username, password, messages) {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('MQTT timed out'));
    }, 10_000);
    let buffered = Buffer.alloc(0);
    let acks = 0;
    socket.on('error', reject);
    socket.on('connect', () => {
      const variable = Buffer.concat([mqttString('MQTT'), Buffer.from([4, 0xc2, 0, 60])]);
      const payload = Buffer.concat([mqttString('e2e-client'), mqttString(username), mqttString(password)]);
      socket.write(Buffer.concat([Buffer.from([0x10]), mqttLength(variable.length + payload.length), variable, payload]));
    });
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered[1]) {
        const type = buffered[0] >> 4;
        const body = buffered.subarray(2, 2 + buffered[1]);
        buffered = buffered.subarray(2 + buffered[1]);
        if (type === 2) {
          if (body[1] !== 0) return reject(new Error(`CONNACK code ${body[1]}`));
          messages.forEach(([topic, text], i) => {
            const rest = Buffer.concat([mqttString(topic), Buffer.from([0, i + 1]), Buffer.from(text, 'utf8')]);
            socket.write(Buffer.concat([Buffer.from([0x32]), mqttLength(rest.length), rest]));
          });
        } else if (type === 4 && ++acks === messages.length) {
          clearTimeout(timer);
          socket.end(Buffer.from([0xe0, 0]));
          resolve();
        }
      }
    });
  });
}

describe('zhizao web UI', () => {
  let server;
  let restoreCalendars;
  let browser;
  let page;
  const pageErrors = [];

  before(async () => {
    mkdirSync(resultsDir, { recursive: true });
    server = await startServer();
    restoreCalendars = await withoutBreaks(await adminApi(server));
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  after(async () => {
    await restoreCalendars?.();
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
    await page.locator('[data-testid="alarm-list"]').waitFor();
    assert.match(await page.locator('[data-testid="screen-title"]').innerText(), /生产控制中心/);
  });

  it('draws the temperature trend of a line from history within 20 s', async () => {
    await page.waitForFunction((sel) => Number(document.querySelector(sel)?.dataset.seriesCount) >= 1, TREND, {
      timeout: 20_000,
    });
    // Under the trend, each machine of the line as a strip of its states.
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="state-timeline"] [data-testid^="timeline-"] .seg').length > 0,
      null,
      { timeout: 20_000 },
    );
    // The shift OEE panel lists every line, with a figure once its
    // machines have reported (the demo plant has ideal cycle times).
    await page.waitForFunction(
      () => {
        const rows = document.querySelectorAll('[data-testid="oee-by-line"] [data-testid^="oee-L-"]');
        return rows.length === 9 && [...rows].some((r) => /\d+%/.test(r.textContent ?? ''));
      },
      null,
      { timeout: 30_000 },
    );
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

  it('registers a device, shows its password once, and its traffic and last rejection', async () => {
    await page.keyboard.press('Escape');
    await page.click('[data-testid="nav-devices"]');
    await page.waitForURL(/#\/admin\/devices/);
    // The demo plant's simulated gateways are registered devices too: one
    // JSON gateway and one Sparkplug B edge node per line, both sending.
    await page.waitForFunction(
      () =>
        ['sim-STEEL-L-CUT-json', 'sim-STEEL-L-CUT-spb'].every((code) => {
          const r = document.querySelector(`[data-testid="device-row-${code}"]`);
          if (r === null) return false;
          const td = r.querySelectorAll('td');
          return Number(td[5].textContent) > 0 && td[7].textContent.trim() === '0';
        }),
      null,
      { timeout: 20_000 },
    );
    // Both are connected, and the edge node reports its machines online.
    const json = await page.locator('[data-testid="device-status-sim-STEEL-L-CUT-json"]').innerText();
    assert.match(json, /在线|online/);
    const edge = await page.locator('[data-testid="device-status-sim-STEEL-L-CUT-spb"]').innerText();
    assert.match(edge, /Sparkplug/);
    const [up, all] = (edge.match(/(\d+)\/(\d+)/) ?? []).slice(1).map(Number);
    assert.ok(all > 0 && up === all, `edge node devices online: ${edge}`);
    await page.screenshot({ path: join(resultsDir, 'devices-demo.png') });
    await page.click('[data-testid="device-create"]');
    await page.fill('[data-testid="device-code"]', 'GW-E2E');
    await page.fill('[data-testid="device-name"]', 'Cutting line gateway');
    await page.fill('[data-testid="device-prefix"]', 'zhizao/v1/E2E');
    await page.click('[data-testid="device-save"]');
    const passwordBox = page.locator('[data-testid="device-password"]');
    await passwordBox.waitFor();
    const password = await passwordBox.inputValue();
    assert.ok(password.length >= 20, 'a generated password is shown');
    await page.keyboard.press('Escape');
    const row = page.locator('[data-testid="device-row-GW-E2E"]');
    await row.waitFor();
    assert.ok(!(await page.content()).includes(password), 'the password is not shown again');

    // The device publishes one good and one malformed message (MQTT 3.1.1, QoS 1).
    const username = (await row.locator('td').nth(3).innerText()).trim();
    await mqttPublish(server.mqttPort, username, password, [
      ['zhizao/v1/E2E/L1/M1/telemetry', JSON.stringify({ values: { spindle_temp: 61.5, count_good: 3 } })],
      ['zhizao/v1/E2E/L1/M1/telemetry', '{"values": {"spindle_temp": [1]}}'],
    ]);
    await page.waitForFunction(
      () => {
        const r = document.querySelector('[data-testid="device-row-GW-E2E"]');
        return r !== null && r.textContent.includes('spindle_temp') && r.querySelectorAll('td')[7].textContent.trim() === '1';
      },
      null,
      { timeout: 15_000 },
    );
    const cells = await row.locator('td').allInnerTexts();
    assert.equal(cells[5].trim(), '2', 'two messages');
    assert.equal(cells[6].trim(), '2', 'two points from the good one');
    await page.screenshot({ path: join(resultsDir, 'devices.png') });

    // The refused message is there with what the device sent.
    await page.click('[data-testid="device-refused-GW-E2E"]');
    const list = page.locator('[data-testid="device-refused-list"]');
    await list.locator('pre').first().waitFor();
    const text = await list.innerText();
    assert.ok(text.includes('"spindle_temp": [1]'), text);
    assert.ok(text.includes('zhizao/v1/E2E/L1/M1/telemetry'), text);
    await page.screenshot({ path: join(resultsDir, 'device-refused.png') });
    await page.keyboard.press('Escape');

    // A new password replaces the old one and is shown once.
    await page.click('[data-testid="device-renew-GW-E2E"]');
    await page.click('[data-testid="device-renew-confirm"]');
    await passwordBox.waitFor();
    const renewed = await passwordBox.inputValue();
    assert.ok(renewed.length >= 20 && renewed !== password, 'a different password is shown');
    await page.keyboard.press('Escape');
    await passwordBox.waitFor({ state: 'detached' });

    // An alarm rule on this device's signal, through the API as the
    // logged-in admin; then a hot value with the new password.
    const rules = await page.evaluate(async () => {
      const token = localStorage.getItem('zhizao.token');
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const current = await (await fetch('/api/v1/alarm-rules', { headers })).json();
      const rule = {
        id: 'e2e-hot', name: 'E2E 主轴过热', severity: 'high',
        condition: { kind: 'above', field: 'spindle_temp', limit: 100, deadband: 5 },
      };
      const put = await fetch('/api/v1/alarm-rules', {
        method: 'PUT', headers, body: JSON.stringify({ rules: [...current.rules, rule] }),
      });
      return put.status;
    });
    assert.equal(rules, 200);
    await mqttPublish(server.mqttPort, username, renewed, [
      ['zhizao/v1/E2E/L1/M1/telemetry', JSON.stringify({ values: { spindle_temp: 150 } })],
    ]);
    await page.click('[data-testid="nav-alarms"]');
    await page.waitForURL(/#\/alarms/);
    const alarmRow = page.locator('[data-testid^="alarm-row-"]', { hasText: 'E2E 主轴过热' });
    await alarmRow.waitFor({ timeout: 10_000 });
    assert.match(await alarmRow.innerText(), /M1/);
    await alarmRow.locator('[data-testid^="alarm-ack-"]').click();
    await page.fill('[data-testid="alarm-comment"]', '已降速运行');
    await page.click('[data-testid="alarm-ack-confirm"]');
    await page.waitForFunction(
      () => [...document.querySelectorAll('[data-testid^="alarm-row-"]')].some(
        (r) => r.textContent.includes('E2E 主轴过热') && r.textContent.includes('已降速运行'),
      ),
      null,
      { timeout: 10_000 },
    );
    // The journal keeps the acknowledgement with its comment.
    await page.waitForFunction(
      () => document.querySelector('[data-testid="alarm-events"]')?.textContent?.includes('已降速运行'),
      null,
      { timeout: 10_000 },
    );
    await page.screenshot({ path: join(resultsDir, 'alarms.png') });
  });

  it('gives a stop of the demo plant its downtime reason', async () => {
    await page.click('[data-testid="nav-stops"]');
    await page.waitForURL(/#\/stops/);
    // Machines that started the demo down have a stop to explain.
    const row = page.locator('[data-testid^="stop-"]').first();
    await row.waitFor({ timeout: 20_000 });
    await row.locator('[data-testid="stop-reason"]').selectOption('mech.spindle');
    await row.locator('[data-testid="stop-comment"]').fill('主轴过热，已更换轴承');
    const key = await row.getAttribute('data-testid');
    await row.locator('[data-testid="stop-save"]').click();
    await page.waitForFunction(
      (k) => document.querySelector(`[data-testid="${k}"]`)?.textContent?.includes('admin'),
      key,
      { timeout: 10_000 },
    );
    await page.screenshot({ path: join(resultsDir, 'stops.png') });
  });

  it('raised no uncaught errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
