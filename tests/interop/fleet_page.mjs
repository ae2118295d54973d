// fleet_page.mjs — the leader's fleet page in a real headless Chromium (Debian's chromium, driven
// by puppeteer-core from npm): a real `warden leader` with --ui-listen, three real `warden agent`
// processes reporting status, certificates from `warden pki`, rosters and bundles from the
// warden CLI. The page shows the three followers with their versions; a new bundle shows up
// without a reload once the agents apply it; the filter box and column sorting work. Then the
// same leader with --ui-token-file: requests without the token are refused (401), with it they
// work (bearer header, and ?token= once in the browser); the event streams are capped; start-up
// refusals (a group-readable token file, a non-loopback address without a token). Everything
// listens on 127.0.0.1 with ephemeral ports; Chromium cannot resolve any other host. A
// screenshot is saved to $WD_BUILDDIR/fleet-page.png. puppeteer-core is installed with npm into
// $WD_BUILDDIR/npm-scratch (reused when present). TAP output.
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync,
  statSync, writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { bail, finish, needEnv, npmInstall, ok } from './lib.mjs';

const [WARDEN, BUILD] = needEnv('WARDEN', 'WD_BUILDDIR');
const CHROMIUM = process.env.WD_CHROMIUM || '/usr/bin/chromium';
const PUPPETEER = 'puppeteer-core';
const PUPPETEER_VERSION = '24.43.1'; // exact: installed as puppeteer-core@24.43.1

// ---- everything started is stopped on every path ----
const T = mkdtempSync(join(tmpdir(), 'wd-fleetpage-'));
const procs = new Set();
let browser = null;
function cleanup() {
  for (const p of procs) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
  try { browser?.process()?.kill('SIGKILL'); } catch { /* gone */ }
  rmSync(T, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(1));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function w(args, opts = {}) {
  return spawnSync(WARDEN, args, { cwd: T, encoding: 'utf8', timeout: 60000, ...opts });
}
function must(args) {
  const r = w(args);
  if (r.status !== 0) bail(`warden ${args.join(' ')}`, r.stderr, r.stdout);
  return r.stdout;
}
function start(args, log) {
  const fd = openSync(log, 'a');
  const p = spawn(WARDEN, args, { cwd: T, stdio: ['ignore', 'ignore', fd] });
  closeSync(fd);
  procs.add(p);
  p.done = new Promise((r) => p.on('exit', (code, sig) => { procs.delete(p); r(code ?? sig); }));
  return p;
}
async function stop(p) {
  if (!procs.has(p)) return p.done;
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 30000);
  const r = await p.done;
  clearTimeout(t);
  return r;
}
const read = (f) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
async function until(fn, secs = 60) {
  const end = Date.now() + secs * 1000;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) return null;
    await sleep(100);
  }
}

// One plain-HTTP request to 127.0.0.1:port: {status, headers, body}.
function get(port, path, headers = {}) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false, timeout: 30000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, headers: {}, body: String(e) }));
  });
}
// A raw request on a new connection: what came back before the connection closed.
function rawRequest(port, path) {
  return new Promise((resolve) => {
    let data = '';
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    });
    s.setEncoding('utf8');
    s.on('data', (d) => { data += d; });
    s.on('error', () => {});
    s.on('close', () => resolve(data));
    s.setTimeout(30000, () => s.destroy());
  });
}
// An idle connection, open.
function rawOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', () => resolve(s));
  });
}
// An event stream left open: resolves with {status, res} once the head is in.
function openStream(port, headers = {}) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/ui/v1/events', headers, agent: false }, (res) => {
      res.setEncoding('utf8');
      res.data = '';
      res.on('data', (d) => { res.data += d; });
      res.on('error', () => {});
      resolve({ status: res.statusCode, res, req });
    });
    req.on('error', (e) => resolve({ status: 0, error: String(e), req }));
  });
}

