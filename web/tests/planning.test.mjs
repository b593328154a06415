// Browser test of production planning (#/planning) and the screen's plan
// strip, against the demo plant's planning data.
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

describe('production planning', () => {
  let server;
  let browser;
  let page;
  let api;
  const pageErrors = [];
  /** A number no demo order has, so the test can find its own order. */
  const number = `SO-E2E-${Date.now() % 100000}`;

  before(async () => {
    mkdirSync(resultsDir, { recursive: true });
    server = await startServer();
    api = await adminApi(server);
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, acceptDownloads: true });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await loginPage(page, server);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('lists the demo order book and enters an order, naming a bad field', async () => {
    await page.click(tid('nav-planning'));
    await page.waitForSelector(tid('orders-table'));
    const book = await api('GET', '/orders?limit=1');
    assert.ok(book.total > 50, `the demo has six months of orders (${book.total})`);
    const first = await page.locator(`${tid('orders-table')} tbody tr`).count();
    assert.equal(first, 20, 'a page of 20');

    await page.click(tid('orders-add'));
    await page.fill(tid('order-number'), number);
    await page.fill(tid('order-customer'), '测试客户');
    await page.selectOption(tid('order-item'), 'QJ-80');
    await page.fill(tid('order-quantity'), '-3');
    await page.click(tid('order-save'));
    const message = await page.textContent(tid('order-error'));
    assert.match(message ?? '', /quantity/, 'the error names the field');
    await page.fill(tid('order-quantity'), '12');
    await page.click(tid('order-save'));
    await page.waitForSelector(tid('order-form'), { state: 'detached' });
    await page.fill(tid('orders-search'), number);
    await page.waitForSelector(tid(`order-${number}`));
    const row = await page.textContent(tid(`order-${number}`));
    assert.match(row ?? '', /测试客户/);
    assert.match(row ?? '', /待生产/);
  });

  it('reports every bad row of an import and stores nothing unless asked', async () => {
    const csv = ['订单号,客户,物料,数量,交期', 'SO-E2E-A,甲,QJ-50,5,2027-03-01', 'SO-E2E-B,乙,NOPE,5,2027-03-01', 'SO-E2E-C,丙,QJ-50,5,2027-02-30'].join('\n');
    const before = (await api('GET', '/orders?limit=1')).total;
    await page.setInputFiles(tid('orders-import'), { name: 'orders.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.waitForSelector(tid('import-report'));
    const errors = await page.locator(tid('import-error')).allTextContents();
    assert.equal(errors.length, 2);
    assert.match(errors[0], /3.*item/);
    assert.match(errors[1], /4.*due_date/);
    assert.equal((await api('GET', '/orders?limit=1')).total, before, 'nothing stored');
    await page.check(tid('orders-keep-good'));
    await page.setInputFiles(tid('orders-import'), { name: 'orders.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.waitForFunction(
      (sel) => /新增 1/.test(document.querySelector(sel)?.textContent ?? ''),
      tid('import-report'),
    );
    assert.equal((await api('GET', '/orders?limit=1')).total, before + 1, 'the good row is kept');
  });

  it('promises a date for a new order with the reason when later', async () => {
    const soon = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    await page.selectOption(tid('promise-item'), 'GZ-H400');
    await page.fill(tid('promise-quantity'), '500');
    await page.fill(tid('promise-date'), soon);
    await page.click(tid('promise-check'));
    const answer = await page.textContent(tid('promise-answer'));
    assert.ok(answer && !/可按期交付/.test(answer), `500 columns by tomorrow cannot be on time: ${answer}`);
    assert.match(answer, /物料|工作中心|计划期内无法交付/);
  });

  it('runs MRP, shows pegging and releases a planned order as a work order', async () => {
    await page.click(tid('plan-tab-mrp'));
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/v1/plan/runs') && r.request().method() === 'POST'),
      page.click(tid('mrp-regenerate')),
    ]);
    const fresh = await response.json();
    await page.waitForFunction(
      ([sel, id]) => (document.querySelector(sel)?.textContent ?? '').includes(`第 ${id} 次`),
      [tid('mrp-run'), fresh.id],
    );
    const production = Number(await page.textContent(tid('mrp-production')));
    assert.ok(production > 20, `planned production orders (${production})`);
    // The new order of 12 QJ-80 is pegged by some planned order.
    const qj80 = await api('GET', '/plan/orders?item=QJ-80&purchase=false&limit=500');
    const pegged = qj80.items.find((o) => o.pegs.some((p) => p.reference === number));
    assert.ok(pegged, 'the entered order is planned for');
    await page.fill(tid('mrp-item'), 'QJ-80');
    await page.waitForSelector(tid(`planned-${pegged.key}`));
    await page.click(`${tid(`planned-${pegged.key}`)} ${tid('planned-pegs')}`);
    assert.match((await page.textContent(tid('pegs'))) ?? '', new RegExp(number));

    const made = pegged;
    // The demo starts with a fortnight of released work orders.
    const before = await api('GET', '/work-orders?limit=500');
    await page.check(`${tid(`planned-${made.key}`)} ${tid('planned-select')}`);
    await page.click(tid('mrp-release'));
    await page.waitForSelector(tid('mrp-notice'));
    const all = await api('GET', '/work-orders?limit=500');
    assert.equal(all.total, before.total + 1);
    const known = new Set(before.items.map((w) => w.id));
    const wos = { items: all.items.filter((w) => !known.has(w.id)) };
    assert.equal(wos.items[0].item, made.item);

    await page.click(tid('plan-tab-work-orders'));
    // Twenty to a page, in the list's order.
    const at = all.items.findIndex((w) => w.id === wos.items[0].id);
    for (let p = 0; p < Math.floor(at / 20); p += 1) {
      await page.click(`${tid('pagination')} button:last-of-type`);
    }
    await page.click(tid(`wo-${wos.items[0].number}`));
    await page.waitForSelector(tid('wo-operations'));
    await page.fill(tid('op-report-good'), '3');
    await page.click(tid('op-report'));
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent?.trim() === '3', tid('op-good'));
    const detail = await api('GET', `/work-orders/${wos.items[0].id}`);
    assert.equal(detail.order.status, 'in_progress', 'the first report starts the order');
  });

  it('releases a purchase requisition and receives the purchase order', async () => {
    await page.click(tid('plan-tab-mrp'));
    await page.check(tid('mrp-show-purchase'));
    await page.fill(tid('mrp-item'), 'MOTOR-7KW');
    const motors = await api('GET', '/plan/orders?item=MOTOR-7KW&purchase=true');
    assert.ok(motors.total > 0, 'motors are bought');
    const req = motors.items[0];
    await page.waitForSelector(tid(`planned-${req.key}`));
    await page.check(`${tid(`planned-${req.key}`)} ${tid('planned-select')}`);
    await page.click(tid('mrp-release'));
    // The notice, or the error the page shows instead.
    await page.waitForSelector(`${tid('mrp-notice')}, .error-banner`);
    const notice = await page.textContent(`${tid('mrp-notice')}, .error-banner`);
    assert.match(notice ?? '', /1 张采购订单/);
    const before = (await api('GET', '/plan/master')).master.items.find((i) => i.code === 'MOTOR-7KW').on_hand;
    await page.click(tid('plan-tab-purchase'));
    const pos = await api('GET', '/purchase-orders');
    const po = pos.items[0];
    assert.equal(po.item, 'MOTOR-7KW');
    await page.click(`${tid(`po-${po.number}`)} ${tid('po-receive')}`);
    await page.waitForFunction(
      ([sel, q]) => document.querySelector(sel)?.textContent?.trim() === String(q),
      [`${tid(`po-${po.number}`)} ${tid('po-received')}`, po.quantity],
    );
    const after = (await api('GET', '/plan/master')).master.items.find((i) => i.code === 'MOTOR-7KW').on_hand;
    assert.equal(after, before + po.quantity, 'the delivery is on hand');
    assert.equal((await api('GET', `/purchase-orders?status=received`)).total, 1);
  });

  it('shows load by week and tries overtime without touching the plan', async () => {
    await page.click(tid('plan-tab-capacity'));
    await page.waitForSelector(tid('cap-heat'));
    const welding = await page.textContent(tid('cap-L-WLD'));
    assert.ok(welding, 'the welding line is listed');
    await page.click(tid('cap-L-WLD'));
    const before = await api('GET', '/plan/master');
    await page.selectOption(tid('wi-centre'), 'L-WLD');
    await page.fill(tid('wi-hours'), '200');
    await page.click(tid('wi-add-hours'));
    await page.click(tid('wi-evaluate'));
    const result = await page.textContent(tid('wi-result'));
    const [, was, now] = /(\d+)\D+(\d+)/.exec(result ?? '') ?? [];
    assert.ok(Number(now) < Number(was), `overtime takes overloaded weeks away: ${result}`);
    const after = await api('GET', '/plan/master');
    assert.deepEqual(after.master.capacity_changes, before.master.capacity_changes, 'evaluating changes nothing');
    await page.waitForTimeout(1500); // the chart redraws at most once a second
    await page.screenshot({ path: join(resultsDir, 'planning-capacity.png'), fullPage: true });
  });

  it('shows master data and refuses a bill of material that loops, naming the item', async () => {
    await page.click(tid('plan-tab-master'));
    await page.waitForSelector(tid('master-items'));
    await page.click(tid('master-item-GZ-H400'));
    const bom = await page.textContent(tid('master-bom'));
    assert.match(bom ?? '', /COL-WELD-400/);
    assert.match((await page.textContent(tid('master-routing'))) ?? '', /L-BLS/);
    const { master } = await api('GET', '/plan/master');
    const looped = structuredClone(master);
    looped.bom.push({ parent: 'H400x200-12M', component: 'GZ-H400', quantity: 1 });
    await page.setInputFiles(tid('master-upload'), {
      name: 'master.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(looped)),
    });
    const message = await page.textContent(tid('master-error'));
    assert.match(message ?? '', /loop/);
    assert.match(message ?? '', /GZ-H400|H400x200-12M|COL-WELD-400|H400-CUT/);
    const after = await api('GET', '/plan/master');
    assert.equal(after.master.bom.length, master.bom.length, 'nothing stored');
    // The page speaks English too.
    await page.click(tid('lang-toggle'));
    assert.equal((await page.textContent(tid('plan-tab-master')))?.trim(), 'Master data');
    await page.click(tid('lang-toggle'));
  });

  it('shows the order book, on-time forecast and overloads on the big screen', async () => {
    await page.goto(`${server.baseUrl}/#/screen`);
    await page.waitForSelector(tid('plan-strip'));
    await page.waitForSelector(tid('plan-on-time'));
    const pct = await page.textContent(tid('plan-on-time'));
    assert.match(pct ?? '', /^\d+%$/);
    const ov = await api('GET', '/plan/overview');
    assert.ok(ov.order_book.length >= 6, `six months booked (${ov.order_book.length})`);
    assert.equal(pct, `${ov.on_time_pct.toFixed(0)}%`);
    // Plan against actual: the demo schedules its work orders at start.
    await page.waitForSelector(tid('plan-attainment'));
    const progress = await api('GET', '/schedule/progress');
    assert.ok(progress, 'the demo has a schedule');
    const shown = (await page.textContent(tid('plan-attainment')))?.trim();
    // Both read the clock, a moment apart.
    if (progress.attainment_pct === null) assert.equal(shown, '—');
    else assert.ok(Math.abs(Number.parseFloat(shown ?? '') - progress.attainment_pct) <= 2, `${shown} vs ${progress.attainment_pct}`);
    const rows = await page.locator(`${tid('plan-vs-actual')} li`).count();
    assert.equal(rows, Math.min(4, progress.centres.length));
    await page.screenshot({ path: join(resultsDir, 'screen-plan.png') });
    assert.deepEqual(pageErrors, []);
  });
});
