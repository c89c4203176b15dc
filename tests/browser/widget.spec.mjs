// Browser checks for the embeddable widget (served by cx-survey at /widget.js) and the hosted
// survey page, in a real headless Chromium against the real server, with the host pages served
// from another origin under a strict Content-Security-Policy.
//
//   CX_BIN=target/debug/cx-survey DATABASE_URL=sqlite:///tmp/x.db node tests/browser/widget.spec.mjs
//
// The script starts the server itself (so it can stop it mid-submit and start it again), creates
// an admin key and the deployments it needs, serves the host pages on a second port, and exits
// non-zero if any check fails. playwright-core and axe-core come from tests/browser/node_modules
// (`npm ci --prefix tests/browser`). Optional: CHROMIUM (default /usr/bin/chromium),
// CX_SCREENSHOTS (a folder for the screenshots of every state), CX_SURVEY_DEFS.
import { createRequire } from 'node:module';
import { spawn, execFileSync } from 'node:child_process';
import net from 'node:net';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const searchPaths = [path.dirname(fileURLToPath(import.meta.url)), process.cwd(), ...(process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean)];
const resolve = (name) => require.resolve(name, { paths: searchPaths });
const { chromium } = require(resolve('playwright-core'));
const axeSource = fs.readFileSync(resolve('axe-core'), 'utf8');

