// admin_cli.mjs — focus: `warden publish` and `warden status` against a scripted fake leader
// (fake_leader.mjs: Node's https, client certificate required) with certificates made here by
// the openssl command line: exact bytes to the right path with the client certificate, exit
// codes and lines for each leader answer, refusals that send nothing, and the status table.
// TAP output. Only 127.0.0.1 is ever contacted; every fake is stopped on every path.
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { needEnv, ok, plan } from './lib.mjs';

const [WARDEN] = needEnv('WARDEN');
const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'wd-admin-'));
const p = (name) => join(dir, name);
const children = [];

function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(1));

// No proxy variables may reach warden (it ignores them anyway; this keeps the test honest).
const env = { ...process.env };
for (const k of Object.keys(env)) if (/_proxy$/i.test(k)) delete env[k];

function warden(...args) {
  return wardenEnv(env, ...args);
}
function wardenEnv(e, ...args) {
  const r = spawnSync(WARDEN, args, { env: e, timeout: 120000 });
  return { status: r.status, out: r.stdout?.toString() ?? '', err: r.stderr?.toString() ?? '', raw: r.stdout };
}
// Echo what warden said, as TAP comments, for the cases a reader of the log wants to see.
const note = (r) => { for (const l of `${r.out}${r.err}`.split('\n')) if (l) console.log(`# ${l}`); };
const show = (r) => `exit ${r.status}\nstdout: ${r.out.slice(0, 800)}\nstderr: ${r.err.slice(0, 800)}`;

function openssl(...args) {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

// ---- certificates: two CAs, leader certs, client certs ----
function makeCA(name) {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', p(`${name}.key`), '-out', p(`${name}.crt`), '-subj', `/CN=${name}`, '-days', '2',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
}
function makeLeaf(name, ca, ext) {
  writeFileSync(p(`${name}.ext`), ext);
  openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${name}`);
  openssl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p(`${ca}.crt`), '-CAkey', p(`${ca}.key`),
    '-set_serial', String(Math.floor(Math.random() * 1e9) + 1), '-days', '2',
    '-out', p(`${name}.crt`), '-extfile', p(`${name}.ext`));
  chmodSync(p(`${name}.key`), 0o600);
}
const serverExt = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
  + 'basicConstraints=CA:FALSE\n';
const adminExt = 'subjectAltName=URI:spiffe://td.test/org/acme/admin/alice\n'
  + 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n';
makeCA('ca');
makeCA('otherca');
makeLeaf('leader', 'ca', serverExt);
makeLeaf('admin', 'ca', adminExt);
makeLeaf('leader-other', 'otherca', serverExt);
makeLeaf('admin-other', 'otherca', adminExt);

// ---- fakes ----
async function startFake(name, cert, extra = []) {
  const script = p(`${name}.script.json`);
  const record = p(`${name}.record.jsonl`);
  writeFileSync(script, JSON.stringify({ status: 500, body: { error: { code: 'internal', message: 'unscripted' } } }));
  writeFileSync(record, '');
  const child = spawn(process.execPath, [join(here, 'fake_leader.mjs'), '--cert', p(`${cert}.crt`),
    '--key', p(`${cert}.key`), '--client-ca', p('ca.crt'), '--script', script, '--record', record,
    '--watch-stdin', '1', ...extra], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const port = await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${name}: no port within 30 s`)), 30000);
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /PORT (\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`${name} exited ${code}`)));
  });
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    script(s) {
      writeFileSync(script, JSON.stringify(s));
      writeFileSync(record, '');
    },
    records() {
      return readFileSync(record, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    },
  };
}

// A port nothing listens on: bind one, then close it.
function closedPort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const KINDS = {
  bundle: { path: '/api/v1/conductor/policy-bundles', cap: 1024 * 1024 },
  kill: { path: '/api/v1/conductor/remote-kill', cap: 64 * 1024 },
  rollback: { path: '/api/v1/conductor/rollback-authorizations', cap: 64 * 1024 },
  roster: { path: '/api/v1/conductor/roster', cap: 256 * 1024 },
};
const HASH = `sha256:${'ab'.repeat(32)}`;

