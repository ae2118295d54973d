// independent_signer.mjs — an independent signer written from SPEC §1–§4 alone: its own PAE,
// base64, keyids and payload JSON, Ed25519 from Node's built-in crypto. It builds a roster, a
// policy bundle and a remote kill, and checks that `warden roster|bundle|kill verify` accept
// them, and reject a tampered copy of each with the right code. Prints TAP.
import { generateKeyPairSync, createHash, sign } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { finish, needEnv, ok } from './lib.mjs';

const [WARDEN] = needEnv('WARDEN');
const dir = mkdtempSync(join(tmpdir(), 'wd-interop-'));

// ---- encodings, written out rather than borrowed ----

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
// RFC 4648 §4 base64, standard alphabet, with padding.
function base64(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i];
    const b = i + 1 < bytes.length ? bytes[i + 1] : 0;
    const c = i + 2 < bytes.length ? bytes[i + 2] : 0;
    const w = (a << 16) | (b << 8) | c;
    out += B64[(w >> 18) & 63] + B64[(w >> 12) & 63];
    out += i + 1 < bytes.length ? B64[(w >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? B64[w & 63] : '=';
  }
  return out;
}
function hex(bytes) {
  return Array.from(bytes, (x) => x.toString(16).padStart(2, '0')).join('');
}
function digest(bytes) {
  return 'sha256:' + hex(createHash('sha256').update(bytes).digest());
}
// PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN in bytes.
function pae(type, body) {
  const t = Buffer.from(type, 'utf8');
  const head = Buffer.from(`DSSEv1 ${t.length} `, 'ascii');
  const mid = Buffer.from(` ${body.length} `, 'ascii');
  return Buffer.concat([head, t, mid, body]);
}
// YYYY-MM-DDTHH:MM:SSZ
function time(seconds) {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// ---- keys ----

function newKey() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  // SubjectPublicKeyInfo DER of an Ed25519 key: a 12-byte header, then the 32 raw bytes.
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const raw = spki.subarray(spki.length - 32);
  return { privateKey, raw, keyid: digest(raw) };
}
function keyEntry(k, purposes, from) {
  return {
    keyid: k.keyid,
    public_key: base64(k.raw),
    purposes,
    valid_from: time(from),
    valid_until: null,
    status: 'active',
  };
}
function envelope(type, payloadText, signers) {
  const body = Buffer.from(payloadText, 'utf8');
  const m = pae(type, body);
  const signatures = signers.map((k) => ({ keyid: k.keyid, sig: base64(sign(null, m, k.privateKey)) }));
  return JSON.stringify({ payloadType: type, payload: base64(body), signatures });
}
// The same envelope with its payload replaced: signatures no longer match.
function tamper(envText, edit) {
  const env = JSON.parse(envText);
  const payload = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8'));
  edit(payload);
  env.payload = base64(Buffer.from(JSON.stringify(payload), 'utf8'));
  return JSON.stringify(env);
}
function run(args) {
  const r = spawnSync(WARDEN, args, { encoding: 'utf8' });
  return { status: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}
function file(name, text) {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const ROSTER_T = 'application/vnd.warden.roster.v1+json';
const BUNDLE_T = 'application/vnd.warden.policy-bundle.v1+json';
const KILL_T = 'application/vnd.warden.remote-kill.v1+json';

const now = Math.floor(Date.now() / 1000);
const from = now - 3600;
const root = newKey();
const bundleKey = newKey();
const kill1 = newKey();
const kill2 = newKey();

try {
  // ---- roster (SPEC §2) ----
  const roster = {
    schema_version: 1,
    org_id: 'acme',
    version: 1,
    created_at: time(from),
    expires_at: time(now + 30 * 86400),
    root: { threshold: 1, keys: [keyEntry(root, ['roster-root'], from)] },
    keys: [
      keyEntry(bundleKey, ['policy-bundle-signing'], from),
      keyEntry(kill1, ['remote-kill-signing'], from),
      keyEntry(kill2, ['remote-kill-signing'], from),
    ],
    thresholds: { 'policy-bundle-signing': 1, 'policy-bundle-rollback': 2, 'remote-kill-signing': 2 },
  };
  const rosterEnv = envelope(ROSTER_T, JSON.stringify(roster), [root]);
  const rosterPath = file('roster.json', rosterEnv);
  let r = run(['roster', 'verify', '--pin', root.keyid, rosterPath]);
  ok(r.status === 0, '01 warden roster verify accepts an independently signed roster', r.err);

  const badRoster = file('roster-tampered.json', tamper(rosterEnv, (p) => { p.org_id = 'evil'; }));
  r = run(['roster', 'verify', '--pin', root.keyid, badRoster]);
  ok(r.status === 3 && r.err.startsWith('rejected (bad-signature): '),
    '02 a tampered roster is rejected (bad-signature)', `exit ${r.status}: ${r.err}`);

  // ---- policy bundle (SPEC §3) ----
  const policy = 'version: 1\nmode: enforce\nservers:\n  default: deny\n';
  const bundle = {
    schema_version: 1,
    bundle_id: 'b-42',
    org_id: 'acme',
    fleet_id: 'prod',
    environment: 'eu1',
    audience: { labels: { team: 'payments' } },
    version: 42,
    previous_bundle_hash: '',
    created_at: time(now - 60),
    not_before: time(now - 60),
    expires_at: time(now + 86400),
    min_warden_version: '0.1.0',
    policy_yaml: policy,
    policy_sha256: digest(Buffer.from(policy, 'utf8')),
  };
  const bundleText = JSON.stringify(bundle);
  const bundleEnv = envelope(BUNDLE_T, bundleText, [bundleKey]);
  const follower = ['--roster', rosterPath, '--pin', root.keyid, '--org', 'acme', '--fleet', 'prod',
    '--env', 'eu1', '--instance', 'host-7', '--label', 'team=payments'];
  r = run(['bundle', 'verify', ...follower, file('bundle.json', bundleEnv)]);
  ok(r.status === 0 && r.out.includes('outcome: accepted'),
    '03 warden bundle verify accepts an independently signed bundle', `exit ${r.status}: ${r.err}${r.out}`);
  ok(r.out.includes(digest(Buffer.from(bundleText, 'utf8'))),
    '04 the bundle hash warden reports is the digest of the payload bytes', r.out);

  r = run(['bundle', 'verify', ...follower,
    file('bundle-tampered.json', tamper(bundleEnv, (p) => { p.version = 43; }))]);
  ok(r.status === 3 && r.err.startsWith('rejected (bad-signature): '),
    '05 a tampered bundle is rejected (bad-signature)', `exit ${r.status}: ${r.err}`);

  const wrongDigest = { ...bundle, policy_sha256: digest(Buffer.from('version: 1\n', 'utf8')) };
  r = run(['bundle', 'verify', ...follower,
    file('bundle-digest.json', envelope(BUNDLE_T, JSON.stringify(wrongDigest), [bundleKey]))]);
  ok(r.status === 3 && r.err.startsWith('rejected (hash-mismatch): '),
    '06 a signed bundle whose policy_sha256 is wrong is rejected (hash-mismatch)', `exit ${r.status}: ${r.err}`);

  // ---- remote kill (SPEC §4) ----
  const kill = {
    schema_version: 1,
    message_id: 'k-7',
    org_id: 'acme',
    fleet_id: 'prod',
    environment: 'eu1',
    audience: { instance_ids: ['*'] },
    state: 'active',
    counter: 7,
    reason: 'incident 2211: exfiltration via tool X',
    created_at: time(now - 60),
    not_before: time(now - 60),
    expires_at: time(now + 3600),
  };
  const killEnv = envelope(KILL_T, JSON.stringify(kill), [kill1, kill2]);
  r = run(['kill', 'verify', ...follower, file('kill.json', killEnv)]);
  ok(r.status === 0 && r.out.includes('outcome: applies'),
    '07 warden kill verify accepts an independently signed kill', `exit ${r.status}: ${r.err}${r.out}`);

  r = run(['kill', 'verify', ...follower,
    file('kill-tampered.json', tamper(killEnv, (p) => { p.state = 'inactive'; }))]);
  ok(r.status === 3 && r.err.startsWith('rejected (bad-signature): '),
    '08 a tampered kill is rejected (bad-signature)', `exit ${r.status}: ${r.err}`);

  r = run(['kill', 'verify', ...follower,
    file('kill-one.json', envelope(KILL_T, JSON.stringify(kill), [kill1]))]);
  ok(r.status === 3 && r.err.startsWith('rejected (threshold): '),
    '09 a kill with one of two signatures is rejected (threshold)', `exit ${r.status}: ${r.err}`);

  // ---- the encoders agree with warden's view of the same bytes ----
  r = run(['bundle', 'inspect', '--json', join(dir, 'bundle.json')]);
  let shown = null;
  try { shown = JSON.parse(r.out); } catch { shown = null; }
  ok(r.status === 0 && shown && shown.payload.policy_yaml === policy &&
    shown.signature_keyids[0] === bundleKey.keyid,
  '10 warden bundle inspect decodes the same payload and keyid', `exit ${r.status}: ${r.err}${r.out}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
finish();
