// Browser test of production scheduling (#/scheduling) and the operator
// terminal's dispatch list, against the demo plant: planned orders are
// released as work orders, scheduled, moved by dragging a bar, a breakdown
// is reported, and the terminal lists a machine's operations in order.
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
const key = (op) => `${op.work_order_id}/${op.seq}`;

describe('production scheduling', () => {
  let server;
  let restoreCalendars;
  let browser;
  let page;
  let api;
  const pageErrors = [];
  /** The schedule the run made, and the operation the test moves. */
  let ran;
  let moved;

  before(async () => {
    mkdirSync(resultsDir, { recursive: true });
    server = await startServer();
    api = await adminApi(server);
    // Breaks cut the day into stretches; the schedule must not depend on the hour the test runs at.
    restoreCalendars = await withoutBreaks(api);
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, timezoneId: 'Asia/Shanghai' });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await loginPage(page, server);
  });

  after(async () => {
    await restoreCalendars?.();
    await browser?.close();
    await server?.stop();
  });

  it('says what to do before there is a schedule', async () => {
    const initial = await api('GET', '/schedule');
    const stub = (route) =>
      route.request().method() === 'GET' ? route.fulfill({ json: null }) : route.fallback();
    // A demo that schedules its own work orders at start has a schedule already: the page is then shown
    // the answer a tenant without one gets.
    if (initial !== null) await page.route('**/api/v1/schedule', stub);
    await page.click(tid('nav-scheduling'));
    const empty = page.locator(tid('sched-empty'));
    await empty.waitFor();
    assert.match(await empty.innerText(), /还没有排程/);
    assert.match(await empty.innerText(), /下达工单/);
    if (initial !== null) await page.unroute('**/api/v1/schedule', stub);
  });

  it('schedules released work orders and draws a bar for every operation', async () => {
    // Release a few planned production orders: pumps (assembly, then test) more than the two assembly
    // stations take at once, so some machine has a queue, and other two- and one-step routings.
    const planned = await api('GET', '/plan/orders?purchase=false&limit=500');
    const pick = (item, n) => planned.items.filter((o) => o.item === item).slice(0, n).map((o) => o.key);
    const keys = [...pick('QJ-50', 2), ...pick('QJ-80', 1), ...pick('GL-H300', 1), ...pick('PL20-DRILLED', 1), ...pick('SHAFT-304', 1)];
    assert.ok(keys.length >= 5, `planned orders to release (${keys.join(', ')})`);
    const released = await api('POST', '/plan/release', { keys });
    assert.equal(released.work_orders.length, keys.length);

    await page.goto(`${server.baseUrl}/#/scheduling`);
    await page.locator(tid('sched-run')).waitFor();
    await page.fill(tid('sched-time-limit'), '1');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/v1/schedule/runs') && r.request().method() === 'POST'),
      page.click(tid('sched-run')),
    ]);
    assert.equal(response.status(), 201, `the run answers: ${await response.text()}`);
    ran = await response.json();
    for (const w of released.work_orders) {
      assert.ok(ran.operations.some((o) => o.work_order_id === w.id), `${w.number} is scheduled`);
    }
    await page.locator(tid('sched-notice')).waitFor();
    const bars = page.locator(tid('gantt-bar'));
    await page.waitForFunction(
      ([sel, n]) => document.querySelectorAll(sel).length === n,
      [tid('gantt-bar'), ran.operations.length],
    );
    assert.equal(await bars.count(), ran.operations.length, 'one bar per operation');
    assert.match(await page.textContent(tid('sched-version')), new RegExp(`#${ran.id}`));
    assert.equal((await page.textContent(tid('cost-late')))?.trim(), String(ran.costs.late_orders));
  });

  it('moves an operation later by dragging it, tried first, then applied and locked', async () => {
    await page.click(tid('gantt-by-order'));
    await page.locator(`${tid('gantt-row-wo-' + ran.orders[0].work_order_id)}`).waitFor();
    // The last operation of one of the released orders, not yet fixed in place.
    const last = (op) => !ran.operations.some((o) => o.work_order_id === op.work_order_id && o.seq > op.seq);
    moved = ran.operations.find((o) => last(o) && !o.fixed && !o.locked && o.start_ms > Date.now() + 3_600_000);
    assert.ok(moved, 'an operation free to move');
    const bar = page.locator(`${tid('gantt-bar')}[data-op="${key(moved)}"]`);
    await bar.scrollIntoViewIfNeeded();
    const box = await bar.boundingBox();
    assert.ok(box, 'the bar is drawn');
    const y = box.y + box.height / 2;
    const x = box.x + Math.min(12, box.width / 2);
    await page.mouse.move(x, y);
    await page.mouse.down();
    // At the day scale (8 px an hour), 48 px is six hours later.
    await page.mouse.move(x + 24, y, { steps: 4 });
    await page.mouse.move(x + 48, y, { steps: 4 });
    await page.locator(tid('gantt-ghost')).waitFor();
    const [dry] = await Promise.all([
      page.waitForResponse((r) => r.url().includes(`/api/v1/schedule/operations/${key(moved)}`) && r.request().method() === 'PATCH'),
      page.mouse.up(),
    ]);
    assert.equal(dry.status(), 200, `the dry run answers: ${await dry.text()}`);
    assert.equal(JSON.parse(dry.request().postData() ?? '{}').dry_run, true);
    const result = page.locator(tid('move-result'));
    await result.waitFor();
    assert.match(await result.innerText(), /试算：另有 \d+ 道工序随之变动/);
    // Trying stored nothing.
    const untouched = (await api('GET', '/schedule')).operations.find((o) => key(o) === key(moved));
    assert.equal(untouched.start_ms, moved.start_ms);
    assert.equal(untouched.locked, false);

    const [applied] = await Promise.all([
      page.waitForResponse((r) => r.url().includes(`/api/v1/schedule/operations/${key(moved)}`) && r.request().method() === 'PATCH'),
      page.click(tid('move-apply')),
    ]);
    assert.equal(applied.status(), 200, `the move is applied: ${await applied.text()}`);
    await page.locator(tid('move-bar')).waitFor({ state: 'detached' });
    const after = (await api('GET', '/schedule')).operations.find((o) => key(o) === key(moved));
    assert.ok(after.start_ms > moved.start_ms, `starts later: ${after.start_ms} > ${moved.start_ms}`);
    assert.ok(after.start_ms - moved.start_ms <= 7 * 3_600_000, 'by about the six hours dragged');
    assert.equal(after.machine, moved.machine, 'on its machine still');
    assert.equal(after.locked, true, 'a moved operation is locked');
    await page.locator(`${tid('gantt-bar')}[data-op="${key(moved)}"].locked`).waitFor();
  });

  it('locks an operation with a double click and unlocks it from its panel', async () => {
    const s = await api('GET', '/schedule');
    const op = s.operations.find((o) => !o.locked && key(o) !== key(moved));
    const bar = page.locator(`${tid('gantt-bar')}[data-op="${key(op)}"]`);
    await bar.scrollIntoViewIfNeeded();
    const box = await bar.boundingBox();
    await page.mouse.dblclick(box.x + Math.min(6, box.width / 2), box.y + box.height / 2);
    await page.locator(`${tid('gantt-bar')}[data-op="${key(op)}"].locked`).waitFor();
    assert.equal((await api('GET', '/schedule')).operations.find((o) => key(o) === key(op)).locked, true);
    const panel = page.locator(tid('op-panel'));
    await panel.waitFor();
    assert.match(await panel.innerText(), new RegExp(op.number));
    await page.click(tid('op-lock'));
    await page.locator(`${tid('gantt-bar')}[data-op="${key(op)}"]:not(.locked)`).waitFor();
    assert.equal((await api('GET', '/schedule')).operations.find((o) => key(o) === key(op)).locked, false);
    // Each change is a version.
    await page.click(tid('sched-versions-toggle'));
    const versions = await api('GET', '/schedule/versions');
    assert.match(versions[0].reason, /^unlock /);
    await page.waitForFunction(
      ([sel, n]) => document.querySelectorAll(sel).length === n,
      [`${tid('sched-versions')} tbody tr`, versions.length],
    );
    assert.match(await page.textContent(`${tid('sched-versions')} tbody tr`), /解锁/);
    await page.click(tid('sched-versions-toggle'));
  });

  it('follows a version stored elsewhere without a reload', async () => {
    const s = await api('GET', '/schedule');
    const op = s.operations.find((o) => !o.locked && key(o) !== key(moved));
    const uri = `/schedule/operations/${op.work_order_id}/${op.seq}/lock`;
    const locked = await api('PUT', uri, { locked: true });
    await page.locator(`${tid('gantt-bar')}[data-op="${key(op)}"].locked`).waitFor({ timeout: 10_000 });
    await page.locator(tid('sched-version')).filter({ hasText: `#${locked.id} ` }).waitFor();
    const unlocked = await api('PUT', uri, { locked: false });
    await page.locator(`${tid('gantt-bar')}[data-op="${key(op)}"]:not(.locked)`).waitFor({ timeout: 10_000 });
    await page.locator(tid('sched-version')).filter({ hasText: `#${unlocked.id} ` }).waitFor();
  });

  it('opens an older version read-only and goes back to the current one', async () => {
    const versions = await api('GET', '/schedule/versions');
    const oldest = await api('GET', `/schedule/versions/${versions[versions.length - 1].id}`);
    const current = await api('GET', '/schedule');
    const lockedIn = (s) => s.operations.filter((o) => o.locked).length;
    assert.notEqual(lockedIn(oldest), lockedIn(current), 'the first run had none of the later locks');
    const lockedBars = ([sel, n]) => document.querySelectorAll(sel).length === n;
    await page.click(tid('sched-versions-toggle'));
    await page.click(tid(`sched-open-${oldest.id}`));
    await page.locator(tid('sched-viewing')).filter({ hasText: `#${oldest.id} ` }).waitFor();
    await page.waitForFunction(lockedBars, [`${tid('gantt-bar')}.locked`, lockedIn(oldest)]);
    await page.screenshot({ path: join(resultsDir, 'scheduling-old-version.png'), fullPage: false });
    await page.click(tid('sched-back'));
    await page.locator(tid('sched-viewing')).waitFor({ state: 'detached' });
    await page.waitForFunction(lockedBars, [`${tid('gantt-bar')}.locked`, lockedIn(current)]);
    await page.click(tid('sched-versions-toggle'));
  });

  it('refuses a move before the operation before it ends, saying why', async () => {
    const s = await api('GET', '/schedule');
    const second = s.operations.find((o) =>
      s.operations.some((p) => p.work_order_id === o.work_order_id && p.seq < o.seq && p.end_ms > Date.now() + 2 * 3_600_000),
    );
    assert.ok(second, 'an operation whose predecessor ends later than two hours from now');
    const prev = s.operations
      .filter((p) => p.work_order_id === second.work_order_id && p.seq < second.seq)
      .sort((a, b) => b.seq - a.seq)[0];
    const bar = page.locator(`${tid('gantt-bar')}[data-op="${key(second)}"]`);
    await bar.scrollIntoViewIfNeeded();
    const box = await bar.boundingBox();
    const y = box.y + box.height / 2;
    const x = box.x + Math.min(12, box.width / 2);
    // Drag it to start an hour before its predecessor ends.
    const dx = ((prev.end_ms - 3_600_000 - second.start_ms) / 3_600_000) * 8;
    await page.mouse.move(x, y);
    await page.mouse.down();
    await page.mouse.move(x + Math.sign(dx) * 10, y, { steps: 3 });
    await page.mouse.move(x + dx, y, { steps: 6 });
    await page.locator(`${tid('gantt-ghost')}.bad`).waitFor();
    assert.match(await page.textContent(tid('gantt-ghost-why')), /早于上道工序完工/);
    await page.mouse.up();
    const refused = page.locator(tid('move-error'));
    await refused.waitFor();
    assert.match(await refused.innerText(), /无法调整：.*cannot start before the operation before it ends/);
    await page.click(tid('move-cancel'));
    await page.locator(tid('move-bar')).waitFor({ state: 'detached' });
  });

  it('reports a breakdown from the events panel and hatches the machine', async () => {
    await page.click(tid('gantt-by-machine'));
    const s = await api('GET', '/schedule');
    // Operations that have not started (past the freeze window) are free to move off a breakdown.
    const free = (o) => !o.fixed && o.start_ms > Date.now() + (s.freeze_minutes + 5) * 60_000;
    const ahead = s.operations.filter((o) => o.machine !== moved.machine && free(o));
    // Best a machine whose work the four hours' breakdown reaches.
    const machine = (ahead.find((o) => o.start_ms < Date.now() + 4 * 3_600_000) ?? ahead[0])?.machine;
    assert.ok(machine, 'a machine with work ahead');
    const waiting = new Set(ahead.filter((o) => o.machine === machine).map(key));
    await page.click(tid('event-tab-breakdown'));
    await page.selectOption(tid('event-machine'), machine);
    await page.fill(tid('event-minutes'), '240');
    await page.fill(tid('event-note'), '主轴报警，等待维修');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/v1/schedule/events') && r.request().method() === 'POST'),
      page.click(tid('event-submit')),
    ]);
    assert.equal(response.status(), 201);
    await page.locator(tid('event-done')).waitFor();
    assert.match(await page.textContent(tid('event-done')), new RegExp(`设备故障 ${machine}`));
    await page.locator(`${tid('gantt-breakdown')}[data-machine="${machine}"]`).waitFor();
    const after = await api('GET', '/schedule');
    const down = after.breakdowns.find((b) => b.machine === machine);
    assert.ok(down, 'the breakdown is in the schedule');
    assert.equal(down.to_ms - down.from_ms, 240 * 60_000);
    assert.equal(down.note, '主轴报警，等待维修');
    for (const op of after.operations.filter((o) => o.machine === machine && waiting.has(key(o)))) {
      assert.ok(op.end_ms <= down.from_ms || op.start_ms >= down.to_ms, `${op.number}/${op.seq} is off the broken machine's downtime`);
    }
    await page.locator(`${tid('gantt-row-' + machine)}`).scrollIntoViewIfNeeded();
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(resultsDir, 'scheduling.png'), fullPage: true });
    // The page speaks English too.
    await page.click(tid('lang-toggle'));
    assert.equal((await page.textContent(tid('gantt-by-order')))?.trim(), 'By work order');
    assert.equal((await page.textContent(tid('sched-run')))?.trim(), 'Schedule');
    await page.click(tid('lang-toggle'));
  });

  it('lists a machine’s operations in start order on the terminal', async () => {
    const s = await api('GET', '/schedule');
    const counts = new Map();
    for (const o of s.operations) counts.set(o.machine, (counts.get(o.machine) ?? 0) + 1);
    const machine = [...counts].sort((a, b) => b[1] - a[1])[0][0];
    const list = await api('GET', `/schedule/dispatch?machine=${encodeURIComponent(machine)}`);
    assert.ok(list.operations.length >= 2, `${machine} has a queue (${list.operations.length})`);

    await page.click(tid('nav-terminal'));
    await page.locator(tid('terminal-state')).waitFor();
    const panel = page.locator(tid('dispatch-list'));
    await panel.locator(tid('dispatch-machine')).waitFor();
    await page.selectOption(tid('dispatch-machine'), machine);
    const rows = panel.locator(tid('dispatch-row'));
    await page.waitForFunction(
      ([sel, n]) => document.querySelectorAll(sel).length === n,
      [`${tid('dispatch-list')} ${tid('dispatch-row')}`, list.operations.length],
    );
    const shown = await rows.evaluateAll((trs) => trs.map((tr) => [tr.dataset.op, Number(tr.dataset.start)]));
    assert.deepEqual(shown.map(([op]) => op), list.operations.map(key), 'the list’s order');
    const starts = shown.map(([, start]) => start);
    assert.deepEqual(starts, [...starts].sort((a, b) => a - b), 'in start order');
    assert.match(await rows.first().innerText(), new RegExp(list.operations[0].number));
    await page.screenshot({ path: join(resultsDir, 'terminal-dispatch.png'), fullPage: true });
    // A lock stored elsewhere shows at once (the list's own timer is a minute).
    const op = list.operations.find((o) => !o.locked);
    const uri = `/schedule/operations/${op.work_order_id}/${op.seq}/lock`;
    const badge = panel.locator(`${tid('dispatch-row')}[data-op="${key(op)}"] .badge.locked`);
    await api('PUT', uri, { locked: true });
    await badge.waitFor({ timeout: 10_000 });
    await api('PUT', uri, { locked: false });
    await badge.waitFor({ state: 'detached', timeout: 10_000 });
  });

  it('raised no page errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});
