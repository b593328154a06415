// Browser test of the processing configuration page (#/admin/processing):
// state rules, the downtime reason tree and alarm rules, edited through the
// forms and checked over the API.
//
//   node --test web/tests/
//
// Server: see support.mjs (ZHIZAO_URL + ZHIZAO_ADMIN_PASSWORD, or ZHIZAO_BIN).
// Against a shared server, the three documents are put back afterwards.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { adminApi, launchBrowser, loginPage, resultsDir, startServer } from './support.mjs';

const tid = (id) => `[data-testid="${id}"]`;

describe('processing configuration page', () => {
  let server;
  let browser;
  let page;
  /** The API as the admin, from the test process (not through the page). */
  let api;
  const original = {};
  const pageErrors = [];

  const shot = (name) => page.screenshot({ path: join(resultsDir, name) });

  before(async () => {
    mkdirSync(resultsDir, { recursive: true });
    server = await startServer();
    api = await adminApi(server);
    original.stateRules = await api('GET', '/state-rules');
    original.reasons = (await api('GET', '/downtime-reasons')).tree;
    original.alarmRules = await api('GET', '/alarm-rules');

    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  after(async () => {
    try {
      if (api && original.alarmRules) {
        await api('PUT', '/state-rules', original.stateRules);
        await api('PUT', '/downtime-reasons', original.reasons);
        await api('PUT', '/alarm-rules', original.alarmRules);
      }
    } finally {
      await browser?.close();
      await server?.stop();
    }
  });

  it('is linked from the admin navigation and shows in Chinese by default', async () => {
    await loginPage(page, server);
    await page.click(tid('nav-equipment'));
    await page.waitForURL(/#\/admin\/equipment/);
    await page.click(tid('nav-processing'));
    await page.waitForURL(/#\/admin\/processing/);

    assert.equal(await page.locator(tid('settings-title')).innerText(), '数据处理配置');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
    assert.equal((await page.locator(tid('tab-state-rules')).innerText()).trim(), '状态规则');
    assert.equal((await page.locator(tid('tab-reasons')).innerText()).trim(), '停机原因');
    assert.equal((await page.locator(tid('tab-alarm-rules')).innerText()).trim(), '报警规则');
    await page.locator(tid('state-rules-savebar')).waitFor();
    // The syntax hint is there for whoever writes the first rule.
    if (original.stateRules.types.length === 0) {
      await page.locator(tid('state-rules-empty')).waitFor();
    }
    await shot('settings-state-rules-empty-zh.png');
  });

  it('adds ordered state rules for an equipment type and saves them', async () => {
    // A type the demo plant has machines of, offered from the equipment list.
    const equipment = await api('GET', '/equipment?limit=500');
    const have = new Set(original.stateRules.types.map((t) => t.equipment_type));
    const type = equipment.items.map((e) => e.equipment_type).find((t) => !have.has(t));
    assert.ok(type, 'an equipment type without state rules');
    const offered = await page.$$eval('#state-rule-types option', (os) => os.map((o) => o.value));
    assert.ok(offered.includes(type), `the type picker offers ${type}: ${offered}`);

    await page.fill(tid('state-type-input'), type);
    await page.click(tid('state-type-add'));
    await page.locator(tid(`state-type-${type}`)).waitFor();
    assert.match(await page.locator(tid(`state-type-${type}`)).innerText(), /\d+ 台设备/);
    // The same type twice is refused on the spot.
    await page.fill(tid('state-type-input'), type);
    await page.click(tid('state-type-add'));
    await page.locator(tid('state-type-error')).waitFor();

    await page.selectOption(tid('state-rule-state-0'), 'down');
    await page.fill(tid('state-rule-when-0'), 'alarm_active == 1 && door_open == 0');
    await page.click(tid('state-rule-add'));
    await page.selectOption(tid('state-rule-state-1'), 'idle');
    await page.fill(tid('state-rule-when-1'), 'true');
    await page.click(tid('state-rule-add'));
    await page.selectOption(tid('state-rule-state-2'), 'running');
    await page.fill(tid('state-rule-when-2'), 'spindle_speed > 100');
    // The default goes last: move `running` up over it.
    await page.click(tid('state-rule-up-2'));
    assert.equal(await page.inputValue(tid('state-rule-when-1')), 'spindle_speed > 100');
    await page.locator(tid('state-rules-dirty')).waitFor();
    await page.locator(`${tid('tab-state-rules')} .dirty-dot`).waitFor();
    await shot('settings-state-rules-zh.png');

    await page.click(tid('state-rules-save'));
    await page.locator(tid('state-rules-saved')).waitFor();
    assert.equal(await page.locator(tid('state-rules-dirty')).count(), 0);

    const saved = await api('GET', '/state-rules');
    const rules = saved.types.find((t) => t.equipment_type === type)?.rules;
    assert.deepEqual(rules, [
      { state: 'down', when: 'alarm_active == 1 && door_open == 0' },
      { state: 'running', when: 'spindle_speed > 100' },
      { state: 'idle', when: 'true' },
    ]);
  });

  it('shows the field the server refuses for a bad expression, keeps the edit and saves nothing', async () => {
    const before = await api('GET', '/state-rules');
    const typeIndex = before.types.length - 1;
    await page.fill(tid('state-rule-when-1'), 'spindle_speed >');
    await page.click(tid('state-rules-save'));
    const error = page.locator(tid('state-rules-error'));
    await error.waitFor();
    const message = await error.innerText();
    assert.ok(message.includes(`types[${typeIndex}].rules[1].when`), message);
    assert.ok(message.includes('spindle_speed >'), message);
    assert.equal(await page.inputValue(tid('state-rule-when-1')), 'spindle_speed >', 'the edit is kept');
    assert.match((await page.getAttribute(tid('state-rule-when-1'), 'class')) ?? '', /invalid/);
    await page.locator(tid('state-rules-dirty')).waitFor();
    assert.deepEqual(await api('GET', '/state-rules'), before, 'nothing was saved');
    await shot('settings-state-rules-error-zh.png');

    // An empty condition is caught before asking the server.
    await page.fill(tid('state-rule-when-1'), ' ');
    await page.click(tid('state-rules-save'));
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.textContent?.includes('不能为空'),
      tid('state-rules-error'),
    );

    // Discarding brings back what the server has.
    await page.click(tid('state-rules-reload'));
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.value === 'spindle_speed > 100',
      tid('state-rule-when-1'),
    );
    assert.equal(await page.locator(tid('state-rules-error')).count(), 0);
    assert.equal(await page.locator(tid('state-rules-dirty')).count(), 0);
  });

  it('renames a downtime reason and adds a child to the tree', async () => {
    await page.click(tid('tab-reasons'));
    await page.locator(tid('reasons-table')).waitFor();
    assert.match(page.url(), /tab=reasons/);
    const reasons = original.reasons.reasons;
    const hasChildren = (r) => reasons.some((c) => c.code.startsWith(`${r.code}.`));
    // The default tree's `material` (starved), or any reason with children.
    const parent = reasons.find((r) => r.code === 'material' && hasChildren(r)) ?? reasons.find(hasChildren);
    assert.ok(parent, 'the tree has a reason with children');
    const leaf = reasons.find((r) => r.code.startsWith(`${parent.code}.`) && !hasChildren(r));
    assert.ok(leaf, `${parent.code} has a child without children`);
    const renamed = { zh: `${leaf.zh}（已改名）`, en: `${leaf.en} (renamed)` };
    assert.ok(await page.locator(tid(`reason-delete-${parent.code}`)).isDisabled(), 'a reason with children cannot be deleted');
    assert.ok(await page.locator(tid(`reason-delete-${leaf.code}`)).isEnabled(), 'a leaf can be deleted');

    await page.fill(tid(`reason-zh-${leaf.code}`), renamed.zh);
    await page.fill(tid(`reason-en-${leaf.code}`), renamed.en);
    await page.selectOption(tid(`reason-class-${leaf.code}`), 'minor_stop');

    await page.click(tid(`reason-add-child-${parent.code}`));
    const form = page.locator(tid('reason-form'));
    await form.waitFor();
    // A code with a space is refused in the form.
    await page.fill(tid('reason-form-code'), 'fork lift');
    await page.fill(tid('reason-form-zh'), '等待叉车');
    await page.fill(tid('reason-form-en'), 'Waiting for the forklift');
    await page.click(tid('reason-form-add'));
    await page.locator(tid('reason-form-error')).waitFor();
    await page.fill(tid('reason-form-code'), 'forklift');
    await page.selectOption(tid('reason-form-class'), 'starved');
    await page.click(tid('reason-form-add'));
    await form.waitFor({ state: 'detached' });
    const child = `${parent.code}.forklift`;
    await page.locator(tid(`reason-row-${child}`)).waitFor();
    await page.locator(tid('reasons-dirty')).waitFor();
    await shot('settings-reasons-zh.png');

    await page.click(tid('reasons-save'));
    await page.locator(tid('reasons-saved')).waitFor();
    const saved = await api('GET', '/downtime-reasons');
    assert.equal(saved.default, false);
    const codes = saved.tree.reasons.map((r) => r.code);
    assert.deepEqual(saved.tree.reasons.find((r) => r.code === leaf.code), {
      code: leaf.code,
      ...renamed,
      class: 'minor_stop',
    });
    assert.deepEqual(saved.tree.reasons.find((r) => r.code === child), {
      code: child,
      zh: '等待叉车',
      en: 'Waiting for the forklift',
      class: 'starved',
    });
    // Placed after the parent's other children, still under the parent.
    const children = codes.filter((c) => c.startsWith(`${parent.code}.`));
    assert.equal(children.at(-1), child);
    assert.equal(codes.indexOf(child), codes.indexOf(parent.code) + children.length);
    assert.equal(codes.length, original.reasons.reasons.length + 1);
  });

  it('creates alarm rules with the form, shows a refused expression in its field and saves after the fix', async () => {
    await page.click(tid('tab-alarm-rules'));
    await page.locator(tid('alarm-rules-savebar')).waitFor();
    const machine = (await api('GET', '/equipment?limit=1')).items[0].code;

    // A flatline rule on one machine.
    await page.click(tid('alarm-rule-add'));
    const form = page.locator(tid('alarm-rule-form'));
    await form.waitFor();
    await page.click(tid('alarm-rule-apply'));
    await page.locator(tid('alarm-field-error-id')).waitFor();
    await form.locator('input[name="id"]').fill('settings-flat');
    await form.locator('input[name="name"]').fill('温度信号不变');
    await form.locator('select[name="severity"]').selectOption('high');
    await form.locator('select[name="kind"]').selectOption('flatline');
    assert.equal(await form.locator('input[name="limit"]').count(), 0, 'a flatline has no limit');
    await form.locator('input[name="field"]').fill('temperature');
    await form.locator('input[name="for_s"]').fill('120');
    await form.locator('input[name="epsilon"]').fill('0.05');
    await form.locator('input[name="on_delay_s"]').fill('5');
    await page.check(tid('alarm-scope-listed'));
    await form.locator('input[name="sources"]').fill(`${machine}, NO-SUCH-MACHINE`);
    await page.locator(tid('alarm-unknown-codes')).waitFor();
    await form.locator('input[name="sources"]').fill(machine);
    await shot('settings-alarm-form-zh.png');
    await page.click(tid('alarm-rule-apply'));
    await form.waitFor({ state: 'detached' });
    await page.locator(tid('alarm-rule-settings-flat')).waitFor();

    // An expression rule whose expression is not boolean.
    await page.click(tid('alarm-rule-add'));
    await form.waitFor();
    await form.locator('input[name="id"]').fill('settings-expr');
    await form.locator('input[name="name"]').fill('主轴过热且冷却不足');
    await form.locator('select[name="kind"]').selectOption('expression');
    assert.equal(await form.locator('input[name="field"]').count(), 0, 'an expression has no single signal');
    await form.locator('textarea[name="expr"]').fill('temperature + 1');
    await page.click(tid('alarm-rule-apply'));
    await form.waitFor({ state: 'detached' });

    const before = await api('GET', '/alarm-rules');
    await page.click(tid('alarm-rules-save'));
    const error = page.locator(tid('alarm-rules-error'));
    await error.waitFor();
    const index = before.rules.length + 1;
    assert.ok((await error.innerText()).includes(`rules[${index}].condition.expr`), await error.innerText());
    assert.deepEqual(await api('GET', '/alarm-rules'), before, 'nothing was saved');
    await shot('settings-alarm-rules-error-zh.png');

    // The form of the refused rule shows the message under the expression.
    await page.click(tid('alarm-rule-edit-settings-expr'));
    await form.waitFor();
    await page.locator(tid('alarm-field-error-expr')).waitFor();
    await form.locator('textarea[name="expr"]').fill('temperature > 90 && spindle_speed < 10');
    await page.click(tid('alarm-rule-apply'));
    await form.waitFor({ state: 'detached' });
    // A rule can be switched off without losing it.
    await page.uncheck(tid('alarm-rule-enabled-settings-expr'));
    await page.click(tid('alarm-rules-save'));
    await page.locator(tid('alarm-rules-saved')).waitFor();

    const saved = await api('GET', '/alarm-rules');
    assert.deepEqual(saved.rules.slice(-2), [
      {
        id: 'settings-flat',
        name: '温度信号不变',
        severity: 'high',
        condition: { kind: 'flatline', field: 'temperature', for_s: 120, epsilon: 0.05 },
        enabled: true,
        on_delay_s: 5,
        off_delay_s: 0,
        sources: [machine],
      },
      {
        id: 'settings-expr',
        name: '主轴过热且冷却不足',
        severity: 'medium',
        condition: { kind: 'expression', expr: 'temperature > 90 && spindle_speed < 10' },
        enabled: false,
        on_delay_s: 0,
        off_delay_s: 0,
        sources: null,
      },
    ]);
    assert.deepEqual(saved.rules.slice(0, -2), before.rules, 'the other rules are unchanged');
    await shot('settings-alarm-rules-zh.png');

    // Deleting is an edit like any other: saved, it is gone.
    await page.click(tid('alarm-rule-delete-settings-expr'));
    await page.click(tid('alarm-rules-save'));
    await page.locator(tid('alarm-rules-saved')).waitFor();
    assert.deepEqual((await api('GET', '/alarm-rules')).rules.map((r) => r.id).slice(-1), ['settings-flat']);
  });

  it('asks before leaving with unsaved changes', async () => {
    await page.click(tid('alarm-rule-delete-settings-flat'));
    await page.locator(tid('alarm-rules-dirty')).waitFor();
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.dismiss();
    });
    await page.click(tid('nav-equipment'));
    await page.waitForTimeout(300);
    assert.equal(asked, '有未保存的修改，确定离开吗？');
    assert.match(page.url(), /#\/admin\/processing/);
    await page.click(tid('alarm-rules-reload'));
    await page.locator(tid('alarm-rule-settings-flat')).waitFor();
    assert.equal(await page.locator(tid('alarm-rules-dirty')).count(), 0);
  });

  it('switches to English', async () => {
    await page.click(tid('lang-toggle'));
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.textContent === 'Processing configuration',
      tid('settings-title'),
    );
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    assert.equal((await page.locator(tid('tab-alarm-rules')).innerText()).trim(), 'Alarm rules');
    assert.match(await page.locator(tid('alarm-rules-table')).innerText(), /Flatline/);
    await shot('settings-alarm-rules-en.png');
    await page.click(tid('tab-state-rules'));
    assert.match(await page.locator(tid('state-rules-syntax')).innerText(), /Expression syntax/);
    await shot('settings-state-rules-en.png');
    await page.click(tid('tab-reasons'));
    assert.match(await page.locator(tid('reasons-table')).innerText(), /English name/);
    await shot('settings-reasons-en.png');
  });

  it('raised no uncaught errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
