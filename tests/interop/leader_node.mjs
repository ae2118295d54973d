// leader_node.mjs — `warden leader` from a second independent client: Node's https/tls stack
// (OpenSSL inside Node, its own HTTP/1.1 code), with client certificates made by `warden pki`.
// The routes and their answers, then long polls: a held request released by a publish (the
// latency is printed, never asserted), a publish for another fleet that must not release it,
// `Preference-Applied` when the wait ends, and 1,000 held polls on 1,000 separate keep-alive
// connections all released with 200 and the new ETag by one publish. Prints TAP.
// Only 127.0.0.1; the leader it starts is stopped on every path (SIGTERM, then SIGKILL).
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { diag as comment, finish, needEnv, ok } from './lib.mjs';

const [WARDEN, SRC] = needEnv('WARDEN', 'WD_SRCDIR');

// 1,000 connections need more descriptors than some defaults give: raise the soft limit by
// running again under `ulimit -n` (a process cannot raise its own from Node).
function softNofile() {
  const m = readFileSync('/proc/self/limits', 'utf8').match(/Max open files\s+(\d+)/);
  return m ? Number(m[1]) : 0;
}
if (softNofile() < 4096 && !process.env.WD_NODE_NOFILE) {
  const r = spawnSync('bash', ['-c', 'ulimit -n 4096 && exec "$0" "$@"', process.execPath,
    ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, WD_NODE_NOFILE: '1' } });
  process.exit(r.status ?? 1);
}

const API = '/api/v1/conductor/';
const dir = mkdtempSync(join(tmpdir(), 'wd-leader-node-'));
const D = join(dir, 'fx');