const env = (k) => {
  const v = process.env[k];
  if (!v) {
    console.error(`missing environment variable ${k}`);
    process.exit(2);
  }
  return v;
};
const BIN = env('CX_BIN');
const DATABASE_URL = env('DATABASE_URL');
const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEFS = process.env.CX_SURVEY_DEFS || path.resolve(HERE, '../../survey-defs');
const SHOTS = process.env.CX_SCREENSHOTS || '';
const freePort = () => new Promise((r) => {
  const srv = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = srv.address();
    srv.close(() => r(port));
  });
});
const CX_PORT = await freePort();
const CX_URL = `http://127.0.0.1:${CX_PORT}`;
const HOST_URL = `http://127.0.0.1:${await freePort()}`;
const HOST = new URL(HOST_URL);
const serverEnv = { ...process.env, DATABASE_URL, CX_SURVEY_DEFS: DEFS, CX_RATE_LIMIT_PER_MINUTE: '0', CX_PUBLIC_URL: CX_URL, CX_DEMO: '1', RUST_LOG: process.env.CX_TEST_LOG || 'error' };
const CX_KEY = execFileSync(BIN, ['keys', 'create', '--agency', 'browser-tests'], { env: serverEnv, encoding: 'utf8' }).trim().split('\n').pop();
let serverProc = null;
let DEP; // the main thumbs deployment, made once the server is up
async function startServer() {
  serverProc = spawn(BIN, ['serve', '--bind', `127.0.0.1:${CX_PORT}`], { env: serverEnv, stdio: ['ignore', 'ignore', 'inherit'] });
  await until(async () => { try { return (await fetch(`${CX_URL}/healthz`)).ok; } catch { return false; } }, 'server up', 20000);
}
async function stopServer() {
  const p = serverProc;
  serverProc = null;
  if (!p || p.exitCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await gone;
}
process.on('exit', () => { if (serverProc) serverProc.kill('SIGKILL'); });

// The database goes away while the service keeps running. PostgreSQL: the test database stops
// accepting connections and its sessions are ended, for 20 s. SQLite (no server to stop): another
// process holds the write lock for 14 s, longer than the service's 10-s busy timeout.
const IS_PG = DATABASE_URL.startsWith('postgres');
function databaseOutage() {
  if (IS_PG) {
    const name = new URL(DATABASE_URL).pathname.slice(1);
    const adminUrl = DATABASE_URL.replace(/\/[^/]*$/, '/postgres');
    const psql = (sql) => execFileSync('psql', [adminUrl, '-qAtc', sql], { encoding: 'utf8' });
    psql(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`);
    return {
      started: Promise.resolve(),
      ended: sleep(20000).then(() => psql(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`)),
    };
  }
  const file = DATABASE_URL.replace(/^sqlite:\/\//, '');
  const holder = spawn('python3', ['-c', [
    'import sqlite3, sys, time',
    'c = sqlite3.connect(sys.argv[1], isolation_level=None)',
    "c.execute('BEGIN EXCLUSIVE')",
    "print('locked', flush=True)",
    'time.sleep(14)',
    "c.execute('ROLLBACK')",
  ].join('\n'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
  return {
    started: new Promise((r) => holder.stdout.once('data', r)),
    ended: new Promise((r) => holder.once('exit', r)),
  };
}
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const RUN = Date.now().toString(36);

// ---------------------------------------------------------------- tiny harness
let failures = 0;
const axeSummary = [];
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}\n     ${String((e && e.stack) || e).split('\n').slice(0, 4).join('\n     ')}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(fn, what, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(150);
  }
}

// ---------------------------------------------------------------- admin API
async function admin(method, p, body) {
  const res = await fetch(`${CX_URL}/api/v1/admin${p}`, {
    method,
    headers: { Authorization: `Bearer ${CX_KEY}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
async function rows(dep) {
  return (await admin('GET', `/responses?format=json&deployment=${dep}`)).responses;
}
async function rowsWith(dep, token) {
  return (await rows(dep)).filter((r) => (r.answers.comments || '').includes(token));
}

// ---------------------------------------------------------------- host pages
const pages = {};
function page(name, { mode = 'modal', dep = DEP, lang = 'en', locale, target, body = '', hostile = false, extra = '' } = {}) {
  const attrs = [`data-deployment="${dep}"`, `data-mode="${mode}"`];
  if (target) attrs.push(`data-target="${target}"`);
  if (locale) attrs.push(`data-locale="${locale}"`);
  pages[name] = `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><title>Host page ${name}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
${hostile ? '<link rel="stylesheet" href="/host.css">' : ''}
<script src="${CX_URL}/widget.js" ${attrs.join(' ')} defer></script>
${extra}
</head><body><header><a href="#main" id="host-link">Skip to content</a></header>
<main id="main"><h1>Agency page ${name}</h1><p>Some host content.</p>${body}</main>
<footer><p class="host-p">Host footer</p></footer></body></html>`;
  return `/p/${name}`;
}
const HOSTILE_CSS = `html{font-size:62.5%} *{font-family:cursive;color:#f0f;letter-spacing:3px;box-sizing:content-box}
h2{font-size:50px;color:red;margin:40px} fieldset{border:5px dashed red;padding:30px}
label{text-transform:uppercase;float:right} button{background:yellow;color:#000;border-radius:20px}
input{width:300px;display:block} div{padding:10px;line-height:3} p{margin:30px} a{color:green}`;

const server = http.createServer((req, res) => {
  const url = new URL(req.url, HOST_URL);
  const self = `http://${req.headers.host}`;
  // The strictest policy a host can have and still embed the widget: its files and API only.
  const csp = `default-src 'none'; script-src ${CX_URL}; style-src ${self} ${CX_URL}; connect-src ${CX_URL}; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
  const send = (status, type, body) => {
    res.writeHead(status, { 'Content-Type': type, 'Content-Security-Policy': csp, 'Cache-Control': 'no-store' });
    res.end(body);
  };
  if (url.pathname === '/host.css') return send(200, 'text/css', HOSTILE_CSS);
  const m = /^\/p\/([\w-]+)$/.exec(url.pathname);
  if (m && pages[m[1]]) return send(200, 'text/html; charset=utf-8', pages[m[1]]);
  send(404, 'text/plain', 'not found');
});

// ---------------------------------------------------------------- browser helpers
let browser;
async function open(pathname, opts = {}) {
  const context = opts.context || (await browser.newContext({
    viewport: opts.viewport || { width: 1280, height: 800 },
    deviceScaleFactor: opts.scale || 1,
    reducedMotion: opts.reducedMotion || 'no-preference',
  }));
  const p = await context.newPage();
  const problems = [];
  p.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  const impressions = [];
  p.on('response', (r) => { if (r.url().endsWith('/impressions') && r.request().method() === 'POST') impressions.push(r.status()); });
  await p.addInitScript(() => {
    window.__csp = [];
    window.__events = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    for (const t of ['shown', 'submitted', 'error']) {
      document.addEventListener(`cx-survey:${t}`, (e) => window.__events.push({ type: t, detail: e.detail, onRoot: !!(e.target.classList && e.target.classList.contains('cxs-root')) }), true);
    }
  });
  // Injected through the DevTools protocol, so the page's CSP does not block it.
  await p.addInitScript({ content: axeSource });
  await p.goto(HOST.origin + pathname.replace(/^https?:\/\/[^/]+/, ''), { waitUntil: 'load' });
  if (opts.origin) await p.goto(opts.origin + pathname, { waitUntil: 'load' });
  p.problems = problems;
  p.impressions = impressions;
  p.context_ = context;
  p.ownContext = !opts.context;
  return p;
}
async function close(p) {
  if (p.ownContext) await p.context_.close();
  else await p.close();
}
async function clean(p, allow = []) {
  const csp = await p.evaluate(() => window.__csp);
  assert(csp.length === 0, `CSP violations: ${csp.join('; ')}`);
  const probs = p.problems.filter((x) => !allow.some((a) => a.test(x)));
  assert(probs.length === 0, `console errors: ${probs.join('; ')}`);
}
async function axe(p, state, selector = '.cxs-root') {
  // Measure the settled page, not a frame of the dialog's fade-in.
  await p.waitForFunction(() => document.getAnimations().every((a) => a.playState === 'finished'));
  const v = await p.evaluate(async ({ selector, tags }) => {
    const roots = [...document.querySelectorAll(selector)];
    const out = [];
    const incomplete = [];
    for (const r of roots) {
      // preload: false, or axe would fetch the stylesheets and inline them as <style> elements,
      // which the host page's CSP rightly reports.
      const res = await window.axe.run(r, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations', 'incomplete'], preload: false });
      for (const x of res.violations) out.push(`${x.id} (${x.impact}): ${x.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      for (const x of res.incomplete) incomplete.push(`${x.id} ×${x.nodes.length}`);
    }
    return { out, incomplete };
  }, { selector, tags: AXE_TAGS }).then((r) => {
    if (r.incomplete.length) console.log(`     axe could not decide in "${state}": ${r.incomplete.join(', ')}`);
    return r.out;
  });
  axeSummary.push(`${state}: ${v.length}`);
  assert(v.length === 0, `axe violations in state "${state}":\n       ${v.join('\n       ')}`);
}
const events = (p) => p.evaluate(() => window.__events);
const active = (p) => p.evaluate(() => {
  const a = document.activeElement;
  return { tag: a.tagName, id: a.id, cls: a.className && String(a.className), text: (a.textContent || '').trim().slice(0, 40), inDialog: !!a.closest('[role="dialog"]'), type: a.type || '' };
});
async function openModal(p) {
  await p.waitForSelector('.cxs-fab', { timeout: 10000 });
  await p.click('.cxs-fab');
  await p.waitForSelector('.cxs-dialog', { state: 'visible' });
}
const visible = (p, sel) => p.locator(sel).first().isVisible();
const question = (p, key) => `[id$="-${key}-q"]`;

// ---------------------------------------------------------------- the checks
async function main() {
  await new Promise((r, j) => server.listen(Number(HOST.port), HOST.hostname, r).on('error', j));
  await startServer();
  await admin('POST', '/hisps', { slug: 'ssa', name: 'Social Security Administration' });
  await admin('POST', '/services', { slug: 'retire', name: 'Retirement benefits', hisp: 'ssa', channels: ['website'] });
  DEP = (await admin('POST', '/deployments', {
    instrument: 'a11-v2-thumbs', service: 'retire', channel: 'website',
    transaction_point: 'After an online application', allowed_origins: [HOST.origin],
  })).id;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });

  // Extra deployments on the same service.
  const base = await admin('GET', `/deployments/${DEP}`);
  const mk = async (instrument, tp) => (await admin('POST', '/deployments', {
    instrument, service: base.service, channel: base.channel,
    transaction_point: `${tp} ${RUN}`, allowed_origins: [HOST.origin],
  })).id;
  const LIKERT = await mk('a11-v2-likert', 'widget test likert');
  const V1 = await mk('a11-v1', 'widget test v1');
  const CLOSED = await mk('a11-v2-thumbs', 'widget test closed');
  await admin('PATCH', `/deployments/${CLOSED}`, { status: 'closed' });
  const UNKNOWN = '00000000-0000-4000-8000-000000000000';

  await step('modal: renders, opens, focus moves in, impression once, axe (open)', async () => {
    const p = await open(page('modal'));
    assert(!(await p.$('.cxs-overlay:not([hidden])')), 'dialog visible before opening');
    const name = await p.getAttribute('.cxs-fab', 'aria-haspopup');
    assert(name === 'dialog', 'floating button lacks aria-haspopup');
    const label = await p.$eval('.cxs-fab', (b) => b.textContent);
    assert(/Feedback/.test(label), `floating button name: ${label}`);
    await openModal(p);
    const d = await p.$eval('.cxs-dialog', (d) => ({ role: d.getAttribute('role'), modal: d.getAttribute('aria-modal'), by: document.getElementById(d.getAttribute('aria-labelledby')).textContent }));
    assert(d.role === 'dialog' && d.modal === 'true' && /experience/.test(d.by), `dialog semantics ${JSON.stringify(d)}`);
    assert((await active(p)).inDialog, 'focus did not move into the dialog');
    const pra = await p.$eval('.cxs-pra', (e) => e.textContent);
    assert(pra.includes('OMB Control No. 3090-0321 · Expires 01/31/2028'), `PRA line: ${pra.slice(0, 80)}`);
    assert(/not required to respond/.test(pra) || /currently valid/.test(pra), 'burden statement missing');
    assert(await p.$('.cxs-pra a[href^="https://www.federalregister.gov/"]'), 'PRA link missing');
    assert(!(await visible(p, question(p, 'went_well'))) && !(await visible(p, question(p, 'went_poorly'))), 'driver lists shown before a trust answer');
    await axe(p, 'modal open');
    await p.keyboard.press('Escape');
    await openModal(p);
    await sleep(300);
    assert(p.impressions.length === 1 && p.impressions[0] === 204, `impressions: ${JSON.stringify(p.impressions)}`);
    const ev = await events(p);
    assert(ev.filter((e) => e.type === 'shown').length === 1 && ev[0].onRoot && ev[0].detail.deployment === DEP, `shown events ${JSON.stringify(ev)}`);
    assert(await p.$$eval('link[rel=stylesheet]', (l) => l.length) === 1, 'stylesheet inserted more than once');
    await clean(p);
    await close(p);
  });

  await step('modal: thumbs up reveals "What went well?", thumbs down swaps lists and drops answers, axe (reveal)', async () => {
    const p = await open(page('modal'));
    await openModal(p);
    await p.click(`${question(p, 'trust')} label:has-text("Yes")`);
    assert(await visible(p, question(p, 'went_well')), 'went_well not revealed');
    assert(await p.isVisible('text=What went well?'), '"What went well?" text not visible');
    assert(!(await visible(p, question(p, 'went_poorly'))), 'went_poorly shown on thumbs up');
    await axe(p, 'modal after reveal');
    await p.check(`${question(p, 'went_well')} input[value="ease"]`);
    await p.click(`${question(p, 'trust')} label:has-text("No")`);
    assert(await visible(p, question(p, 'went_poorly')) && !(await visible(p, question(p, 'went_well'))), 'lists did not swap');
    assert(!(await p.isChecked(`${question(p, 'went_well')} input[value="ease"]`)), 'hidden list kept its answer');
    await clean(p);
    await close(p);
  });

  await step('modal: client validation (alert, focus, aria-invalid), axe (error), submit stores a row, axe (thank-you)', async () => {
    const p = await open(page('modal'));
    await openModal(p);
    await p.click('.cxs-submit');
    const alert = await p.$eval('.cxs-alert', (a) => ({ role: a.getAttribute('role'), text: a.textContent }));
    assert(alert.role === 'alert' && alert.text.length > 10, `alert region: ${JSON.stringify(alert)}`);
    const a = await active(p);
    assert(a.tag === 'INPUT' && a.type === 'radio', `focus after error: ${JSON.stringify(a)}`);
    const inv = await p.$eval(`${question(p, 'trust')} input`, (i) => ({ inv: i.getAttribute('aria-invalid'), desc: (i.getAttribute('aria-describedby') || '').split(' ').map((id) => (document.getElementById(id) || {}).textContent).join('|') }));
    assert(inv.inv === 'true' && /answer this question/i.test(inv.desc), `aria on invalid control: ${JSON.stringify(inv)}`);
    await axe(p, 'modal error shown');
    await p.click(`${question(p, 'trust')} label:has-text("Yes")`);
    await p.check(`${question(p, 'went_well')} input[value="ease"]`);
    await p.check(`${question(p, 'went_well')} input[value="humanity"]`);
    const token = `modal-${RUN}`;
    await p.fill('textarea', `Quick and clear ${token}`);
    const count = await p.$eval('.cxs-count', (c) => c.textContent);
    assert(/\d+ characters left/.test(count) && count.startsWith(String(5000 - `Quick and clear ${token}`.length)), `count: ${count}`);
    await p.click('.cxs-submit');
    await p.waitForSelector('.cxs-thanks', { state: 'visible' });
    assert(await p.isVisible('text=Thank you for your feedback.'), 'thank-you text');
    await shot(p, 'modal-thank-you');
    assert(!(await visible(p, '.cxs-form')), 'form still shown after submit');
    assert(await p.isVisible('.cxs-pra'), 'PRA footer hidden on thank-you');
    await axe(p, 'modal thank-you');
    const got = await until(async () => (await rowsWith(DEP, token)).length && rowsWith(DEP, token), 'stored row');
    assert(got.length === 1, `rows: ${got.length}`);
    const r = got[0];
    assert(r.answers.trust === 1 && r.answers.went_well.join() === 'ease,humanity' && r.locale === 'en', `row: ${JSON.stringify(r)}`);
    const ev = await events(p);
    const sub = ev.find((e) => e.type === 'submitted');
    assert(sub && sub.onRoot && sub.detail.deployment === DEP && /^[0-9a-f-]{36}$/.test(sub.detail.submission_id) && sub.detail.status === 201, `submitted event ${JSON.stringify(sub)}`);
    assert(await p.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('cx-survey:pending:')).length) === 0, 'pending entry left behind');
    await clean(p);
    await close(p);
  });

  await step('modal: focus trap (Tab / Shift+Tab), Escape closes, focus returns, page does not scroll', async () => {
    const p = await open(page('trap', { body: '<p>' + 'Long host text. '.repeat(800) + '</p>' }));
    await openModal(p);
    for (let i = 0; i < 40; i++) {
      await p.keyboard.press('Tab');
      const a = await active(p);
      assert(a.inDialog, `Tab #${i + 1} left the dialog: ${JSON.stringify(a)}`);
    }
    for (let i = 0; i < 40; i++) {
      await p.keyboard.press('Shift+Tab');
      const a = await active(p);
      assert(a.inDialog, `Shift+Tab #${i + 1} left the dialog: ${JSON.stringify(a)}`);
    }
    // Wrap-around at both ends.
    await p.focus('.cxs-close');
    await p.keyboard.press('Shift+Tab');
    assert((await active(p)).tag === 'A', 'Shift+Tab from the first control did not wrap to the last');
    await p.keyboard.press('Tab');
    assert((await active(p)).cls.includes('cxs-close'), 'Tab from the last control did not wrap to the first');
    // Focus placed outside by script comes back.
    await p.evaluate(() => document.getElementById('host-link').focus());
    assert((await active(p)).inDialog, 'focus escaped the dialog');
    // Wheel, then keyboard scrolling past the end of the dialog must not move the page.
    await p.mouse.move(640, 400);
    for (let i = 0; i < 6; i++) {
      await p.mouse.wheel(0, 800);
      await sleep(100);
    }
    await p.mouse.move(10, 10); // over the backdrop, beside the dialog
    await p.mouse.wheel(0, 800);
    await sleep(300);
    assert(await p.evaluate(() => window.scrollY) === 0, 'background scrolled (wheel) while the dialog was open');
    await p.focus('.cxs-title');
    for (const k of ['PageDown', 'PageDown', 'End', 'Space', 'ArrowDown']) await p.keyboard.press(k);
    await sleep(300);
    assert(await p.evaluate(() => window.scrollY) === 0, 'background scrolled (keyboard) while the dialog was open');
    await p.keyboard.press('Escape');
    assert(!(await visible(p, '.cxs-dialog')), 'Escape did not close');
    assert((await active(p)).cls.includes('cxs-fab'), 'focus did not return to the floating button');
    await openModal(p);
    await p.click('.cxs-close');
    assert(!(await visible(p, '.cxs-dialog')) && (await active(p)).cls.includes('cxs-fab'), 'close button');
    await clean(p);
    await close(p);
  });

  await step('modal: keyboard-only completion', async () => {
    const p = await open(page('keyboard'));
    await p.waitForSelector('.cxs-fab');
    let a;
    for (let i = 0; i < 10; i++) {
      await p.keyboard.press('Tab');
      a = await active(p);
      if (a.cls.includes('cxs-fab')) break;
    }
    assert(a.cls.includes('cxs-fab'), 'could not Tab to the floating button');
    await p.keyboard.press('Enter');
    await p.waitForSelector('.cxs-dialog', { state: 'visible' });
    const tabTo = async (pred, what) => {
      for (let i = 0; i < 30; i++) {
        await p.keyboard.press('Tab');
        const x = await active(p);
        if (pred(x)) return x;
      }
      throw new Error(`could not Tab to ${what}`);
    };
    await tabTo((x) => x.type === 'radio', 'the trust radios');
    await p.keyboard.press('Space'); // No
    await p.keyboard.press('ArrowRight'); // Yes
    assert(await visible(p, question(p, 'went_well')), 'arrow keys did not reveal went_well');
    await tabTo((x) => x.type === 'checkbox', 'a driver checkbox');
    await p.keyboard.press('Space');
    await tabTo((x) => x.tag === 'TEXTAREA', 'the comment box');
    const token = `keyboard-${RUN}`;
    await p.keyboard.type(`Typed only ${token}`);
    await tabTo((x) => x.cls.includes('cxs-submit'), 'Submit');
    await p.keyboard.press('Enter');
    await p.waitForSelector('.cxs-thanks', { state: 'visible' });
    assert((await active(p)).cls.includes('cxs-thanks'), 'focus did not move to the thank-you message');
    const got = await until(async () => (await rowsWith(DEP, token))[0], 'stored row');
    assert(got.answers.trust === 1 && got.answers.went_well.join() === 'effectiveness', `row ${JSON.stringify(got.answers)}`);
    await p.keyboard.press('Escape');
    assert((await active(p)).cls.includes('cxs-fab'), 'focus not returned after thank-you');
    await clean(p);
    await close(p);
  });

  await step('Spanish: <html lang="es-US"> and data-locale="es", axe (es open, es error)', async () => {
    const p = await open(page('es', { lang: 'es-US' }));
    await p.waitForSelector('.cxs-fab');
    assert(/Comentarios/.test(await p.textContent('.cxs-fab')), 'button not Spanish');
    await openModal(p);
    assert((await p.textContent('.cxs-title')).includes('Cuéntenos'), 'title not Spanish');
    const pra = await p.textContent('.cxs-pra');
    assert(pra.includes('N.º de control de la OMB 3090-0321 · Vence el 31 de enero de 2028') && pra.includes('Declaración de la Ley de Reducción de Trámites'), `PRA: ${pra.slice(0, 120)}`);
    assert(await p.getAttribute('.cxs-root', 'lang') === 'es', 'root lang');
    await axe(p, 'es open');
    await p.click('.cxs-submit');
    assert((await p.textContent('.cxs-alert')).includes('Hay un problema'), 'Spanish error');
    await axe(p, 'es error shown');
    await p.click(`${question(p, 'trust')} label:has-text("No")`);
    assert(await p.isVisible('text=¿Qué no salió tan bien?'), 'Spanish negative list');
    await p.check(`${question(p, 'went_poorly')} input[value="efficiency"]`);
    const token = `es-${RUN}`;
    await p.fill('textarea', `Tardó mucho ${token}`);
    await p.click('.cxs-submit');
    await p.waitForSelector('text=Gracias por sus comentarios.');
    const got = await until(async () => (await rowsWith(DEP, token))[0], 'stored row');
    assert(got.locale === 'es' && got.answers.trust === 0 && got.answers.went_poorly.join() === 'efficiency', `row ${JSON.stringify(got)}`);
    await clean(p);
    await close(p);
    const q = await open(page('es-attr', { lang: 'en', locale: 'es' }));
    await q.waitForSelector('.cxs-fab');
    assert(/Comentarios/.test(await q.textContent('.cxs-fab')), 'data-locale ignored');
    await clean(q);
    await close(q);
  });

  await step('button mode: host element opens the dialog, focus returns to it, a submit stores the row', async () => {
    const p = await open(page('button', { mode: 'button', target: '#give-feedback', body: '<button id="give-feedback" type="button">Give feedback</button>' }));
    await p.waitForSelector('.cxs-root[data-cx-survey]', { state: 'attached' });
    assert(!(await p.$('.cxs-fab')), 'floating button rendered in button mode');
    await p.click('#give-feedback');
    await p.waitForSelector('.cxs-dialog', { state: 'visible' });
    assert((await active(p)).inDialog, 'focus not in dialog');
    await axe(p, 'button-mode open');
    await p.keyboard.press('Escape');
    assert((await active(p)).id === 'give-feedback', 'focus did not return to the host button');
    await p.evaluate((d) => window.CxSurvey.open(d), DEP);
    assert(await visible(p, '.cxs-dialog'), 'CxSurvey.open() did not open');
    await p.check(`${question(p, 'trust')} input[value="1"]`);
    const token = `button-${RUN}`;
    await p.fill('textarea', token);
    await p.click('.cxs-submit');
    await p.waitForSelector('.cxs-thanks', { state: 'visible' });
    await until(async () => (await rowsWith(DEP, token)).length === 1, 'button-mode row stored');
    await clean(p);
    await close(p);
  });

  await step('demo page (CX_DEMO=1, same origin as the service, the service\'s own CSP): inline widget renders', async () => {
    const p = await openUrl(`${CX_URL}/demo/inline/${LIKERT}`);
    assert(p.lastStatus === 200, `status ${p.lastStatus}`);
    await p.waitForSelector('#survey-here .cxs-root form');
    await clean(p);
    await close(p);
  });

  await step('inline mode (likert): renders in place, impression only when scrolled into view, 2 reveals went_poorly, axe', async () => {
    const p = await open(page('inline', { mode: 'inline', dep: LIKERT, target: '#survey', body: '<p>' + 'Host text. '.repeat(2000) + '</p><div id="survey"></div>' }));
    await p.waitForSelector('#survey .cxs-root form', { state: 'attached' });
    await sleep(500);
    assert(p.impressions.length === 0, 'impression recorded before the form was visible');
    await p.locator('#survey').scrollIntoViewIfNeeded();
    await until(() => p.impressions.length === 1, 'impression after scrolling');
    assert(await p.$$eval(`${question(p, 'trust')} input[type=radio]`, (i) => i.length) === 5, 'likert needs 5 radios');
    await axe(p, 'inline open');
    await p.check(`${question(p, 'trust')} input[value="2"]`);
    assert(await visible(p, question(p, 'went_poorly')) && !(await visible(p, question(p, 'went_well'))), 'likert 2 must reveal went_poorly only');
    await axe(p, 'inline after reveal');
    await p.check(`${question(p, 'went_poorly')} input[value="ease"]`);
    const token = `inline-${RUN}`;
    await p.fill('textarea', token);
    await p.click('.cxs-submit');
    await p.waitForSelector('.cxs-thanks', { state: 'visible' });
    await axe(p, 'inline thank-you');
    const got = await until(async () => (await rowsWith(LIKERT, token))[0], 'stored row');
    assert(got.answers.trust === 2 && got.answers.went_poorly.join() === 'ease', `row ${JSON.stringify(got.answers)}`);
    await clean(p);
    await close(p);
  });

  await step('inline mode (v1, 7 likert questions, only trust required), error state axe', async () => {
    const p = await open(page('v1', { mode: 'inline', dep: V1, target: '#survey', body: '<div id="survey"></div>' }));
    await p.waitForSelector('#survey .cxs-root form');
    const n = await p.$$eval('.cxs-q-likert5', (f) => f.length);
    assert(n === 7, `likert questions: ${n}`);
    const req = await p.$$eval('.cxs-req', (r) => r.length);
    assert(req === 1, `required markers: ${req}`);
    await p.click('.cxs-submit');
    assert((await active(p)).type === 'radio', 'focus after error');
    await axe(p, 'v1 error shown');
    await p.check(`${question(p, 'trust')} input[value="4"]`);
    await p.check(`${question(p, 'ease')} input[value="5"]`);
    const token = `v1-${RUN}`;
    await p.fill('textarea', token);
    await p.click('.cxs-submit');
    await p.waitForSelector('.cxs-thanks', { state: 'visible' });
    const got = await until(async () => (await rowsWith(V1, token))[0], 'stored row');
    assert(got.answers.trust === 4 && got.answers.ease === 5 && got.answers.satisfaction === undefined, `row ${JSON.stringify(got.answers)}`);
    await clean(p);
    await close(p);
  });

  await step('two deployments on one page do not clash; one global', async () => {
    const two = `<script src="${CX_URL}/widget.js" data-deployment="${LIKERT}" data-mode="inline" data-target="#survey" defer></script>`;
    const p = await open(page('multi', { extra: two, body: '<div id="survey"></div>' }));
    await p.waitForSelector('.cxs-fab');
    await p.waitForSelector('#survey .cxs-root form');
    const info = await p.evaluate(() => {
      const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
      return { roots: document.querySelectorAll('.cxs-root').length, dupes: ids.filter((x, i) => ids.indexOf(x) !== i), links: document.querySelectorAll('link[rel=stylesheet]').length, version: window.CxSurvey.version };
    });
    assert(info.roots === 2 && info.dupes.length === 0 && info.links === 1 && info.version, `multi: ${JSON.stringify(info)}`);
    await openModal(p);
    await axe(p, 'multi open');
    await clean(p);
    await close(p);
    const bare = await open(page('bare', { dep: UNKNOWN }));
    const keysWithout = await bare.evaluate(() => Object.keys(window));
    await close(bare);
    const q = await open(page('modal'));
    await q.waitForSelector('.cxs-fab');
    const keysWith = await q.evaluate(() => Object.keys(window));
    const added = keysWith.filter((k) => !keysWithout.includes(k));
    assert(added.length === 0 || (added.length === 1 && added[0] === 'CxSurvey'), `globals added: ${added}`);
    assert(keysWithout.includes('CxSurvey'), 'CxSurvey missing');
    await close(q);
  });

  await step('unknown (404), closed (410) and foreign-origin (403) deployments show nothing', async () => {
    const allow = [/Failed to load resource/, /CORS policy/, /net::ERR_FAILED/];
    for (const [name, dep] of [['unknown', UNKNOWN], ['closed', CLOSED]]) {
      const p = await open(page(`gone-${name}`, { dep }));
      await until(async () => (await events(p)).some((e) => e.type === 'error'), `error event (${name})`);
      assert(!(await p.$('.cxs-root')), `${name}: something was rendered`);
      await clean(p, allow);
      await close(p);
    }
    const b = await open(page('gone-button', { dep: CLOSED, mode: 'button', target: '#give-feedback', body: '<button id="give-feedback" type="button">Give feedback</button>' }));
    await until(async () => (await events(b)).some((e) => e.type === 'error'), 'error event (button)');
    assert(!(await b.isVisible('#give-feedback')), 'dead host button left visible');
    await close(b);
    // Same host server, reached as "localhost": an origin the deployment does not allow.
    const foreign = `http://localhost:${HOST.port}`;
    const ctx = await browser.newContext();
    const f = await ctx.newPage();
    const errs = [];
    f.on('pageerror', (e) => errs.push(e.message));
    await f.goto(`${foreign}${page('foreign')}`);
    await sleep(1500);
    assert(!(await f.$('.cxs-root')) && errs.length === 0, '403: something was rendered or threw');
    await ctx.close();
  });

  await step('honeypot: hidden from people, a filled one stores nothing', async () => {
    const p = await open(page('honeypot'));
    await openModal(p);
    const hp = await p.$eval('input[name="fax_number"]', (i) => ({ tab: i.tabIndex, ac: i.autocomplete, hidden: i.getAttribute('aria-hidden'), w: i.closest('.cxs-hp').getBoundingClientRect().width, x: i.closest('.cxs-hp').getBoundingClientRect().right, label: !!document.querySelector(`label[for="${i.id}"]`) }));
    assert(hp.tab === -1 && hp.ac === 'off' && hp.hidden === 'true' && hp.w <= 1 && hp.x <= 0 && hp.label, `honeypot ${JSON.stringify(hp)}`);
    await p.check(`${question(p, 'trust')} input[value="1"]`);
    const token = `bot-${RUN}`;
    await p.fill('textarea', token);
    await p.fill('input[name="fax_number"]', '555-0100', { force: true });
    await p.click('.cxs-submit');
    await p.waitForSelector('.cxs-thanks', { state: 'visible' });
    await sleep(500);
    assert((await rowsWith(DEP, token)).length === 0, 'honeypot submission was stored');
    await clean(p);
    await close(p);
  });

  await step('offline: a failed send is queued in localStorage, thanked, and arrives exactly once after reload and flush()', async () => {
    const context = await browser.newContext();
    const p = await open(page('offline'), { context });
    await openModal(p);
    await p.route('**/api/v1/deployments/*/responses', (r) => r.abort('internetdisconnected'));
    await p.check(`${question(p, 'trust')} input[value="1"]`);
    const token = `offline-${RUN}`;
    await p.fill('textarea', token);
    await p.click('.cxs-submit');
    await p.waitForSelector('.cxs-thanks', { state: 'visible' });
    assert((await p.textContent('.cxs-thanks')).includes('will be sent when the connection returns'), 'queued message missing');
    const pend = await p.evaluate(() => Object.entries(localStorage).filter(([k]) => k.startsWith('cx-survey:pending:')).map(([k, v]) => [k, JSON.parse(v)]));
    assert(pend.length === 1, `pending entries: ${pend.length}`);
    const [k, e] = pend[0];
    assert(k === `cx-survey:pending:${e.body.submission_id}` && e.deployment === DEP && e.api === CX_URL && e.attempts >= 1 && e.body.answers.comments === token, `entry ${JSON.stringify(e)}`);
    await p.unroute('**/api/v1/deployments/*/responses');
    await close(p);
    // Next page view in the same browser profile: the queue is resent on load.
    const q = await open(page('offline'), { context });
    await until(async () => (await rowsWith(DEP, token)).length === 1, 'queued response stored after reload');
    await until(() => q.evaluate(() => !Object.keys(localStorage).some((k) => k.startsWith('cx-survey:pending:'))), 'queue emptied');
    // And flush() for a second one, without reloading.
    await q.route('**/api/v1/deployments/*/responses', (r) => r.abort('connectionrefused'));
    await openModal(q);
    await q.check(`${question(q, 'trust')} input[value="0"]`);
    const token2 = `flush-${RUN}`;
    await q.fill('textarea', token2);
    await q.click('.cxs-submit');
    await q.waitForSelector('.cxs-thanks', { state: 'visible' });
    await q.unroute('**/api/v1/deployments/*/responses');
    await q.evaluate(() => window.CxSurvey.flush());
    await until(async () => (await rowsWith(DEP, token2)).length === 1, 'flushed response stored');
    assert((await q.textContent('.cxs-thanks-note')).includes('has been sent'), 'thank-you note not updated after delivery');
    await q.evaluate(() => window.CxSurvey.flush());
    await q.reload();
    await sleep(1500);
    assert((await rowsWith(DEP, token)).length === 1 && (await rowsWith(DEP, token2)).length === 1, 'a queued response was stored twice');
    await context.close();
  });

  await step('no localStorage (blocked): the queue lives in memory and flush() delivers it', async () => {
    const context = await browser.newContext();
    await context.addInitScript(() => Object.defineProperty(window, 'localStorage', { get() { throw new DOMException('blocked', 'SecurityError'); } }));
    const p = await open(page('nostorage'), { context });
    await openModal(p);
    await p.route('**/api/v1/deployments/*/responses', (r) => r.abort('internetdisconnected'));
    await p.check(`${question(p, 'trust')} input[value="1"]`);
    const token = `memory-${RUN}`;
    await p.fill('textarea', token);
    await p.click('.cxs-submit');
    await p.waitForSelector('.cxs-thanks', { state: 'visible' });
    await p.unroute('**/api/v1/deployments/*/responses');
    await p.evaluate(() => window.CxSurvey.flush());
    await until(async () => (await rowsWith(DEP, token)).length === 1, 'in-memory response stored');
    await clean(p, [/ERR_INTERNET_DISCONNECTED/]);
    await context.close();
  });

  await step('retry: 503 with Retry-After is retried automatically', async () => {
    const p = await open(page('retry'));
    await openModal(p);
    let n = 0;
    await p.route('**/api/v1/deployments/*/responses', (r) => {
      if (r.request().method() !== 'POST' || n++ > 0) return r.continue();
      return r.fulfill({ status: 503, headers: { 'Access-Control-Allow-Origin': HOST.origin, 'Access-Control-Expose-Headers': 'Retry-After', 'Retry-After': '1', 'Content-Type': 'application/problem+json' }, body: '{"status":503}' });
    });
    await p.check(`${question(p, 'trust')} input[value="1"]`);
    const token = `retry-${RUN}`;
    await p.fill('textarea', token);
    await p.click('.cxs-submit');
    await p.waitForSelector('.cxs-thanks', { state: 'visible' });
    await until(async () => (await rowsWith(DEP, token)).length === 1, 'retried response stored', 8000);
    assert(n === 2, `attempts: ${n}`);
    await close(p);
  });

  await step('410 from the real server (closed while the survey was open) is announced, nothing queued', async () => {
    const dep = await mk('a11-v2-thumbs', 'widget test closing');
    const p = await open(page('closing', { dep }));
    await openModal(p);
    await admin('PATCH', `/deployments/${dep}`, { status: 'closed' });
    await p.check(`${question(p, 'trust')} input[value="1"]`);
    await p.click('.cxs-submit');
    await p.waitForSelector('.cxs-alert p');
    assert((await p.textContent('.cxs-alert')).includes('no longer accepting responses'), 'gone message');
    assert(await p.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('cx-survey:pending:')).length) === 0, '410 left in the queue');
    assert((await events(p)).some((e) => e.type === 'error' && e.detail.status === 410), 'no error event with 410');
    await axe(p, 'server 410 shown');
    await shot(p, 'modal-closed-while-open');
    await clean(p, [/410/]);
    await close(p);
  });

  await step('422 from the server is shown next to the field (simulated, since the widget checks first)', async () => {
    const p = await open(page('invalid'));
    await openModal(p);
    await p.route('**/api/v1/deployments/*/responses', (r) => r.fulfill({
      status: 422,
      headers: { 'Access-Control-Allow-Origin': HOST.origin, 'Content-Type': 'application/problem+json' },
      body: JSON.stringify({ status: 422, errors: [{ field: 'answers.comments', detail: 'must be at most 5000 characters' }] }),
    }));
    await p.check(`${question(p, 'trust')} input[value="1"]`);
    await p.fill('textarea', 'x');
    await p.click('.cxs-submit');
    await p.waitForSelector('.cxs-q-text .cxs-err:not([hidden])');
    assert((await p.textContent('.cxs-q-text .cxs-err')).includes('must be at most 5000 characters'), 'server error text');
    assert(await p.getAttribute('textarea', 'aria-invalid') === 'true' && (await active(p)).tag === 'TEXTAREA', 'aria-invalid / focus');
    assert(await p.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('cx-survey:pending:')).length) === 0, '422 left in the queue');
    assert((await events(p)).some((e) => e.type === 'error' && e.detail.status === 422), 'no cx-survey:error event');
    await axe(p, 'server error shown');
    await close(p);
  });

  await step('375px wide, 320px wide and 200% zoom: full-width dialog, no horizontal scrolling', async () => {
    for (const [w, h, scale] of [[375, 700, 1], [320, 640, 1], [640, 400, 2]]) {
      const p = await open(page('narrow'), { viewport: { width: w, height: h }, scale });
      await openModal(p);
      await p.click(`${question(p, 'trust')} label:has-text("Yes")`);
      const m = await p.evaluate(() => {
        const d = document.querySelector('.cxs-dialog').getBoundingClientRect();
        const o = document.querySelector('.cxs-overlay');
        return { dw: d.width, vw: window.innerWidth, ow: o.scrollWidth, oc: o.clientWidth, fs: getComputedStyle(document.querySelector('.cxs-title')).fontSize };
      });
      if (w <= 480) assert(Math.abs(m.dw - m.vw) < 1, `${w}px: dialog ${m.dw} wide in a ${m.vw} viewport`);
      assert(m.ow <= m.oc, `${w}px: horizontal overflow ${m.ow} > ${m.oc}`);
      await axe(p, `${w}px x${scale}`);
      await close(p);
    }
  });

  await step('hostile host CSS does not leak in; ours does not leak out; reduced motion', async () => {
    const p = await open(page('hostile', { hostile: true, body: '<h2 id="host-h2">Host heading</h2><button id="host-btn" type="button">Host button</button>' }), { reducedMotion: 'reduce' });
    await openModal(p);
    const s = await p.evaluate(() => {
      const cs = (sel, prop) => getComputedStyle(document.querySelector(sel))[prop];
      return {
        rootFont: cs('.cxs-root', 'fontSize'), family: cs('.cxs-root', 'fontFamily'), titleSize: cs('.cxs-title', 'fontSize'), titleColor: cs('.cxs-title', 'color'),
        fsBorder: cs('.cxs-q', 'borderTopWidth'), labelTransform: cs('.cxs-choice', 'textTransform'), labelFloat: cs('.cxs-choice', 'cssFloat'),
        submitBg: cs('.cxs-submit', 'backgroundColor'), boxSizing: cs('.cxs-dialog', 'boxSizing'), letter: cs('.cxs-legend', 'letterSpacing'),
        anim: cs('.cxs-dialog', 'animationName'), trans: cs('.cxs-submit', 'transitionDuration'),
        hostH2: cs('#host-h2', 'fontSize'), hostBtn: cs('#host-btn', 'backgroundColor'),
      };
    });
    const want = { rootFont: '16px', titleSize: '22px', titleColor: 'rgb(27, 27, 27)', fsBorder: '0px', labelTransform: 'none', labelFloat: 'none', submitBg: 'rgb(0, 94, 162)', boxSizing: 'border-box', letter: 'normal', anim: 'none', trans: '0s', hostH2: '50px', hostBtn: 'rgb(255, 255, 0)' };
    for (const k of Object.keys(want)) assert(s[k] === want[k], `${k}: ${s[k]} (want ${want[k]})`);
    assert(s.family.startsWith('"Source Sans Pro"'), `font family ${s.family}`);
    await p.keyboard.press('Tab');
    const ring = await p.evaluate(() => getComputedStyle(document.activeElement).outlineColor);
    assert(ring === 'rgb(36, 145, 255)', `focus ring ${ring}`);
    await axe(p, 'hostile CSS open');
    await p.keyboard.press('Escape');
    await p.focus('#host-btn');
    assert(await p.evaluate(() => getComputedStyle(document.activeElement).outlineColor) !== 'rgb(36, 145, 255)', 'our focus style leaked onto the host');
    await clean(p);
    await close(p);
  });

  await step('database outage: 503 with Retry-After while the database is unavailable, /readyz says so, the widget delivers exactly once when it is back', async () => {
    const p = await open(page('dbdown'));
    await openModal(p);
    await p.check(`${question(p, 'trust')} input[value="1"]`);
    const token = `dbdown-${RUN}`;
    await p.fill('textarea', token);
    const answers = [];
    const seen = [];
    p.on('response', (r) => {
      seen.push(`${r.request().method()} ${r.url().slice(-30)} ${r.status()} +${Date.now() - t0}`);
      if (r.request().method() === 'POST' && r.url().endsWith('/responses')) answers.push([r.status(), r.headers()['retry-after']]);
    });
    p.on('requestfailed', (r) => seen.push(`FAILED ${r.method()} ${r.url().slice(-30)} ${r.failure() && r.failure().errorText} +${Date.now() - t0}`));
    const t0 = Date.now();
    const outage = databaseOutage();
    await outage.started;
    if (IS_PG) assert((await fetch(`${CX_URL}/readyz`)).status === 503, '/readyz during the outage');
    await p.click('.cxs-submit');
    await p.waitForSelector('.cxs-thanks', { state: 'visible' });
    await until(async () => answers.some(([s]) => s === 503), 'a 503 during the outage', 40000).catch((e) => { throw new Error(`${e.message}: ${seen.join('; ')}`); });
    await outage.ended;
    await until(async () => (await rowsWith(DEP, token)).length >= 1, 'response stored after the outage', 60000);
    await sleep(3000);
    assert((await rowsWith(DEP, token)).length === 1, 'stored more than once');
    assert(answers.filter(([s]) => s === 503).every(([, ra]) => Number(ra) >= 1), `503 without Retry-After: ${JSON.stringify(answers)}`);
    assert(answers.filter(([s]) => s !== 503 && s !== 201).length === 0, `unexpected answers: ${JSON.stringify(answers)}`);
    assert((await fetch(`${CX_URL}/readyz`)).status === 200, '/readyz after the outage');
    assert(await p.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('cx-survey:pending:')).length) === 0, 'queue not emptied');
    await close(p);
  });

  {
    await step('real outage: server stopped before submitting, restarted, response arrives exactly once', async () => {
      const context = await browser.newContext();
      const p = await open(page('outage'), { context });
      await openModal(p);
      await p.check(`${question(p, 'trust')} input[value="1"]`);
      const token = `outage-${RUN}`;
      await p.fill('textarea', token);
      await stopServer();
      await p.click('.cxs-submit');
      await p.waitForSelector('.cxs-thanks', { state: 'visible' });
      assert((await p.textContent('.cxs-thanks')).includes('will be sent'), 'queued message missing');
      await sleep(2500); // a few retries fail while the server is down
      await startServer();
      await p.reload();
      await p.evaluate(() => window.CxSurvey.flush());
      await until(async () => (await rowsWith(DEP, token)).length >= 1, 'queued response stored', 70000);
      await sleep(3000);
      assert((await rowsWith(DEP, token)).length === 1, 'stored more than once');
      assert(await p.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('cx-survey:pending:')).length) === 0, 'queue not emptied');
      await context.close();
    });
  }

  await hostedChecks(DEP, LIKERT, CLOSED);
  await screenshots(DEP, LIKERT);
  await browser.close();
  server.close();
  await stopServer();
  console.log(`\naxe violations per state: ${axeSummary.join(', ')}`);
  console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
  process.exit(failures ? 1 : 0);
}