// ---- puppeteer-core and chromium ----
const { req } = npmInstall(BUILD, 'npm-scratch', { [PUPPETEER]: PUPPETEER_VERSION }, '01',
  { PUPPETEER_SKIP_DOWNLOAD: '1' });
ok(existsSync(CHROMIUM), `02 chromium is installed (${CHROMIUM}; scripts/deps.sh installs it)`);
if (!existsSync(CHROMIUM)) finish();
const puppeteer = req(PUPPETEER);

// ---- fixtures: CA and certificates, signing keys, rosters, policy ----
must(['pki', 'init', '--trust-domain', 'fleet.test', '--dir', 'pki']);
must(['pki', 'issue', '--dir', 'pki', '--leader', '127.0.0.1,localhost', '--out', 'leader']);
must(['pki', 'issue', '--dir', 'pki', '--admin', 'acme/alice', '--out', 'alice']);
const hosts = [
  { id: 'web-1', team: 'gamma' },
  { id: 'web-2', team: 'alpha' },
  { id: 'web-3', team: 'beta' },
];
for (const h of hosts) must(['pki', 'issue', '--dir', 'pki', '--follower', `acme/web/prod/${h.id}`, '--out', h.id]);
must(['key', 'gen', 'root']);
must(['key', 'gen', 'b1']);
must(['roster', 'init', '--org', 'acme', '--root-key', 'root', '--out', 'roster1.json']);
must(['roster', 'add-key', 'roster1.json', '--key', 'b1.pub', '--purpose', 'policy-bundle-signing',
  '--sign', 'root', '--out', 'roster2.json']);
const PIN = must(['key', 'id', 'root']).trim();
writeFileSync(join(T, 'policy.yaml'), `version: 1
mode: enforce
servers:
  default: deny
  rules:
    - name: no-shells
      action: deny
      reason: "no shells"
      match:
        command: [sh, bash]
`);
function mkBundle(version, out, prev) {
  must(['bundle', 'create', '--policy', 'policy.yaml', '--org', 'acme', '--fleet', 'web', '--env',
    'prod', '--version', String(version), '--instances', '*', ...(prev ? ['--previous', prev] : []),
    '--sign', 'b1', '--out', out]);
}

// ---- the leader ----
const leaderArgs = ['leader', '--listen', '127.0.0.1:0', '--probe-listen', '127.0.0.1:0',
  '--store', `sqlite:${join(T, 'leader.db')}`, '--cert', 'leader.crt', '--key', 'leader.key',
  '--client-ca', 'pki/ca.crt', '--trust-domain', 'fleet.test', '--roster', 'roster1.json',
  '--pin', PIN, '--log-format', 'text', '--workers', '2'];
async function startLeader(extra, log) {
  const p = start([...leaderArgs, ...extra], log);
  const m = await until(() => {
    const s = read(log).match(/ start listen=127\.0\.0\.1:(\d+) probe=127\.0\.0\.1:(\d+) ui=127\.0\.0\.1:(\d+) /);
    return s || (!procs.has(p) ? 'exited' : null);
  }, 30);
  if (!m || m === 'exited') bail('the leader starts', read(log));
  return { p, mtls: Number(m[1]), probe: Number(m[2]), ui: Number(m[3]) };
}
const L1log = join(T, 'leader1.log');
const L1 = await startLeader(['--ui-listen', '127.0.0.1:0'], L1log);
ok(/ ui_token=none /.test(read(L1log)), '03 the leader serves the page on loopback without a token, and says so');
const URL = `https://127.0.0.1:${L1.mtls}`;
const ADM = ['--leader', URL, '--cert', 'alice.crt', '--key', 'alice.key', '--ca', 'pki/ca.crt'];
must(['publish', 'roster', 'roster2.json', ...ADM]);
mkBundle(1, 'b1.json');
must(['publish', 'bundle', 'b1.json', ...ADM]);