let leader = null; // { proc, port, probe, log }
function hardStop() {
  if (leader && leader.proc.exitCode === null && leader.proc.signalCode === null) {
    try { leader.proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
}
process.on('exit', () => {
  hardStop();
  rmSync(dir, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => { hardStop(); process.exit(130); });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function run(args, opts = {}) {
  const r = spawnSync(WARDEN, args, { cwd: D, encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`warden ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}
function payloadHash(file) {
  const e = JSON.parse(readFileSync(file, 'utf8'));
  return 'sha256:' + createHash('sha256').update(Buffer.from(e.payload, 'base64')).digest('hex');
}
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
function probeGet(path) {
  return new Promise((resolve) => {
    const r = http.get({ host: '127.0.0.1', port: leader.probe, path, timeout: 10000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', () => resolve({ status: 0, body: Buffer.alloc(0) }));
  });
}

async function startLeader(store) {
  const pin = readFileSync(join(D, 'R.pin'), 'utf8').trim();
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const port = await freePort();
    const probe = await freePort();
    if (port === probe) continue;
    const log = join(dir, `leader.${attempt}.log`);
    const proc = spawn('bash', ['-c', 'ulimit -n 8192 2>/dev/null; exec "$0" "$@"', WARDEN, 'leader',
      '--listen', `127.0.0.1:${port}`, '--cert', join(D, 'leader.crt'),
      '--key', join(D, 'leader.key'), '--client-ca', join(D, 'pki/ca.crt'),
      '--trust-domain', 'fleet.test', '--roster', join(D, 'R'), '--pin', pin,
      '--store', `sqlite:${store}`, '--probe-listen', `127.0.0.1:${probe}`],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.on('data', (c) => appendFileSync(log, c));
    proc.stderr.on('data', (c) => appendFileSync(log, c));
    leader = { proc, port, probe, log };
    for (let i = 0; i < 600; i += 1) {
      if (proc.exitCode !== null || proc.signalCode !== null) break;
      const r = await probeGet('/readyz');
      if (r.status === 200) return true;
      await sleep(100);
    }
    const text = (() => { try { return readFileSync(log, 'utf8'); } catch { return ''; } })();
    if (proc.exitCode === null && proc.signalCode === null) {
      comment(`leader did not become ready: ${text.slice(-1500)}`);
      await stopLeader();
      return false;
    }
    if (/address already in use/.test(text)) continue;
    comment(`leader exited at start: ${text.slice(-1500)}`);
    return false;
  }
  return false;
}
async function stopLeader() {
  if (!leader) return null;
  const { proc } = leader;
  if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
  const done = new Promise((r) => proc.once('exit', (code) => r(code)));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 15000);
  const code = await done;
  clearTimeout(t);
  return code;
}

const ids = {};
function identity(name) {
  if (!ids[name]) {
    ids[name] = {
      key: readFileSync(join(D, `${name}.key`)),
      cert: readFileSync(join(D, `${name}.crt`)),
    };
  }
  return ids[name];
}
const CA = () => readFileSync(join(D, 'pki/ca.crt'));

// One request. who: an identity name or null (no client certificate). Resolves
// { status, headers, body } or { error } (never rejects). The body is sent after
// 100 Continue, so a 413 answered on the head is read rather than lost to a reset.
function request(who, method, path, { body, headers = {}, agent = false, timeout = 120000 } = {}) {
  return new Promise((resolve) => {
    const id = who ? identity(who) : {};
    const opts = {
      host: '127.0.0.1', port: leader.port, servername: 'localhost', method,
      path: API + path, ca: CA(), key: id.key, cert: id.cert, agent,
      headers: { ...headers },
    };
    const expect = body !== undefined && body.length > 65536;
    if (body !== undefined) {
      opts.headers['content-type'] = 'application/json';
      opts.headers['content-length'] = body.length;
      if (expect) opts.headers.expect = '100-continue';
    }
    let settled = false;
    let sent = false;
    let req = null;
    let later = null;
    const finish = (v) => {
      if (settled) return;
      settled = true;
      clearTimeout(guard);
      clearTimeout(later);
      if (!sent && req) req.destroy();
      resolve(v);
    };
    req = https.request(opts, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => finish({ status: res.statusCode, headers: res.headers,
        body: Buffer.concat(chunks) }));
      res.on('error', (error) => finish({ error }));
    });
    const guard = setTimeout(() => { req.destroy(new Error('hang guard')); }, timeout);
    req.on('error', (error) => finish({ error }));
    const send = () => { if (!sent && !settled) { sent = true; req.end(body); } };
    if (expect) {
      // body after 100 Continue, or after 1 s without an answer (RFC 9110 §10.1.1)
      req.on('continue', send);
      later = setTimeout(send, 1000);
    } else if (body !== undefined) {
      send();
    } else {
      sent = true;
      req.end();
    }
  });
}
function errCode(r) {
  try { return JSON.parse(r.body.toString()).error.code; } catch { return undefined; }
}
function show(r) {
  if (r.error) return `error: ${r.error.message}`;
  return `status ${r.status} ${r.body.toString().slice(0, 300)}`;
}
const put = (who, path, file, extra = {}) =>
  request(who, 'PUT', path, { body: readFileSync(file), ...extra });
function is(r, status, code, name) {
  ok(!r.error && r.status === status && (code === undefined || errCode(r) === code),
    name, `${show(r)} (wanted ${status}${code ? ' ' + code : ''})`);
}
const SCOPE = ['--org', 'acme', '--fleet', 'prod', '--env', 'eu1'];
function bundle(out, version, extra = []) {
  const file = join(dir, out);
  run(['bundle', 'create', '--policy', join(D, 'p1.yaml'), ...SCOPE, '--version', String(version),
    '--instances', '*', '--sign', join(D, 'bs'), '--out', file, ...extra]);
  return file;
}
async function heldPolls() {
  const r = await probeGet('/metrics');
  const m = r.body.toString().match(/^warden_leader_held_polls(?:\{\})? (\d+)/m);
  return m ? Number(m[1]) : -1;
}
async function waitHeld(atLeast, guardMs) {
  const end = Date.now() + guardMs;
  let h = -1;
  while (Date.now() < end) {
    h = await heldPolls();
    if (h >= atLeast) return h;
    await sleep(50);
  }
  return h;
}

async function main() {
  const fx = spawnSync('bash', [join(SRC, 'tests/leader/fixture.sh'), D], { encoding: 'utf8' });
  ok(fx.status === 0, 'fixture: fleet PKI, identities, keys and roster', fx.stderr);
  if (fx.status !== 0) return;
  const started = await startLeader(join(dir, 'leader.db'));
  ok(started, 'the leader starts and becomes ready');
  if (!started) return;

  // ---- routes ----
  let r = await request('f1', 'GET', 'capabilities');
  is(r, 200, undefined, 'GET capabilities: 200');
  let caps = {};
  try { caps = JSON.parse(r.body.toString()); } catch { /* checked below */ }
  ok(caps.api === 'v1' && caps.max_wait_s === 300 && caps.max_bundle_bytes === 1048576 &&
    Array.isArray(caps.payload_types), 'capabilities body', r.body?.toString());
  r = await request(null, 'GET', 'capabilities');
  ok(r.error !== undefined, 'no client certificate: no HTTP answer', show(r));
  r = await request('fo', 'GET', 'policy/latest');
  is(r, 403, 'forbidden', 'follower of another org: 403');
  r = await request('f1', 'GET', 'policy/latest');
  is(r, 204, undefined, 'no bundle yet: 204');

  const b1 = bundle('b1', 1);
  r = await put('adm', 'policy-bundles', b1);
  is(r, 201, undefined, 'publish v1: 201');
  r = await put('adm', 'policy-bundles', b1);
  is(r, 200, undefined, 'the same bytes again: 200');
  r = await put('f1', 'policy-bundles', b1);
  is(r, 403, 'forbidden', 'a follower cannot publish: 403');
  r = await request('f1', 'GET', 'policy/latest');
  is(r, 200, undefined, 'GET policy/latest: 200');
  ok(!r.error && Buffer.compare(r.body, readFileSync(b1)) === 0, 'exactly the published bytes');
  const h1 = payloadHash(b1);
  ok(r.headers?.etag === `"${h1}"`, 'ETag is the quoted bundle hash', r.headers?.etag);
  r = await request('f1', 'GET', 'policy/latest', { headers: { 'if-none-match': `"${h1}"` } });
  is(r, 304, undefined, 'If-None-Match: 304');
  const b3 = bundle('b3', 3, ['--previous', b1, '--policy', join(D, 'p2.yaml')]);
  is(await put('adm', 'policy-bundles', b3), 201, undefined, 'publish v3: 201');
  const b3f = bundle('b3f', 3, ['--id', 'fork']);
  is(await put('adm', 'policy-bundles', b3f), 409, 'fork', 'v3 with other bytes: 409 fork');
  const b2 = bundle('b2', 2, ['--previous', b1]);
  is(await put('adm', 'policy-bundles', b2), 409, 'stale', 'v2 after v3: 409 stale');
  const bp = join(dir, 'bp');
  run(['bundle', 'create', '--policy', join(D, 'p1.yaml'), ...SCOPE, '--version', '4',
    '--instances', '*', '--sign', join(D, 'k1'), '--out', bp]);
  is(await put('adm', 'policy-bundles', bp), 422, 'wrong-purpose',
    'a bundle signed by a kill key: 422 wrong-purpose');
  const big = Buffer.concat([Buffer.from('{'), Buffer.alloc(1048576, 0x20), Buffer.from('}')]);
  r = await request('adm', 'PUT', 'policy-bundles', { body: big });
  is(r, 413, 'too-large', 'a body of 1 MiB + 1: 413');
  r = await request('f1', 'GET', 'roster');
  ok(!r.error && r.status === 200 && Buffer.compare(r.body, readFileSync(join(D, 'R'))) === 0,
    'GET roster: the roster, byte for byte', show(r));

  const kill = join(dir, 'kill');
  run(['kill', 'create', ...SCOPE, '--instances', 'i-2', '--state', 'active', '--counter', '1',
    '--reason', 'drill', '--sign', join(D, 'k1'), '--sign', join(D, 'k2'), '--out', kill]);
  is(await put('adm', 'remote-kill', kill), 201, undefined, 'PUT remote-kill: 201');
  r = await request('f2', 'GET', 'remote-kill/latest');
  ok(!r.error && r.status === 200 && Buffer.compare(r.body, readFileSync(kill)) === 0,
    'i-2 gets the kill, byte for byte', show(r));
  r = await request('f1', 'GET', 'remote-kill/latest');
  is(r, 204, undefined, 'i-1 is outside the kill\'s audience: 204');

  const rb = join(dir, 'rb');
  run(['rollback', 'create', ...SCOPE, '--instances', '*', '--current', b3, '--target', b1,
    '--reason', 'drill', '--id', 'r-n', '--sign', join(D, 'rb1'), '--sign', join(D, 'rb2'),
    '--out', rb]);
  is(await put('adm', 'rollback-authorizations', rb), 201, undefined, 'PUT rollback: 201');
  r = await request('f1', 'GET', 'policy/latest');
  ok(!r.error && r.status === 200 && Buffer.compare(r.body, readFileSync(b1)) === 0 &&
    r.headers['warden-rollback-authorization'] === 'r-n',
  'the rollback target is served with Warden-Rollback-Authorization', show(r));
  r = await request('f1', 'GET', 'rollback-authorizations/r-n');
  ok(!r.error && r.status === 200 && Buffer.compare(r.body, readFileSync(rb)) === 0,
    'GET rollback-authorizations/<id>: its bytes', show(r));
  const b5 = bundle('b5', 5, ['--previous', b3]);
  is(await put('adm', 'policy-bundles', b5), 201, undefined, 'publish v5 after the rollback: 201');

  const status = JSON.stringify({ schema_version: 1, instance_id: 'i-1', labels: { rack: 'r1' },
    warden_version: '0.1.0', started_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    policy_state: 'enforcing', active_bundle: null, kill: null, last_error: null,
    recorder_key: null });
  r = await request('f1', 'POST', 'status', { body: Buffer.from(status) });
  is(r, 204, undefined, 'POST status: 204');
  r = await request('f2', 'POST', 'status', { body: Buffer.from(status) });
  is(r, 403, 'forbidden', 'POST status naming another instance: 403');
  r = await request('adm', 'GET', 'followers');
  ok(!r.error && r.status === 200 && r.body.includes('"i-1"') && r.body.includes('"r1"'),
    'GET followers lists i-1 and its labels', show(r));
  const zero = '0'.repeat(64);
  const rec = JSON.stringify({ seq: 1, ts: '2026-11-30T00:00:00Z', prev: zero, kind: 'checkpoint' });
  const batch = Buffer.from(JSON.stringify({ schema_version: 1, batch_id: 'i-1-1',
    instance_id: 'i-1', first_seq: 1, last_seq: 1, records: [rec] }));
  is(await request('f1', 'POST', 'audit/batches', { body: batch }), 202, undefined,
    'POST audit/batches: 202');
  is(await request('f1', 'POST', 'audit/batches', { body: batch }), 200, undefined,
    'the same batch again: 200');

  // ---- long polls ----
  r = await request('f1', 'GET', 'policy/latest');
  let etag = r.headers?.etag;
  const keep = () => new https.Agent({ keepAlive: true, maxSockets: 1 });

  // the 204 case ends with Preference-Applied
  r = await request('f3', 'GET', 'policy/latest', { headers: { prefer: 'wait=2' } });
  ok(!r.error && r.status === 204 && r.headers['preference-applied'] === 'wait=2',
    'nothing to serve, Prefer: wait=2: 204 with Preference-Applied: wait=2', show(r));

  // a publish for another fleet does not release a held poll
  const a1 = keep();
  let held = request('f1', 'GET', 'policy/latest',
    { agent: a1, headers: { 'if-none-match': etag, prefer: 'wait=4' } });
  let h = await waitHeld(1, 60000);
  ok(h >= 1, `the poll is held (held_polls ${h})`);
  const bs = join(dir, 'bstaging');
  run(['bundle', 'create', '--policy', join(D, 'p1.yaml'), '--org', 'acme', '--fleet', 'staging',
    '--env', 'eu1', '--version', '1', '--instances', '*', '--sign', join(D, 'bs'), '--out', bs]);
  is(await put('adm', 'policy-bundles', bs), 201, undefined, 'publish for fleet staging: 201');
  r = await held;
  ok(!r.error && r.status === 304 && r.headers['preference-applied'] === 'wait=4',
    'the prod poll is not released by it: 304 with Preference-Applied: wait=4 when the wait ends',
    show(r));
  a1.destroy();

  // a publish for its stream releases it with 200
  const a2 = keep();
  held = request('f1', 'GET', 'policy/latest',
    { agent: a2, headers: { 'if-none-match': etag, prefer: 'wait=30' }, timeout: 120000 });
  h = await waitHeld(1, 60000);
  ok(h >= 1, `the poll is held again (held_polls ${h})`);
  const b6 = bundle('b6', 6, ['--previous', b5]);
  const t0 = process.hrtime.bigint();
  const pubR = await put('adm', 'policy-bundles', b6);
  r = await held;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  is(pubR, 201, undefined, 'publish v6: 201');
  ok(!r.error && r.status === 200 && Buffer.compare(r.body, readFileSync(b6)) === 0,
    'the held poll is released with 200 and v6\'s bytes', show(r));
  ok(r.headers?.etag === `"${payloadHash(b6)}"`, 'with v6\'s ETag', r.headers?.etag);
  comment(`long poll: publish start -> held request answered: ${ms.toFixed(1)} ms`);
  a2.destroy();

  // 1,000 held polls, each on its own keep-alive connection, and one publish. Each poller
  // behaves like a follower: a wait that ends with 304 is asked again on the same connection
  // (so a slow start under sanitizers cannot let the first polls expire), and what counts is
  // the answer that ends its loop. A re-poll after the publish is answered 200 at once, so
  // every poller must end with 200 and the new ETag either way.
  etag = `"${payloadHash(b6)}"`;
  const N = 1000;
  const agents = [];
  const polls = [];
  let repolls = 0;
  const tc = process.hrtime.bigint();
  async function poller(who, agent) {
    for (;;) {
      const x = await request(who, 'GET', 'policy/latest',
        { agent, headers: { 'if-none-match': etag, prefer: 'wait=300' }, timeout: 600000 });
      if (x.error || x.status !== 304) return x;
      repolls += 1;
    }
  }
  for (let i = 0; i < N; i += 1) {
    const agent = keep();
    agents.push(agent);
    polls.push(poller(i % 2 ? 'f1' : 'f2', agent));
    if (i % 100 === 99) await waitHeld(i + 1 - 50, 60000);
  }
  h = await waitHeld(N, 900000);
  comment(`polls asked again after a 304 while the others connected: ${repolls}`);
  comment(`1,000 connections held after ${(Number(process.hrtime.bigint() - tc) / 1e6).toFixed(0)} ms`);
  ok(h >= N, `all ${N} polls are held (held_polls ${h})`);
  const b7 = bundle('b7', 7, ['--previous', b6]);
  const t1 = process.hrtime.bigint();
  const rel = [];
  const pub7 = await put('adm', 'policy-bundles', b7);
  is(pub7, 201, undefined, 'publish v7: 201');
  const guard = sleep(180000).then(() => 'hang');
  const all = Promise.all(polls.map((p) => p.then((x) => {
    rel.push(Number(process.hrtime.bigint() - t1) / 1e6);
    return x;
  })));
  const res = await Promise.race([all, guard]);
  if (res === 'hang') {
    ok(false, `all ${N} held polls are answered`, `${rel.length} answered within the guard`);
  } else {
    const e7 = `"${payloadHash(b7)}"`;
    const good = res.filter((x) => !x.error && x.status === 200 && x.headers.etag === e7);
    const bad = res.filter((x) => !(!x.error && x.status === 200 && x.headers.etag === e7));
    ok(good.length === N, `all ${N} released with 200 and v7's ETag (${good.length})`,
      bad.slice(0, 5).map(show).join('\n'));
    const bodyOk = res.every((x) => !x.error && Buffer.compare(x.body, readFileSync(b7)) === 0);
    ok(bodyOk, 'every released poll carries v7\'s exact bytes');
    rel.sort((a, b) => a - b);
    comment(`1,000 polls: publish -> first release ${rel[0].toFixed(1)} ms, median ` +
      `${rel[Math.floor(N / 2)].toFixed(1)} ms, last ${rel[N - 1].toFixed(1)} ms`);
  }
  for (const a of agents) a.destroy();
  const end = Date.now() + 60000;
  let hp = await heldPolls();
  while (hp !== 0 && Date.now() < end) { await sleep(100); hp = await heldPolls(); }
  ok(hp === 0, `no poll is left held (held_polls ${hp})`);

  r = await probeGet('/metrics');
  ok(!/^warden_leader_errors_total\{class="internal"\} [1-9]/m.test(r.body.toString()),
    'no internal error counted');

  // drain: a poll held when SIGTERM arrives is answered, then the leader exits 0
  const a3 = keep();
  held = request('f1', 'GET', 'policy/latest', { agent: a3,
    headers: { 'if-none-match': `"${payloadHash(b7)}"`, prefer: 'wait=300' }, timeout: 120000 });
  h = await waitHeld(1, 60000);
  ok(h >= 1, `a poll is held before SIGTERM (held_polls ${h})`);
  const code = await stopLeader();
  r = await held;
  ok(!r.error && r.status === 304 && r.headers['preference-applied'] === 'wait=300',
    'SIGTERM answers the held poll (304, Preference-Applied) before the leader exits', show(r));
  a3.destroy();
  ok(code === 0, `SIGTERM stops the leader with exit 0 (${code})`);
  const log = (() => { try { return readFileSync(leader.log, 'utf8'); } catch { return ''; } })();
  ok(!/ERROR: (Address|Leak)Sanitizer|runtime error:/.test(log), 'no sanitizer report in the log',
    log.slice(-2000));
}

main().catch((e) => {
  ok(false, 'the suite ran to its end', e.stack);
}).finally(async () => {
  await stopLeader().catch(() => {});
  finish();
});