// ---------------------------------------------------------------- screenshots
async function shot(p, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await p.waitForFunction(() => document.getAnimations().every((a) => a.playState === 'finished'));
  await p.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

async function screenshots(dep, likert) {
  if (!SHOTS) return;
  await step('screenshots of every state, desktop and 375 px', async () => {
    for (const [vp, viewport] of [['desktop', { width: 1280, height: 900 }], ['375px', { width: 375, height: 812 }]]) {
      const p = await open(page('shots'), { viewport });
      await p.waitForSelector('.cxs-fab');
      await shot(p, `${vp}-widget-closed`);
      await openModal(p);
      await shot(p, `${vp}-widget-open`);
      await p.click('.cxs-submit');
      await shot(p, `${vp}-widget-error`);
      await p.click(`${question(p, 'trust')} label:has-text("Yes")`);
      await shot(p, `${vp}-widget-went-well`);
      await p.click(`${question(p, 'trust')} label:has-text("No")`);
      await shot(p, `${vp}-widget-went-poorly`);
      await p.check(`${question(p, 'went_poorly')} input[value="efficiency"]`);
      await p.click('.cxs-submit');
      await p.waitForSelector('.cxs-thanks', { state: 'visible' });
      await shot(p, `${vp}-widget-thank-you`);
      await close(p);
      const q = await open(page('shots-inline', { mode: 'inline', dep: likert, target: '#survey', body: '<div id="survey"></div>' }), { viewport });
      await q.waitForSelector('#survey .cxs-root form');
      await q.click(`${question(q, 'trust')} label >> nth=1`);
      await q.locator('#survey').scrollIntoViewIfNeeded();
      await shot(q, `${vp}-inline-likert-went-poorly`);
      await close(q);
      const h = await openUrl(`${CX_URL}/s/${dep}`, { viewport });
      await shot(h, `${vp}-hosted-page`);
      await h.click('button[type=submit]');
      await h.waitForSelector('.usa-alert--error');
      await shot(h, `${vp}-hosted-error`);
      await close(h);
    }
  });
}

// ---------------------------------------------------------------- the hosted page
async function openUrl(url, opts = {}) {
  const context = await browser.newContext({ viewport: opts.viewport || { width: 1280, height: 800 }, javaScriptEnabled: opts.js !== false });
  const p = await context.newPage();
  const problems = [];
  p.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  await p.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await p.addInitScript({ content: axeSource });
  p.lastStatus = (await p.goto(url, { waitUntil: 'load' })).status();
  p.problems = problems;
  p.context_ = context;
  p.ownContext = true;
  return p;
}
const axePage = (p, state) => axe(p, state, 'html');

async function hostedChecks(dep, likert, closed) {
  await step('hosted page with JavaScript: reveal by answer, axe (form, error, thank-you), row stored once', async () => {
    const p = await openUrl(`${CX_URL}/s/${likert}`);
    assert(p.lastStatus === 200, `status ${p.lastStatus}`);
    assert(!(await p.isVisible('#q-went_well')) && !(await p.isVisible('#q-went_poorly')), 'lists shown before an answer');
    await axePage(p, 'hosted form');
    await p.click('button[type=submit]');
    await p.waitForSelector('.usa-alert--error');
    assert(p.url().endsWith(`/s/${likert}`), 'error page URL');
    assert((await active(p)).cls.includes('usa-alert'), 'error summary not focused');
    await axePage(p, 'hosted error');
    await p.click('label[for="trust-4"]');
    assert(await p.isVisible('#q-went_well') && !(await p.isVisible('#q-went_poorly')), '4 did not reveal went_well');
    await p.click('label[for="trust-2"]');
    assert(!(await p.isVisible('#q-went_well')) && await p.isVisible('#q-went_poorly'), '2 did not reveal went_poorly');
    await p.click('label[for="went_poorly-efficiency"]');
    const token = `hosted-js-${RUN}`;
    await p.fill('#comments', token);
    await p.click('button[type=submit]');
    await p.waitForURL(/\/thanks/);
    assert(await p.isVisible('text=Thank you for your feedback'), 'thank-you page');
    await axePage(p, 'hosted thank-you');
    const got = await until(async () => (await rowsWith(likert, token)).length && rowsWith(likert, token), 'stored row');
    assert(got.length === 1 && got[0].source === 'hosted' && got[0].answers.trust === 2 && got[0].answers.went_poorly.join() === 'efficiency', `rows ${JSON.stringify(got)}`);
    await clean(p, [/status of 422/]);
    await close(p);
  });

  await step('hosted page with JavaScript off: both lists with their hint, plain POST stores the revealed list only', async () => {
    const p = await openUrl(`${CX_URL}/s/${dep}?locale=es`, { js: false });
    assert(await p.isVisible('#q-went_well') && await p.isVisible('#q-went_poorly') && await p.isVisible('#went_well-hint-if'), 'lists hidden without JS');
    assert((await p.getAttribute('html', 'lang')) === 'es', 'not Spanish');
    await p.click('label[for="trust-1"]');
    await p.click('label[for="went_well-ease"]');
    await p.click('label[for="went_poorly-efficiency"]');
    const token = `hosted-nojs-${RUN}`;
    await p.fill('#comments', token);
    await p.click('button[type=submit]');
    await p.waitForURL(/\/thanks\?locale=es/);
    assert(await p.isVisible('text=Gracias por sus comentarios'), 'Spanish thank-you');
    const got = await until(async () => (await rowsWith(dep, token))[0], 'stored row');
    assert(got.locale === 'es' && got.answers.went_well.join() === 'ease' && !got.answers.went_poorly, `row ${JSON.stringify(got)}`);
    await close(p);
  });

  await step('hosted page of a closed deployment: "no longer collecting", no form, axe', async () => {
    const p = await openUrl(`${CX_URL}/s/${closed}`);
    assert(p.lastStatus === 410, `status ${p.lastStatus}`);
    assert(await p.isVisible('text=This survey is no longer collecting responses') && !(await p.$('form')), 'gone page');
    await axePage(p, 'hosted closed');
    await shot(p, 'desktop-hosted-closed');
    await clean(p, [/410/]);
    await close(p);
  });

  await step('hosted page, keyboard only: Tab to an answer, arrows choose, Space ticks, Enter submits', async () => {
    const p = await openUrl(`${CX_URL}/s/${dep}`);
    await p.keyboard.press('Tab'); // skip link
    assert((await active(p)).cls.includes('usa-skipnav'), `first Tab: ${JSON.stringify(await active(p))}`);
    let guard = 0;
    while ((await active(p)).id !== 'trust-0' && guard++ < 10) await p.keyboard.press('Tab');
    await p.keyboard.press('ArrowRight'); // radio group: arrows move and select
    assert(await p.isChecked('#trust-1'), 'arrow did not select Yes');
    await p.keyboard.press('Tab');
    assert((await active(p)).id === 'went_well-effectiveness', `after trust: ${JSON.stringify(await active(p))}`);
    await p.keyboard.press('Space');
    assert(await p.isChecked('#went_well-effectiveness'), 'Space did not tick');
    const token = `hosted-kb-${RUN}`;
    await p.focus('#comments');
    await p.keyboard.type(token);
    await p.keyboard.press('Tab');
    const a = await active(p);
    assert(a.tag === 'BUTTON', `Tab after comments reached ${JSON.stringify(a)} (honeypot must be skipped)`);
    await p.keyboard.press('Enter');
    await p.waitForURL(/\/thanks/);
    await until(async () => (await rowsWith(dep, token)).length === 1, 'stored row');
    await close(p);
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
