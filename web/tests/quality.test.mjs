// Browser test of quality control (#/quality) against the demo plant: the
// inspection plan with its charts, a sample typed on the keyboard, a
// drifting bore that turns its chart out of control and raises an alarm, a
// nonconformance walked from that point to closure, and traceability.
//
//   node --test web/tests/
//
// Server: see support.mjs (ZHIZAO_URL + ZHIZAO_ADMIN_PASSWORD, or ZHIZAO_BIN).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { adminApi, launchBrowser, loginPage, resultsDir, startServer } from './support.mjs';

const tid = (id) => `[data-testid="${id}"]`;

describe('quality control', () => {
  let server;
  let browser;
  let page;
  let api;
  const pageErrors = [];

  before(async () => {
    mkdirSync(resultsDir, { recursive: true });
    server = await startServer();
    api = await adminApi(server);
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1600, height: 1100 }, timezoneId: 'Asia/Shanghai' });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await loginPage(page, server);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('lists the demo inspection plan with a chart per characteristic', async () => {
    await page.click(tid('nav-quality'));
    await page.locator(tid('characteristics')).waitFor();
    for (const code of ['BORE-D', 'SHAFT-OD', 'WELD-DEF', 'PUMP-LEAK']) {
      await page.locator(tid(`char-${code}`)).waitFor();
    }
    assert.match(await page.locator(tid('char-BORE-D')).innerText(), /泵壳内孔直径/);
    assert.match(await page.locator(tid('char-BORE-D')).innerText(), /过程检验/);
    // Sampled every 10 minutes and sampled just now: the next one is due.
    assert.match(await page.locator(tid('due-BORE-D')).innerText(), /下次抽检 \d\d:\d\d:\d\d/);
    await page.click(tid('char-SHAFT-OD'));
    await page.locator(`${tid('chart-card')} canvas`).first().waitFor();
    assert.match(await page.locator(tid('chart-card')).innerText(), /单值-移动极差图/);
    assert.match(await page.locator(tid('limits-kind')).innerText(), /试算控制限/);
    await page.locator(tid('capability')).waitFor();
    assert.match(await page.locator(tid('capability')).innerText(), /Cpk \d+\.\d\d/);
  });

  it('records a subgroup typed on the keyboard, and names a bad value', async () => {
    await page.click(tid('char-BORE-D'));
    await page.locator(tid('value-0')).waitFor();
    await page.locator(tid('limits-kind')).filter({ hasText: '控制限已固定' }).waitFor();
    const before = (await api('GET', '/quality/characteristics')).find((c) => c.code === 'BORE-D').samples;
    // A letter where a number belongs is caught before anything is sent.
    await page.fill(tid('value-0'), '25.00x');
    for (let i = 1; i < 5; i++) await page.fill(tid(`value-${i}`), '25.001');
    await page.click(tid('record'));
    assert.match(await page.locator(tid('entry-message')).innerText(), /第 1 个测量值不是数字/);
    // Enter moves from value to value and records after the last.
    await page.fill(tid('value-0'), '');
    await page.focus(tid('value-0'));
    for (const v of ['25.002', '24.998', '25.001', '25.000', '24.999']) {
      await page.keyboard.type(v);
      await page.keyboard.press('Enter');
    }
    await page.locator(tid('entry-message')).filter({ hasText: '已记录' }).waitFor();
    const after = (await api('GET', '/quality/characteristics')).find((c) => c.code === 'BORE-D').samples;
    assert.ok(after > before, `${before} → ${after}`);
  });

  it('shows a drift out of control and raises the SPC alarm', async () => {
    const bore = (await api('GET', '/quality/characteristics')).find((c) => c.code === 'BORE-D');
    const ucl = bore.limits.location.ucl;
    // Three subgroups well above the frozen upper limit.
    for (let k = 0; k < 3; k++) {
      const centre = ucl + 0.004;
      const r = await api('POST', `/quality/characteristics/${bore.id}/samples`, {
        values: [centre - 0.002, centre, centre + 0.002, centre + 0.001, centre - 0.001],
        lot: 'LCAS-TEST',
      });
      assert.equal(r.out_of_control, true);
    }
    await page.locator(tid('status-BORE-D')).filter({ hasText: '判异' }).waitFor({ timeout: 15_000 });
    const signals = page.locator(tid('signals'));
    await signals.filter({ hasText: '超出控制限' }).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(resultsDir, 'quality-bore.png'), fullPage: true });
    const alarms = await api('GET', '/alarms');
    assert.ok(
      alarms.active.some((a) => a.rule === 'spc-out-of-control' && a.source === 'TRN-01'),
      JSON.stringify(alarms.active),
    );
    await page.click(tid('nav-alarms'));
    await page.getByText('SPC 判异').first().waitFor();
  });

  it('walks a nonconformance from the out-of-control point to closure', async () => {
    await page.click(tid('nav-quality'));
    await page.click(tid('char-BORE-D'));
    const report = page.locator('[data-testid^="report-"]').first();
    await report.waitFor();
    await report.click();
    // The new report is prefilled from the chart.
    await page.locator(tid('ncr-create')).waitFor();
    assert.equal(await page.inputValue(tid('ncr-item')), 'CASING-50');
    assert.match(await page.inputValue(tid('ncr-title')), /BORE-D 泵壳内孔直径 第 \d+ 组判异/);
    assert.match(await page.locator(tid('ncr-create')).innerText(), /来自控制图 BORE-D/);
    await page.click(tid('ncr-submit'));
    const status = page.locator(tid('ncr-status'));
    await status.filter({ hasText: '待隔离' }).waitFor();

    await page.fill(tid('ncr-containment'), '隔离本班车削的泵壳，挂红牌');
    await page.fill(tid('ncr-held'), '5');
    await page.click(tid('ncr-contain'));
    await status.filter({ hasText: '已隔离' }).waitFor();
    // A photo of the bore gauge reading goes with the report.
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
      'base64',
    );
    await page.setInputFiles(tid('ncr-photo-input'), { name: 'bore.png', mimeType: 'image/png', buffer: png });
    await page.locator(`${tid('ncr-photos')} figure img`).waitFor();
    assert.match(await page.locator(tid('ncr-photos')).innerText(), /bore\.png/);

    // A proposal must cover the report's quantity.
    await page.selectOption(tid('ncr-decision-0'), 'rework');
    await page.fill(tid('ncr-line-qty-0'), '3');
    await page.click(tid('ncr-propose'));
    assert.match(await page.locator(tid('ncr-error')).innerText(), /cover 3 units/);
    await page.click(tid('ncr-add-line'));
    await page.selectOption(tid('ncr-decision-1'), 'scrap');
    await page.fill(tid('ncr-line-qty-1'), '2');
    await page.click(tid('ncr-propose'));
    await status.filter({ hasText: '处置待审批' }).waitFor();
    await page.locator(tid('ncr-own-proposal')).waitFor();
    // The proposer cannot approve it; a second quality engineer does.
    await page.click(tid('ncr-approve'));
    assert.match(await page.locator(tid('ncr-error')).innerText(), /someone other than who proposed/);
    const number = (await page.locator(`${tid('ncr-detail')} h3 .mono`).innerText()).trim();
    const found = (await api('GET', '/quality/ncrs')).items.find((n) => n.number === number);
    await api('POST', '/users', { username: 'inspector2', password: 'inspector-pass-2', role: 'quality' });
    const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'inspector2', password: 'inspector-pass-2' }),
    });
    const { token } = await login.json();
    const approved = await fetch(`${server.baseUrl}/api/v1/quality/ncrs/${found.id}/actions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'approve_disposition', comment: '同意返工 3 件，报废 2 件' }),
    });
    assert.equal(approved.status, 200, await approved.text());
    await page.click(tid(`ncr-${number}`));
    await status.filter({ hasText: '已处置' }).waitFor();
    assert.match(await page.locator(tid('ncr-disposition')).innerText(), /inspector2 批准/);

    await page.fill(tid('ncr-why-0'), '内孔尺寸逐组变大');
    await page.fill(tid('ncr-why-1'), '车刀后刀面磨损');
    await page.fill(tid('ncr-why-2'), '换刀按班次而不按加工件数');
    await page.selectOption(tid('ncr-category'), 'machine');
    await page.fill(tid('ncr-summary'), '换刀周期过长，刀具磨损使内孔漂移');
    await page.click(tid('ncr-root-cause'));
    await status.filter({ hasText: '措施执行中' }).waitFor();

    await page.selectOption(tid('ncr-action-kind'), 'corrective');
    await page.fill(tid('ncr-action-text'), '换刀周期改为每 20 件，首件复检内孔');
    await page.fill(tid('ncr-action-owner'), '王工');
    await page.fill(tid('ncr-action-due'), '2026-12-05');
    await page.click(tid('ncr-add-action'));
    await page.locator(tid('ncr-complete-0')).click();
    await status.filter({ hasText: '待验证' }).waitFor();

    await page.fill(tid('ncr-verify-note'), '连续 3 班内孔受控');
    await page.click(tid('ncr-effective'));
    await status.filter({ hasText: '已关闭' }).waitFor();
    const trail = await page.locator(`${tid('ncr-trail')} tr`).allInnerTexts();
    assert.equal(trail.length, 9, trail.join('\n'));
    assert.match(trail[2], /添加照片/);
    assert.match(trail[4], /inspector2.*批准处置/);
    await page.screenshot({ path: join(resultsDir, 'quality-ncr.png'), fullPage: true });
  });

  it('traces a pump backward to its lots and a casting lot forward to its pumps', async () => {
    await page.click(tid('tab-trace'));
    await page.fill(tid('trace-code'), 'QJ50-0001');
    await page.click(tid('trace-ask'));
    await page.locator(tid('trace-LCAS-001')).waitFor();
    for (const code of ['QJ50-0001', 'CAS-0001', 'SH-0001', 'LBAR-001']) await page.locator(tid(`trace-${code}`)).waitFor();
    assert.match(await page.locator(tid('trace-summary')).innerText(), /QJ50-0001 用到 4 个/);
    await page.fill(tid('trace-code'), 'LCAS-003');
    await page.selectOption(tid('trace-direction'), 'forward');
    await page.click(tid('trace-ask'));
    await page.locator(tid('trace-summary')).filter({ hasText: 'LCAS-003 进入了 40 个' }).waitFor();
    await page.locator(tid('trace-QJ50-0060')).waitFor();
    await page.screenshot({ path: join(resultsDir, 'quality-trace.png'), fullPage: false });
    await page.fill(tid('trace-code'), 'NOPE-1');
    await page.click(tid('trace-ask'));
    assert.match(await page.locator(tid('trace-error')).innerText(), /没有批次或序列号 NOPE-1/);
  });

  it('shows the quality figures and the quality screen', async () => {
    await page.click(tid('nav-quality'));
    await page.click(tid('tab-kpis'));
    await page.locator(tid('kpi-copq')).waitFor();
    assert.match(await page.locator(tid('kpi-copq')).innerText(), /¥/);
    assert.match(await page.locator(tid('kpi-out')).innerText(), /\d+ \/ 4/);
    assert.match(await page.locator(tid('kpi-open')).innerText(), /\d+/);
    await page.screenshot({ path: join(resultsDir, 'quality-kpis.png'), fullPage: true });
    await page.click(tid('tab-charts'));
    await page.click(tid('to-quality-screen'));
    await page.locator(tid('qscreen-BORE-D')).waitFor();
    assert.match(await page.locator(tid('screen-title')).innerText(), /质量控制中心/);
    await page.locator(`${tid('qscreen-chars')} li`).nth(3).waitFor();
    await page.locator('canvas').first().waitFor();
    // A sample arrives on the live feed: the screen reloads its figures
    // right away, long before its 30 s safety poll.
    const shaft = (await api('GET', '/quality/characteristics')).find((c) => c.code === 'SHAFT-OD');
    const reload = page.waitForRequest((r) => r.url().includes('/quality/kpis'), { timeout: 8_000 });
    await api('POST', `/quality/characteristics/${shaft.id}/samples`, { values: [shaft.target] });
    await reload;
    await page.waitForTimeout(1500);
    await page.screenshot({ path: join(resultsDir, 'quality-screen.png') });
  });

  it('takes a measurement at the operator terminal of the machine', async () => {
    const machines = await api('GET', '/equipment?limit=200');
    const trn = machines.items.find((m) => m.code === 'TRN-01');
    await page.goto(`${server.baseUrl}/#/terminal?id=${trn.id}`);
    const section = page.locator(tid('terminal-measure'));
    await section.waitFor();
    assert.match(await section.innerText(), /BORE-D · 泵壳内孔直径/);
    await section.locator(tid('value-0')).focus();
    for (const v of ['25.001', '25.000', '24.999', '25.002', '25.001']) {
      await page.keyboard.type(v);
      await page.keyboard.press('Enter');
    }
    await section.locator(tid('entry-message')).filter({ hasText: '已记录' }).waitFor();
    const bore = (await api('GET', '/quality/characteristics')).find((c) => c.code === 'BORE-D');
    const chart = await api('GET', `/quality/characteristics/${bore.id}/chart?last=5`);
    assert.ok(chart.samples.some((s) => s.operator === 'admin' && s.values.join() === '25.001,25,24.999,25.002,25.001'));
  });

  it('has no page errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});