async function main() {
  const fake = await startFake('good', 'leader');
  const foreign = await startFake('foreign', 'leader-other');
  const tls12 = await startFake('tls12', 'leader', ['--max-tls', 'TLSv1.2']);
  const conn = (url = fake.url, key = p('admin.key'), cert = p('admin.crt')) => [
    '--leader', url, '--cert', cert, '--key', key, '--ca', p('ca.crt')];

  // Files: bytes a JSON parser would normalise (spaces, escapes, UTF-8), to prove nothing is.
  const sample = (kind) => Buffer.from(`{"payloadType" : "x-${kind}",\n "payload":"4pyTIMOgIGxhIG1vZGU=", "signatures":[ ]}\t\n`);
  for (const kind of Object.keys(KINDS)) writeFileSync(p(`${kind}.json`), sample(kind));

  // ---- 01-04: each kind goes to its path, unchanged, with the client certificate ----
  for (const [kind, k] of Object.entries(KINDS)) {
    fake.script({ status: 201, body: { version: 42, hash: HASH, extra: { ignored: true } } });
    const r = warden('publish', kind, p(`${kind}.json`), ...conn());
    const rec = fake.records();
    ok(r.status === 0 && r.out === `published: 201 created, version 42, ${HASH}\n`,
      `01 publish ${kind}: 201 -> exit 0 and the leader's answer`, show(r));
    ok(rec.length === 1 && rec[0].method === 'PUT' && rec[0].path === k.path,
      `02 publish ${kind}: one PUT ${k.path}`, JSON.stringify(rec).slice(0, 600));
    ok(rec.length === 1 && Buffer.from(rec[0].body, 'base64').equals(sample(kind)),
      `03 publish ${kind}: the exact file bytes`, JSON.stringify(rec).slice(0, 600));
    ok(rec.length === 1 && rec[0].headers['content-type'] === 'application/json'
      && rec[0].authorized === true && rec[0].protocol === 'TLSv1.3'
      && rec[0].san === 'URI:spiffe://td.test/org/acme/admin/alice',
    `04 publish ${kind}: application/json, TLS 1.3, the admin certificate presented`,
    JSON.stringify(rec).slice(0, 600));
  }

  // ---- 05: 200 same bytes ----
  fake.script({ status: 200, body: { counter: 7, hash: HASH } });
  let r = warden('publish', 'kill', p('kill.json'), ...conn());
  ok(r.status === 0 && r.out === `published: 200 unchanged, counter 7, ${HASH}\n`,
    '05 publish: 200 -> exit 0, unchanged', show(r));
  fake.script({ status: 201, body: '' });
  r = warden('publish', 'bundle', p('bundle.json'), ...conn());
  ok(r.status === 0 && r.out === 'published: 201 created\n', '05b publish: 201 with no body', show(r));

  // ---- 06-09: rejections, exactly one line ----
  const rejections = [
    [409, 'fork', 'version 42 is already held with other bytes', 'rejected (fork): version 42 is already held with other bytes'],
    [409, 'stale', 'version 3 is below 42', 'rejected (stale): version 3 is below 42'],
    [422, 'bad-signature', 'signature 1 does not verify', 'rejected (bad-signature): signature 1 does not verify'],
    [422, 'threshold', '1 of 2 signatures', 'rejected (threshold): 1 of 2 signatures'],
    [413, 'too-large', 'body above 1048576 bytes', 'rejected (oversized): body above 1048576 bytes'],
  ];
  for (const [status, code, message, line] of rejections) {
    fake.script({ status, body: { error: { code, message } } });
    r = warden('publish', 'bundle', p('bundle.json'), ...conn());
    ok(r.status === 3 && r.err === `${line}\n` && r.out === '',
      `06 publish: ${status} ${code} -> exit 3 and '${line}'`, show(r));
  }
  fake.script({ status: 422, body: { error: { code: 'wrong-scope', message: 'bad \u001b[31mred' } } });
  r = warden('publish', 'bundle', p('bundle.json'), ...conn());
  ok(r.status === 3 && r.err === 'rejected (wrong-scope): bad ?[31mred\n',
    '07 publish: control characters in the leader\'s message are cleaned', show(r));
  fake.script({ status: 409, body: 'not json' });
  r = warden('publish', 'bundle', p('bundle.json'), ...conn());
  ok(r.status === 3 && /^rejected \(conflict\): the leader answered 409 without a reason\n$/.test(r.err),
    '08 publish: 409 without an error body -> exit 3 conflict', show(r));

  // ---- 10-13: operational answers ----
  const operational = [
    [403, 'forbidden', 'admin of another org'],
    [401, 'unauthenticated', 'no identity'],
    [500, 'internal', 'store failed'],
    [503, 'unavailable', 'store unreachable'],
    [404, 'not-found', 'no such route'],
  ];
  for (const [status, code, message] of operational) {
    fake.script({ status, body: { error: { code, message } } });
    r = warden('publish', 'roster', p('roster.json'), ...conn());
    ok(r.status === 1 && r.err.includes(`the leader answered ${status}`)
      && r.err.includes(`${code}: ${message}`) && !r.err.startsWith('rejected'),
    `10 publish: ${status} -> exit 1 naming the status and the leader's text`, show(r));
  }
  fake.script({ status: 302, body: '', headers: { location: 'https://127.0.0.1:1/elsewhere' } });
  r = warden('publish', 'kill', p('kill.json'), ...conn());
  ok(r.status === 1 && r.err.includes('answered 302') && fake.records().length === 1,
    '11 publish: a redirect is not followed -> exit 1', show(r));

  // ---- 12: the answer's own cap ----
  fake.script({ status: 201, body: `{"pad":"${'x'.repeat(64 * 1024)}"}` });
  r = warden('publish', 'kill', p('kill.json'), ...conn());
  ok(r.status === 1 && r.err.includes('larger than 65536 bytes'),
    '12 publish: an answer past 64 KiB -> exit 1, not read', show(r));

  // ---- 13: transport failures ----
  const dead = await closedPort();
  r = warden('publish', 'bundle', p('bundle.json'), ...conn(`https://127.0.0.1:${dead}`));
  note(r);
  ok(r.status === 1 && r.err === `warden: cannot connect to https://127.0.0.1:${dead}: Connection refused\n`,
    '13 publish: connection refused -> exit 1 with a clear message', show(r));
  r = warden('publish', 'bundle', p('bundle.json'), ...conn(foreign.url));
  note(r);
  ok(r.status === 1 && r.err.includes(`TLS with ${foreign.url} failed`) && foreign.records().length === 0,
    '14 publish: leader certificate from another CA -> exit 1, nothing sent', show(r));
  fake.script({ status: 201, body: {} });
  r = warden('publish', 'bundle', p('bundle.json'), ...conn(fake.url, p('admin-other.key'), p('admin-other.crt')));
  note(r);
  ok(r.status === 1 && r.err.startsWith('warden: ') && fake.records().length === 0,
    '15 publish: client certificate from another CA -> handshake refused, exit 1', show(r));
  r = warden('publish', 'bundle', p('bundle.json'), ...conn(tls12.url));
  note(r);
  ok(r.status === 1 && r.err.includes('TLS with') && tls12.records().length === 0,
    '16 publish: a leader that offers only TLS 1.2 -> exit 1', show(r));
  fake.script({ hang: true });
  r = warden('publish', 'kill', p('kill.json'), ...conn(), '--timeout', '1s');
  note(r);
  ok(r.status === 1 && r.err.includes('no complete answer within the time limit'),
    '17 publish: no answer within --timeout -> exit 1', show(r));

  // ---- 18-19: size limits per kind, at the limit and one past it ----
  for (const [kind, k] of Object.entries(KINDS)) {
    const at = Buffer.alloc(k.cap, 0x20);
    at[0] = 0x7b;
    at[k.cap - 1] = 0x7d;
    writeFileSync(p(`${kind}-at.json`), at);
    writeFileSync(p(`${kind}-over.json`), Buffer.concat([at, Buffer.from(' ')]));
    fake.script({ status: 201, body: { version: 1 } });
    r = warden('publish', kind, p(`${kind}-at.json`), ...conn());
    let rec = fake.records();
    ok(r.status === 0 && rec.length === 1 && rec[0].size === k.cap
      && Buffer.from(rec[0].body, 'base64').equals(at),
    `18 publish ${kind}: exactly ${k.cap} bytes is sent whole`, show(r), `records ${rec.length}`);
    fake.script({ status: 201, body: { version: 1 } });
    r = warden('publish', kind, p(`${kind}-over.json`), ...conn());
    rec = fake.records();
    ok(r.status === 3 && r.err.startsWith('rejected (oversized): ') && r.err.split('\n').length === 2
      && rec.length === 0,
    `19 publish ${kind}: ${k.cap + 1} bytes -> rejected (oversized), nothing sent`, show(r), `records ${rec.length}`);
  }

  // ---- 20: bad --leader URLs -> exit 2, nothing sent ----
  const badUrls = [
    `http://127.0.0.1:${fake.port}`,
    `https://alice@127.0.0.1:${fake.port}`,
    `https://alice:pw@127.0.0.1:${fake.port}`,
    `https://127.0.0.1:${fake.port}/?x=1`,
    `https://127.0.0.1:${fake.port}?`,
    `https://127.0.0.1:${fake.port}#frag`,
    `https://127.0.0.1:${fake.port}/api`,
    `ftp://127.0.0.1:${fake.port}`,
    '127.0.0.1',
    'https://',
    '',
  ];
  fake.script({ status: 201, body: {} });
  for (const u of badUrls) {
    r = warden('publish', 'bundle', p('bundle.json'), ...conn(u));
    ok(r.status === 2 && r.err.startsWith('warden: publish: --leader: ') && fake.records().length === 0,
      `20 publish --leader '${u}' -> usage error, exit 2, nothing sent`, show(r));
  }
  r = warden('publish', 'bundle', p('bundle.json'), ...conn(`${fake.url}/`));
  ok(r.status === 0 && fake.records()[0]?.path === KINDS.bundle.path,
    '21 publish --leader with a trailing / is accepted', show(r));

  // proxy variables pointing at a dead loopback port are ignored: the leader is reached directly
  fake.script({ status: 201, body: {} });
  const proxied = { ...env };
  for (const k of ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY']) proxied[k] = `http://127.0.0.1:${dead}`;
  r = wardenEnv(proxied, 'publish', 'bundle', p('bundle.json'), ...conn());
  ok(r.status === 0 && fake.records().length === 1, '21b publish ignores proxy variables', show(r));

  // ---- 22: a client key group or others can read is refused before any connection ----
  for (const mode of [0o640, 0o604]) {
    chmodSync(p('admin.key'), mode);
    fake.script({ status: 201, body: {} });
    r = warden('publish', 'bundle', p('bundle.json'), ...conn());
    note(r);
    ok(r.status === 1 && r.err.includes('readable by group or others') && fake.records().length === 0,
      `22 publish with a key of mode ${mode.toString(8)} -> refused, exit 1, nothing sent`, show(r));
    r = warden('status', ...conn());
    ok(r.status === 1 && r.err.includes('readable by group or others') && fake.records().length === 0,
      `22 status with a key of mode ${mode.toString(8)} -> refused, exit 1, nothing sent`, show(r));
  }
  chmodSync(p('admin.key'), 0o600);
  r = warden('publish', 'bundle', p('bundle.json'), ...conn(fake.url, p('nope.key')));
  ok(r.status === 1 && r.err.includes('cannot open key file'), '23 publish: missing key file -> exit 1', show(r));
  r = warden('publish', 'bundle', p('missing.json'), ...conn());
  ok(r.status === 1 && fake.records().length === 0, '23 publish: missing FILE -> exit 1, nothing sent', show(r));

  // ---- 24: usage errors ----
  const usage = [
    ['publish', 'bundle', p('bundle.json')],
    ['publish', 'policy', p('bundle.json'), ...conn()],
    ['publish', 'bundle', ...conn()],
    ['publish', 'bundle', p('bundle.json'), p('kill.json'), ...conn()],
    ['publish', 'bundle', p('bundle.json'), ...conn(), '--bogus'],
    ['publish', 'bundle', p('bundle.json'), ...conn(), '--timeout', 'soon'],
    ['status', ...conn(), 'extra'],
    ['status', '--leader', fake.url],
    ['status', ...conn(`http://127.0.0.1:${fake.port}`)],
  ];
  for (const args of usage) {
    r = warden(...args);
    ok(r.status === 2 && fake.records().length === 0,
      `24 usage error -> exit 2, nothing sent: ${args.slice(0, 3).map((a) => a.replace(dir, '')).join(' ')}`, show(r));
  }

  // ---- 25-28: status ----
  const now = Math.floor(Date.now() / 1000);
  const t = (s) => new Date((now - s) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const view = {
    followers: [
      {
        instance_id: 'web-7', fleet_id: 'payments', environment: 'prod', labels: { team: 'pay' },
        policy_state: 'enforcing', active_bundle: { version: 42, hash: HASH }, kill: null,
        last_error: null, last_seen: t(3 * 3600 + 60), silent: false, lag: 0,
        warden_version: '0.2.0', future_field: { x: 1 },
      },
      {
        instance_id: 'web-8', fleet_id: 'payments', environment: 'prod', labels: {},
        policy_state: 'killed', active_bundle: { version: 41, hash: HASH },
        kill: { counter: 3, state: 'active', honored: true },
        last_error: { code: 'bad-signature', message: 'x', at: t(100) }, last_seen: t(3 * 3600 + 60),
        silent: false, lag: 1, warden_version: '0.2.0',
      },
      {
        instance_id: 'db-1\u001b[2J', fleet_id: 'core', environment: 'prod', labels: {},
        policy_state: 'none', active_bundle: null,
        kill: { counter: 2, state: 'inactive', honored: false }, last_error: null,
        last_seen: t(2 * 86400 + 3600), silent: true, lag: null, warden_version: '0.2.0',
      },
    ],
    active: { 'payments/prod': { version: 42, hash: HASH } },
  };
  const viewText = `{ "followers" : ${JSON.stringify(view.followers, null, 1)},\n"active":${JSON.stringify(view.active)} }`;
  fake.script({ status: 200, body: viewText });
  r = warden('status', ...conn());
  const rec = fake.records();
  note(r);
  ok(r.status === 0 && rec.length === 1 && rec[0].method === 'GET'
    && rec[0].path === '/api/v1/conductor/followers'
    && rec[0].san === 'URI:spiffe://td.test/org/acme/admin/alice',
  '25 status: GET /api/v1/conductor/followers with the admin certificate, exit 0', show(r));
  const lines = r.out.split('\n');
  const cells = (l) => l.trim().split(/ {2,}/);
  const rowOf = (id) => lines.find((l) => l.startsWith(id));
  ok(lines[0] && cells(lines[0]).join('|') === 'INSTANCE|FLEET/ENV|BUNDLE|KILL|POLICY|LAST SEEN|LAG|NOTES',
    '26 status: header row', r.out);
  ok(rowOf('web-7') && cells(rowOf('web-7')).join('|') === 'web-7|payments/prod|42|-|enforcing|3h ago|0',
    '26 status: an up-to-date follower row', r.out);
  ok(rowOf('web-8') && cells(rowOf('web-8')).join('|')
    === 'web-8|payments/prod|41|active #3|killed|3h ago|1|error: bad-signature',
  '26 status: a killed, lagging follower with its last error', r.out);
  ok(rowOf('db-1') && cells(rowOf('db-1')).join('|')
    === 'db-1?[2J|core/prod|-|inactive #2 not honored|none|2d ago|-|silent',
  '26 status: a silent follower is marked, its id cleaned', r.out);
  ok(lines.indexOf(rowOf('db-1')) < lines.indexOf(rowOf('web-7')),
    '26 status: rows sorted by fleet/env then instance', r.out);
  ok(r.out.includes(`  payments/prod  version 42  ${HASH}\n`)
    && r.out.endsWith('3 followers, 1 silent, 1 behind the active bundle\n') && !r.out.includes('\u001b'),
  '27 status: active bundles and the summary line', r.out);
  r = warden('status', ...conn(), '--json');
  ok(r.status === 0 && r.raw.equals(Buffer.from(viewText)), '28 status --json: the leader\'s bytes unchanged', show(r));

  fake.script({ status: 200, body: { followers: [], active: {} } });
  r = warden('status', ...conn());
  ok(r.status === 0 && r.out.startsWith('no followers have reported yet\n')
    && r.out.endsWith('0 followers, 0 silent, 0 behind the active bundle\n'), '29 status: an empty fleet', show(r));
  fake.script({ status: 403, body: { error: { code: 'forbidden', message: 'followers may not list' } } });
  r = warden('status', ...conn());
  ok(r.status === 1 && r.err === 'warden: status: the leader answered 403 Forbidden: forbidden: followers may not list\n',
    '30 status: 403 -> exit 1 naming status and text', show(r));
  fake.script({ status: 500, body: 'oops' });
  r = warden('status', ...conn());
  ok(r.status === 1 && r.err === 'warden: status: the leader answered 500 Internal Server Error\n',
    '31 status: 500 without an error body -> exit 1', show(r));
  fake.script({ status: 200, body: '{"followers":[' });
  r = warden('status', ...conn());
  ok(r.status === 1 && r.err.includes('not valid JSON') && r.out === '', '32 status: a broken view -> exit 1', show(r));
  fake.script({ status: 200, body: { nodes: [] } });
  r = warden('status', ...conn(), '--json');
  ok(r.status === 0, '33 status --json does not judge the shape', show(r));
  r = warden('status', ...conn());
  ok(r.status === 1 && r.err.includes('no "followers" list'), '33 status: an answer without followers -> exit 1', show(r));
  r = warden('status', ...conn(`https://127.0.0.1:${dead}`));
  ok(r.status === 1 && r.err === `warden: cannot connect to https://127.0.0.1:${dead}: Connection refused\n`,
    '34 status: connection refused -> exit 1', show(r));
  r = warden('status', ...conn(foreign.url), '--json');
  ok(r.status === 1 && r.out === '' && foreign.records().length === 0,
    '35 status: leader certificate from another CA -> exit 1, nothing printed', show(r));

  for (const args of [['publish', '--help'], ['status', '--help']]) {
    r = warden(...args);
    ok(r.status === 0 && r.out.includes('Exit codes:') && r.out.includes('--leader URL')
      && !/SPEC/.test(r.out), `36 ${args[0]} --help`, show(r));
  }
}

try {
  await main();
} catch (err) {
  ok(false, 'the test ran to the end', err.stack);
}
for (const c of children) c.kill('SIGTERM');
plan();