// ---- three agents ----
const agents = [];
for (const h of hosts) {
  const conf = join(T, `${h.id}.yaml`);
  writeFileSync(conf, `instance_id: ${h.id}
labels: {team: ${h.team}}
state_dir: ${join(T, `state-${h.id}`)}
conductor:
  enabled: true
  leader_url: ${URL}
  trust_roster_root_fingerprint: ${PIN}
  honor_remote_kill_switch: true
  poll_interval: 2s
  long_poll: true
  tls: {cert: ${join(T, `${h.id}.crt`)}, key: ${join(T, `${h.id}.key`)}, ca: ${join(T, 'pki/ca.crt')}}
logging: {level: debug, format: text}
`);
  const log = join(T, `${h.id}.log`);
  agents.push({ ...h, log, p: start(['agent', '--config', conf], log) });
}
// the leader's view (the page's data endpoint) until every agent reports this version
async function converged(version, port = L1.ui, headers = {}) {
  return until(async () => {
    const r = await get(port, '/ui/v1/followers', headers);
    if (r.status !== 200) return null;
    const v = JSON.parse(r.body);
    return v.followers.length === 3 && v.followers.every((f) => f.active_bundle?.version === version) ? v : null;
  }, 90);
}
const v1 = await converged(1);
ok(v1 !== null, '04 three real agents apply bundle 1 and report it',
  ...agents.map((a) => `${a.id}: ${read(a.log).split('\n').slice(-5).join('\n')}`));
if (v1 === null) finish();
ok(v1.followers.every((f) => f.spiffe_id === `spiffe://fleet.test/org/acme/fleet/web/env/prod/instance/${f.instance_id}`),
  '05 the view names each follower by its SPIFFE id', JSON.stringify(v1.followers.map((f) => f.spiffe_id)));

// ---- the page in Chromium ----
browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  // loopback only: every host name but 127.0.0.1 fails to resolve; no background traffic
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-default-apps', '--no-pings',
    '--disable-domain-reliability', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
});
const page = await browser.newPage();
await page.setViewport({ width: 1400, height: 600 });
const consoleErrors = [];
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
page.on('pageerror', (e) => consoleErrors.push(String(e)));
const PAGE = `http://127.0.0.1:${L1.ui}/`;
const resp = await page.goto(PAGE, { waitUntil: 'domcontentloaded', timeout: 30000 });
ok(resp.status() === 200, '06 the page loads (200)', resp.status());

const rowsOf = () => page.$$eval('#rows tr', (trs) => trs.map((tr) => ({
  instance: tr.dataset.instance,
  hidden: tr.hidden,
  cells: Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.dataset.col, td.textContent])),
})));
const waitRows = async (pred, secs = 60) => {
  try {
    await page.waitForFunction(pred, { timeout: secs * 1000, polling: 100 });
    return true;
  } catch {
    return false;
  }
};
const three = await waitRows(() => document.querySelectorAll('#rows tr').length === 3 &&
  [...document.querySelectorAll('#rows td[data-col="bundle"]')].every((td) => td.textContent.startsWith('v1 ')));
let rows = await rowsOf();
ok(three, '07 the page shows the three followers on bundle 1', JSON.stringify(rows));
ok(rows.map((r) => r.instance).join(',') === 'web-1,web-2,web-3', '08 ... sorted by follower by default', JSON.stringify(rows));
ok(rows.every((r) => r.cells.identity.includes(`spiffe://fleet.test/org/acme/fleet/web/env/prod/instance/${r.instance}`)),
  '09 ... each with its SPIFFE id', JSON.stringify(rows));
ok(rows.every((r) => r.cells.labels === `team=${hosts.find((h) => h.id === r.instance).team}`),
  '10 ... its labels', JSON.stringify(rows));
const h1 = v1.followers[0].active_bundle.hash;
ok(rows.every((r) => r.cells.bundle === `v1 ${h1.slice(0, 19)}…`), '11 ... its bundle version and hash', JSON.stringify(rows), h1);
ok(rows.every((r) => r.cells.lag === '0 (current)' && r.cells.policy === 'enforcing' && r.cells.kill === 'none'),
  '12 ... no lag, policy enforcing, no kill', JSON.stringify(rows));
