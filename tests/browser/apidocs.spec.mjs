// The API browser (`/api/docs/`, Swagger UI embedded in the binary) in headless Chromium: it
// renders the OpenAPI document under the service's own CSP, with no console error and no
// request leaving the machine (any request to another host is aborted and counted).
//
//   CX_BIN=target/debug/cx-survey DATABASE_URL=sqlite:///tmp/x.db node tests/browser/apidocs.spec.mjs
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const { chromium } = require(require.resolve('playwright-core', { paths: [HERE] }));
const BIN = process.env.CX_BIN;
const DATABASE_URL = process.env.DATABASE_URL;
if (!BIN || !DATABASE_URL) {
  console.error('CX_BIN and DATABASE_URL are required');
  process.exit(2);
}
const port = await new Promise((r) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => r(port)); });
});
const url = `http://127.0.0.1:${port}`;
const server = spawn(BIN, ['serve', '--bind', `127.0.0.1:${port}`], {
  env: { ...process.env, CX_SURVEY_DEFS: path.resolve(HERE, '../../survey-defs'), RUST_LOG: 'error' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); };
let browser;
try {
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${url}/healthz`)).ok) break; } catch {}
    if (i > 200) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const page = await browser.newPage();
  const consoleErrors = [];
  const outside = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.route('**/*', (route) => {
    const host = new URL(route.request().url()).hostname;
    if (host === '127.0.0.1') return route.continue();
    outside.push(route.request().url());
    return route.abort();
  });
  const res = await page.goto(`${url}/api/docs`);
  check(res.status() === 200, `GET /api/docs answers 200 (after its redirect), got ${res.status()}`);
  check((res.headers()['content-security-policy'] || '').includes("script-src 'self'"), 'the page carries the strict CSP');
  await page.waitForSelector('.swagger-ui .info .title', { timeout: 20000 });
  const title = await page.textContent('.swagger-ui .info .title');
  check(title.includes('cx-survey'), `the document's title is shown (${title.trim()})`);
  const ops = await page.$$('.opblock');
  check(ops.length >= 15, `every operation is listed (${ops.length})`);
  await page.locator('.opblock-summary-path', { hasText: '/api/v1/deployments/{id}/responses' }).first().click();
  await page.waitForSelector('.opblock.is-open .responses-table', { timeout: 5000 });
  check(true, 'an operation opens with its responses');
  check(consoleErrors.length === 0, `no console error (${consoleErrors.join(' | ')})`);
  check(outside.length === 0, `no request leaves the machine (${outside.join(', ')})`);
  if (process.env.CX_SCREENSHOTS) await page.screenshot({ path: path.join(process.env.CX_SCREENSHOTS, 'api-docs.png'), fullPage: false });
} catch (e) {
  failures.push(String(e));
  console.error(e);
} finally {
  if (browser) await browser.close();
  server.kill('SIGTERM');
}
console.log(`api browser: ${failures.length === 0 ? 'all checks passed' : `${failures.length} failed`}`);
process.exit(failures.length === 0 ? 0 : 1);
