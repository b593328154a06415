import { chromium } from 'playwright-core';
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--headless','--disable-gpu'] });
const p = await (await b.newContext({ viewport: { width: 1920, height: 1080 } })).newPage();
await p.goto('http://127.0.0.1:4173/#/login'); await p.fill('input[name=password]', 'demo-pass-123'); await p.click('[data-testid=login-submit]');
await p.waitForSelector('[data-equipment-code]');
const r = await p.evaluate(() => new Promise((ok) => {
  const ws = new WebSocket(`ws://${location.host}/api/v1/live?token=${localStorage.getItem('zhizao.token')}&scope=all`);
  const c = {}; ws.onmessage = (e) => { const t = JSON.parse(e.data).type; c[t] = (c[t] || 0) + 1; };
  setTimeout(() => { ws.close(); ok(c); }, 5000);
}));
console.log('msgs in 5s', r);
const lag = await p.evaluate(() => new Promise((ok) => { let max = 0, last = performance.now(); const iv = setInterval(() => { const n = performance.now(); max = Math.max(max, n - last - 50); last = n; }, 50); setTimeout(() => { clearInterval(iv); ok(max); }, 5000); }));
console.log('max event-loop lag ms', lag.toFixed(0));
const t0 = Date.now(); await p.click('[data-testid=lang-toggle]'); console.log('click took', Date.now() - t0);
await b.close();