ok(rows.every((r) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(r.cells.seen) && r.cells.error === ''),
  '13 ... last seen (not silent) and no last error', JSON.stringify(rows));
ok(await page.$eval('#conn', (e) => e.dataset.state) === 'live', '14 the event stream is live');
ok(await page.$eval('#active', (e) => e.textContent.includes('web/prod active v1')), '15 the active bundle of web/prod is v1');

// ---- a new bundle: the page changes without a reload ----
await page.evaluate(() => { window.wdSamePage = 'yes'; });
const updatesBefore = Number(await page.$eval('body', (b) => b.dataset.updates || '0'));
mkBundle(2, 'b2.json', 'b1.json');
must(['publish', 'bundle', 'b2.json', ...ADM]);
const lagShown = await waitRows(() => document.querySelector('#active')?.textContent.includes('web/prod active v2'), 30);
ok(lagShown, '16 after the publish the page shows v2 as active (pushed, not polled)');
const moved = await waitRows(() => document.querySelectorAll('#rows tr').length === 3 &&
  [...document.querySelectorAll('#rows td[data-col="bundle"]')].every((td) => td.textContent.startsWith('v2 ')), 90);
rows = await rowsOf();
ok(moved, '17 the three followers show bundle 2 once their agents apply it', JSON.stringify(rows));
ok(rows.every((r) => r.cells.lag === '0 (current)'), '18 ... and no lag', JSON.stringify(rows));
ok(await page.evaluate(() => window.wdSamePage) === 'yes', '19 ... without a reload of the page');
const updatesAfter = Number(await page.$eval('body', (b) => b.dataset.updates || '0'));
ok(updatesAfter > updatesBefore, `20 ... through events of the stream (${updatesBefore} -> ${updatesAfter})`);

// ---- filter and sort ----
await page.type('#filter', 'BETA');
await waitRows(() => [...document.querySelectorAll('#rows tr')].filter((tr) => !tr.hidden).length === 1, 10);
rows = await rowsOf();
ok(rows.filter((r) => !r.hidden).map((r) => r.instance).join(',') === 'web-3',
  '21 the filter box keeps the matching follower only (case-insensitive)', JSON.stringify(rows));
ok(await page.$eval('#count', (e) => e.textContent) === '1 of 3 shown', '22 ... and says how many are shown');
await page.click('#filter', { clickCount: 3 });
await page.keyboard.press('Backspace');
await waitRows(() => [...document.querySelectorAll('#rows tr')].filter((tr) => !tr.hidden).length === 3, 10);
rows = await rowsOf();
ok(rows.every((r) => !r.hidden), '23 clearing the filter shows all three again', JSON.stringify(rows));
await page.type('#filter', 'no-such-host');
await waitRows(() => [...document.querySelectorAll('#rows tr')].every((tr) => tr.hidden), 10);
ok((await rowsOf()).every((r) => r.hidden), '24 a filter that matches nothing hides every row');
await page.click('#filter', { clickCount: 3 });
await page.keyboard.press('Backspace');

const order = async () => (await rowsOf()).map((r) => r.instance).join(',');
await page.click('th[data-key="identity"] button');
ok(await order() === 'web-3,web-2,web-1', '25 clicking Follower again sorts descending', await order());
ok(await page.$eval('th[data-key="identity"]', (th) => th.getAttribute('aria-sort')) === 'descending',
  '26 ... and the header says so');
await page.click('th[data-key="labels"] button');
ok(await order() === 'web-2,web-3,web-1', '27 sorting by Labels orders alpha, beta, gamma', await order());
await page.click('th[data-key="labels"] button');
ok(await order() === 'web-1,web-3,web-2', '28 ... and reversed on a second click', await order());
await page.click('th[data-key="identity"] button');
ok(await order() === 'web-1,web-2,web-3', '29 back to Follower ascending', await order());

const shot = join(BUILD, 'fleet-page.png');
await page.screenshot({ path: shot, fullPage: true });
ok(existsSync(shot) && statSync(shot).size > 1000, `30 screenshot saved to ${shot}`);
ok(consoleErrors.length === 0, '31 no errors in the page\'s console', ...consoleErrors);
await page.close();

// ---- how each state is shown: a view given to the page through request interception ----
// (silence takes three status intervals, a kill and errors take more fixtures: the rendering
// of each is checked on a view of the leader's shape, served in place of the stream)
{
  const fake = {
    followers: [
      { instance_id: 'db-1', fleet_id: 'db', environment: 'prod', spiffe_id: 'spiffe://fleet.test/org/acme/fleet/db/env/prod/instance/db-1',
        labels: { team: '<img src=x onerror="window.wdXss=1">' }, policy_state: 'killed',
        active_bundle: { version: 5, hash: 'sha256:' + 'ab'.repeat(32) }, kill: { counter: 3, state: 'active', honored: true },
        last_error: { code: 'bad-signature', message: '<b>bad</b> bundle', at: '2026-11-30T09:00:00Z' },
        last_seen: '2026-11-30T09:12:00Z', silent: true, lag: 2, warden_version: '0.1.0' },
      { instance_id: 'db-2', fleet_id: 'db', environment: 'prod', spiffe_id: 'spiffe://fleet.test/org/acme/fleet/db/env/prod/instance/db-2',
        labels: {}, policy_state: 'none', active_bundle: null, kill: { counter: 4, state: 'inactive', honored: false },
        last_error: null, last_seen: '2026-11-30T09:13:00Z', silent: false, lag: null, warden_version: '0.1.0' },
    ],
    active: { 'db/prod': { version: 7, hash: 'sha256:' + 'cd'.repeat(32), rollback_authorization: 'rb-1' } },
  };
  const pf = await browser.newPage();
  await pf.setRequestInterception(true);
  pf.on('request', (rq) => {
    if (rq.url().endsWith('/ui/v1/events')) {
      rq.respond({ status: 200, contentType: 'text/event-stream', body: `retry: 60000\nevent: followers\ndata: ${JSON.stringify(fake)}\n\n` });
    } else {
      rq.continue();
    }
  });
  await pf.goto(PAGE, { waitUntil: 'domcontentloaded', timeout: 30000 });
  let shownFake = false;
  try {
    await pf.waitForFunction(() => document.querySelectorAll('#rows tr').length === 2, { timeout: 20000, polling: 100 });
    shownFake = true;
  } catch { /* reported below */ }
  const fr = shownFake ? await pf.$$eval('#rows tr', (trs) => trs.map((tr) => ({
    instance: tr.dataset.instance, cls: tr.className,
    cells: Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.dataset.col, td.textContent])),
  }))) : [];
  const d1 = fr.find((r) => r.instance === 'db-1');
  const d2 = fr.find((r) => r.instance === 'db-2');
  ok(d1 && d1.cls === 'silent' && d1.cells.seen === '2026-11-30T09:12:00Zsilent' && d2 && !d2.cls,
    '31b a silent follower is marked (badge and row), the others are not', JSON.stringify(fr));
  ok(d1 && d1.cells.kill === 'active #3' && d1.cells.policy === 'killed' && d2 && d2.cells.kill === 'inactive #4 (not honored)',
    '31c kill states are shown with their counter, and a kill not honored says so', JSON.stringify(fr));
  ok(d1 && d1.cells.lag === '2 behind' && d2 && d2.cells.lag === '–' && d2.cells.bundle === 'none',
    '31d lag behind, and no bundle, are shown', JSON.stringify(fr));
  ok(d1 && d1.cells.error === 'bad-signature: <b>bad</b> bundle (2026-11-30T09:00:00Z)',
    '31e the last error is shown with its code, message and time', JSON.stringify(fr));
  ok(await pf.evaluate(() => window.wdXss === undefined && document.querySelector('#rows img, #rows b') === null) &&
    d1 && d1.cells.labels === 'team=<img src=x onerror="window.wdXss=1">',
  '31f text from hosts is shown as text, never as HTML', JSON.stringify(fr));
  ok(await pf.$eval('#active', (e) => e.textContent) === 'db/prod active v7 sha256:cdcdcdcdcdcd… (rollback rb-1)',
    '31g an active rollback is named next to its stream', await pf.$eval('#active', (e) => e.textContent));
  ok(await pf.$eval('#summary', (e) => e.textContent) === '2 followers1 not on the active bundle1 silent1 killed',
    '31h the summary counts followers behind, silent and killed', await pf.$eval('#summary', (e) => e.textContent));
  await pf.close();
}

// ---- metrics and logs ----
const met = await until(async () => {
  const m = await get(L1.probe, '/metrics'); // the page's stream closes soon after the page
  return /^warden_leader_ui_streams 0$/m.test(m.body) ? m : null;
}, 10) || await get(L1.probe, '/metrics');
ok(/warden_leader_requests_total\{route="ui\/page",status="200"\} [1-9]/.test(met.body) &&
  /warden_leader_requests_total\{route="ui\/events",status="200"\} [1-9]/.test(met.body) &&
  /warden_leader_requests_total\{route="ui\/asset",status="200"\} [1-9]/.test(met.body),
'32 /metrics counts the page\'s requests by route and status', met.body.split('\n').filter((l) => l.includes('ui')).join('\n'));
ok(/^warden_leader_ui_streams 0$/m.test(met.body), '33 ... and no event stream is open once the page is closed',
  met.body.split('\n').filter((l) => l.includes('ui_streams')).join('\n'));
ok(/ request method=GET route=ui\/events status=200 peer=ui /.test(read(L1log)), '34 one log line per page request, with its route');

const r405 = await new Promise((resolve) => {
  const req = http.request({ host: '127.0.0.1', port: L1.ui, path: '/', method: 'POST', agent: false }, (res) => {
    res.resume();
    res.on('end', () => resolve(res.statusCode));
  });
  req.on('error', () => resolve(0));
  req.end();
});
ok(r405 === 405, '35 the page is read-only: POST gets 405', r405);
ok((await get(L1.ui, '/api/v1/conductor/followers')).status === 404, '36 the page listener serves nothing of the API');

// ---- the token ----
for (const a of agents) ok(await stop(a.p) === 0, `37 agent ${a.id} stops on SIGTERM (exit 0)`);
ok(await stop(L1.p) === 0, '38 the leader drains with its page open streams closed (exit 0)');

// at the length limit (128): the cookie that carries it must still fit its header
const tok = ('f1eetpage_' + randomBytes(64).toString('hex')).slice(0, 128);
const tokFile = join(T, 'ui.token');
writeFileSync(tokFile, tok + '\n', { mode: 0o644 });
chmodSync(tokFile, 0o644);
let r = w([...leaderArgs, '--ui-listen', '127.0.0.1:0', '--ui-token-file', tokFile]);
ok(r.status === 1 && r.stderr.includes('readable by group or others (mode 0644)'),
  '39 a token file others can read is refused (exit 1)', r.status, r.stderr);
chmodSync(tokFile, 0o600);
writeFileSync(join(T, 'short.token'), 'x'.repeat(15) + '\n', { mode: 0o600 });
r = w([...leaderArgs, '--ui-listen', '127.0.0.1:0', '--ui-token-file', join(T, 'short.token')]);
ok(r.status === 1 && r.stderr.includes('one token of 16 to 128 characters'), '40 a 15-character token is refused (exit 1)', r.status, r.stderr);
writeFileSync(join(T, 'spaced.token'), 'x'.repeat(10) + ' ' + 'x'.repeat(10) + '\n', { mode: 0o600 });
r = w([...leaderArgs, '--ui-listen', '127.0.0.1:0', '--ui-token-file', join(T, 'spaced.token')]);
ok(r.status === 1 && r.stderr.includes('one token of 16 to 128 characters'), '40b a token with a space is refused (exit 1)', r.status, r.stderr);
writeFileSync(join(T, 'long.token'), 'y'.repeat(129) + '\n', { mode: 0o600 });
r = w([...leaderArgs, '--ui-listen', '127.0.0.1:0', '--ui-token-file', join(T, 'long.token')]);
ok(r.status === 1 && r.stderr.includes('one token of 16 to 128 characters'), '40c a 129-character token is refused (exit 1)', r.status, r.stderr);
r = w([...leaderArgs, '--ui-listen', '127.0.0.1:0', '--ui-token-file', join(T, 'missing.token')]);
ok(r.status === 1 && r.stderr.includes('cannot open'), '40d a missing token file is refused (exit 1)', r.status, r.stderr);
r = w([...leaderArgs, '--ui-listen', '0.0.0.0:0']);
ok(r.status === 2 && r.stderr.includes('is not a loopback address: --ui-token-file is required'),
  '41 a non-loopback page address without a token file is a usage error (exit 2), before anything binds', r.status, r.stderr);
r = w([...leaderArgs, '--ui-token-file', tokFile]);
ok(r.status === 2 && r.stderr.includes('--ui-token-file needs --ui-listen'), '42 a token file without --ui-listen is a usage error', r.status, r.stderr);

const L2log = join(T, 'leader2.log');
const L2 = await startLeader(['--ui-listen', '127.0.0.1:0', '--ui-token-file', tokFile], L2log);
ok(/ ui_token=required /.test(read(L2log)), '43 the leader says the page needs its token');
const bearer = { Authorization: `Bearer ${tok}` };
let g = await get(L2.ui, '/ui/v1/followers');
ok(g.status === 401 && JSON.parse(g.body).error.code === 'unauthenticated' && /^Bearer /.test(g.headers['www-authenticate'] || ''),
  '44 the data without the token: 401 unauthenticated', g.status, g.body);
ok((await get(L2.ui, '/ui/v1/followers', { Authorization: `Bearer ${tok}x` })).status === 401, '45 ... with a wrong token: 401');
ok((await get(L2.ui, '/ui/v1/followers', { Authorization: `Bearer ${tok.slice(0, -1)}` })).status === 401, '46 ... with a prefix of it: 401');
ok((await get(L2.ui, '/ui/v1/followers', { Cookie: `warden_ui=${tok.slice(0, -1)}` })).status === 401, '47 ... with a wrong cookie: 401');
ok((await get(L2.ui, '/')).status === 401, '48 the page itself without the token: 401');
ok((await get(L2.ui, '/ui/app.js')).status === 401, '49 its script without the token: 401');
ok((await get(L2.ui, '/ui/v1/events')).status === 401, '50 the event stream without the token: 401');
ok((await get(L2.ui, `/?token=${tok}x`)).status === 401, '51 the page with a wrong ?token=: 401');
g = await get(L2.ui, '/ui/v1/followers', bearer);
const v2 = g.status === 200 ? JSON.parse(g.body) : null;
ok(v2 !== null && v2.followers.length === 3 && v2.followers.every((f) => f.active_bundle.version === 2),
  '52 with Authorization: Bearer TOKEN: 200 and the three followers', g.status, g.body);
ok((await get(L2.ui, '/ui/v1/followers', { Cookie: `other=1; warden_ui=${tok}` })).status === 200, '53 ... or with the cookie');
g = await get(L2.ui, `/?token=${tok}`);
ok(g.status === 303 && g.headers.location === '/' &&
  (g.headers['set-cookie'] || []).some((c) => c === `warden_ui=${tok}; Path=/; HttpOnly; SameSite=Strict`),
'54 /?token=TOKEN sets an HttpOnly cookie and redirects to /', g.status, JSON.stringify(g.headers));

// the event streams are capped: 16 open, the 17th gets 503
const streams = [];
for (let i = 0; i < 16; i++) streams.push(await openStream(L2.ui, bearer));
ok(streams.every((s) => s.status === 200), '55 16 event streams are served (the cap)', streams.map((s) => s.status).join(','));
const first = await until(() => streams.every((s) => s.res && s.res.data.includes('event: followers\ndata: {')), 10);
ok(first, '56 ... each gets the view at once');
const extra = await openStream(L2.ui, bearer);
ok(extra.status === 503, '57 the 17th gets 503', extra.status);
extra.req.destroy();
for (const s of streams) s.req.destroy();
await until(async () => /^warden_leader_ui_streams 0$/m.test((await get(L2.probe, '/metrics')).body), 10);
const again = await openStream(L2.ui, bearer);
ok(again.status === 200, '58 closed streams free their places', again.status);
again.req.destroy();
// every connection of the page is closed now (a stream's place is freed with its connection)
ok(await until(async () => /^warden_leader_ui_streams 0$/m.test((await get(L2.probe, '/metrics')).body), 10) !== null,
  '58a ... and the gauge of open streams comes back to 0');

// connections are capped: 64 open, the 65th is closed unanswered; a freed place is reused
const idle = [];
for (let i = 0; i < 64; i++) idle.push(await rawOpen(L2.ui));
const over = await rawRequest(L2.ui, '/ui/v1/followers');
ok(over === '', '58b with 64 connections open, the 65th is closed without an answer', over.slice(0, 80));
idle.pop().destroy();
const afterFree = await until(async () => {
  const d = await rawRequest(L2.ui, '/ui/v1/followers');
  return d.startsWith('HTTP/1.1 401 ') ? d : null;
}, 10);
ok(afterFree !== null, '58c ... once one closes, a new connection is answered again');
for (const s of idle) s.destroy();
ok(/operational|cap reached/.test(read(L2log)) && read(L2log).includes('fleet page connection cap reached'),
  '58d ... and the refusal is logged');

// the browser: a fresh profile gets 401, ?token= once opens the page and the stream
const ctx = await browser.createBrowserContext();
const p2 = await ctx.newPage();
let rr = await p2.goto(`http://127.0.0.1:${L2.ui}/`, { waitUntil: 'domcontentloaded', timeout: 30000 });
ok(rr.status() === 401, '59 Chromium without the token: 401', rr.status());
rr = await p2.goto(`http://127.0.0.1:${L2.ui}/?token=${tok}`, { waitUntil: 'domcontentloaded', timeout: 30000 });
ok(rr.status() === 200 && p2.url() === `http://127.0.0.1:${L2.ui}/`, '60 ... /?token=TOKEN opens the page, and the address bar loses the token', rr.status(), p2.url());
let shown = false;
try {
  await p2.waitForFunction(() => document.querySelectorAll('#rows tr').length === 3 &&
    document.querySelector('#conn').dataset.state === 'live', { timeout: 30000, polling: 100 });
  shown = true;
} catch { /* reported below */ }
ok(shown, '61 ... which shows the three followers over its event stream (the cookie carries the token)');
await ctx.close();
ok(!read(L2log).includes(tok), '62 the token is never in the leader\'s log');

await browser.close();
browser = null;
ok(await stop(L2.p) === 0, '63 the leader stops (exit 0)');

// a token at the lower limit (16) is taken
writeFileSync(join(T, 'min.token'), 'a'.repeat(16) + '\n', { mode: 0o600 });
const L3log = join(T, 'leader3.log');
const L3 = await startLeader(['--ui-listen', '127.0.0.1:0', '--ui-token-file', join(T, 'min.token')], L3log);
ok((await get(L3.ui, '/ui/v1/followers', { Authorization: `Bearer ${'a'.repeat(16)}` })).status === 200 &&
  (await get(L3.ui, '/ui/v1/followers', { Authorization: `Bearer ${'a'.repeat(15)}` })).status === 401,
'64 a 16-character token is taken (and its 15-character prefix is not)');
ok(await stop(L3.p) === 0, '65 that leader stops (exit 0)');
finish();
