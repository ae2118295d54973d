// dsse_node.mjs — interop: Node's built-in crypto (an independent Ed25519, PEM and base64
// implementation) against warden's key files and DSSE envelopes, in both directions. TAP output.
import { spawnSync } from 'node:child_process';
import {
  createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { finish, needEnv, ok } from './lib.mjs';

const [WARDEN] = needEnv('WARDEN');
const dir = mkdtempSync(join(tmpdir(), 'wd-interop-'));
const TYPE = 'application/vnd.warden.test+json';

function warden(...args) {
  const r = spawnSync(WARDEN, args, { encoding: 'utf8' });
  return { status: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}
const show = (r) => `exit ${r.status}\nstdout: ${r.out}\nstderr: ${r.err}`;
const p = (name) => join(dir, name);

// PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, computed here.
function pae(type, body) {
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body,
  ]);
}
// keyid = "sha256:" + hex(SHA-256(raw 32-byte public key)); the raw key comes from the JWK.
function keyidOf(publicKey) {
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url');
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}
const digest = (buf) => `sha256:${createHash('sha256').update(buf).digest('hex')}`;

function nodeEnvelope(privateKey, body, type = TYPE) {
  const sig = sign(null, pae(type, body), privateKey);
  return {
    payloadType: type,
    payload: body.toString('base64'),
    signatures: [{ keyid: keyidOf(createPublicKey(privateKey)), sig: sig.toString('base64') }],
  };
}

// Node's check of an envelope: every signature verifies with one of keys (by keyid).
function nodeVerify(env, keys) {
  const body = Buffer.from(env.payload, 'base64');
  const m = pae(env.payloadType, body);
  return env.signatures.length > 0 && env.signatures.every((s) => {
    const k = keys.find((key) => keyidOf(key) === s.keyid);
    return k !== undefined && verify(null, m, k, Buffer.from(s.sig, 'base64'));
  });
}

try {
  // (a) Node's key and envelope, checked by warden
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(p('node.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(p('node.pub'), publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  const nodeId = keyidOf(publicKey);
  const body = Buffer.from(JSON.stringify({ hello: 'from node', n: 1 }));
  writeFileSync(p('node.env'), JSON.stringify(nodeEnvelope(privateKey, body)));

  let r = warden('dsse', 'verify', '--key', p('node.pub'), p('node.env'));
  ok(r.status === 0, '01 warden verifies a Node-signed envelope', show(r));
  ok(r.out === `verified: 1 signature(s), payloadType ${TYPE}, message hash ${digest(body)}\n`,
    '02 warden reports the message hash Node computes', show(r));
  r = warden('key', 'id', p('node.pem'));
  ok(r.status === 0 && r.out.trim() === nodeId, '03 warden key id of Node\'s private key equals Node\'s keyid',
    `node: ${nodeId}`, show(r));
  r = warden('key', 'id', p('node.pub'));
  ok(r.status === 0 && r.out.trim() === nodeId, '04 warden key id of Node\'s public key equals Node\'s keyid',
    `node: ${nodeId}`, show(r));
  writeFileSync(p('node-pretty.env'), JSON.stringify(nodeEnvelope(privateKey, body), null, 2));
  r = warden('dsse', 'verify', '--key', p('node.pub'), p('node-pretty.env'));
  ok(r.status === 0, '05 whitespace in the envelope JSON does not matter (no canonicalisation)', show(r));
  const bin = Buffer.from([0, 1, 2, 255, 10, 13, 0]);
  writeFileSync(p('node-bin.env'), JSON.stringify(nodeEnvelope(privateKey, bin, 'application/octet-stream')));
  r = warden('dsse', 'verify', '--key', p('node.pub'), p('node-bin.env'));
  ok(r.status === 0 && r.out.includes(`message hash ${digest(bin)}`),
    '06 warden verifies a Node-signed binary payload', show(r));

  // (b) warden's key and envelope, checked by Node
  r = warden('key', 'gen', p('wk'));
  ok(r.status === 0, '07 warden key gen', show(r));
  const wardenId = r.out.trim();
  ok((statSync(p('wk')).mode & 0o777) === 0o600, '08 warden\'s private key has mode 0600');
  const wPriv = createPrivateKey(readFileSync(p('wk')));
  const wPub = createPublicKey(readFileSync(p('wk.pub')));
  ok(wPriv.asymmetricKeyType === 'ed25519' && wPub.asymmetricKeyType === 'ed25519',
    '09 Node reads warden\'s PKCS#8 and SPKI PEM as Ed25519');
  ok(keyidOf(wPub) === wardenId, '10 Node\'s keyid of warden\'s public key equals warden\'s',
    `node: ${keyidOf(wPub)}`, `warden: ${wardenId}`);
  ok(keyidOf(createPublicKey(wPriv)) === wardenId, '11 the private key\'s public half matches');

  writeFileSync(p('in'), body);
  r = warden('dsse', 'sign', '--type', TYPE, '--key', p('wk'), p('in'), p('w.env'));
  ok(r.status === 0, '12 warden dsse sign', show(r));
  const wEnv = JSON.parse(readFileSync(p('w.env'), 'utf8'));
  ok(Object.keys(wEnv).join(',') === 'payloadType,payload,signatures',
    '13 warden\'s envelope has exactly the DSSE fields', JSON.stringify(wEnv));
  ok(wEnv.payloadType === TYPE && Buffer.from(wEnv.payload, 'base64').equals(body),
    '14 Node decodes warden\'s payload to the signed bytes');
  ok(wEnv.signatures.length === 1 && wEnv.signatures[0].keyid === wardenId,
    '15 warden\'s signature carries its keyid');
  ok(nodeVerify(wEnv, [wPub]), '16 Node verifies warden\'s signature over PAE');
  ok(!nodeVerify({ ...wEnv, payloadType: `${TYPE}x` }, [wPub]),
    '17 Node\'s check fails for a changed payloadType');

  r = warden('key', 'gen', p('wk2'));
  const wPub2 = createPublicKey(readFileSync(p('wk2.pub')));
  r = warden('dsse', 'sign', '--type', TYPE, '--key', p('wk'), '--key', p('wk2'), p('in'), p('w2.env'));
  const w2Env = JSON.parse(readFileSync(p('w2.env'), 'utf8'));
  ok(r.status === 0 && w2Env.signatures.length === 2 && nodeVerify(w2Env, [wPub, wPub2]),
    '18 Node verifies both signatures of a two-key warden envelope', show(r));

  writeFileSync(p('node-wk.env'), JSON.stringify(nodeEnvelope(wPriv, body)));
  r = warden('dsse', 'verify', '--key', p('wk.pub'), p('node-wk.env'));
  ok(r.status === 0 && r.out.startsWith('verified: 1 signature(s)'),
    '19 an envelope Node signed with warden\'s private key verifies with warden', show(r));
  ok(readFileSync(p('node-wk.env'), 'utf8') === readFileSync(p('w.env'), 'utf8'),
    '20 Node and warden produce the same envelope bytes (Ed25519 is deterministic)');

  // (c) tampering, caught by warden
  const t1 = nodeEnvelope(privateKey, body);
  t1.payload = Buffer.from(JSON.stringify({ hello: 'from mallory', n: 1 })).toString('base64');
  writeFileSync(p('t1.env'), JSON.stringify(t1));
  r = warden('dsse', 'verify', '--key', p('node.pub'), p('t1.env'));
  ok(r.status === 3 && r.err.startsWith('rejected (bad-signature): ') && r.err.split('\n').length === 2,
    '21 a tampered payload is rejected with exit 3 and one bad-signature line', show(r));
  const t2 = nodeEnvelope(privateKey, body);
  const sig = Buffer.from(t2.signatures[0].sig, 'base64');
  sig[10] ^= 0x01;
  t2.signatures[0].sig = sig.toString('base64');
  writeFileSync(p('t2.env'), JSON.stringify(t2));
  r = warden('dsse', 'verify', '--key', p('node.pub'), p('t2.env'));
  ok(r.status === 3 && r.err.startsWith('rejected (bad-signature): '),
    '22 a tampered signature is rejected as bad-signature', show(r));
  r = warden('dsse', 'verify', '--key', p('wk.pub'), p('node.env'));
  ok(r.status === 3 && r.err.startsWith('rejected (bad-signature): '),
    '23 a Node envelope checked against the wrong key is bad-signature', show(r));
  const short = Buffer.from('{"a":1}'); // 7 bytes: its base64 ends in "="
  const t3 = nodeEnvelope(privateKey, short);
  ok(t3.payload.endsWith('='), '24 the fixture payload needs padding');
  t3.payload = t3.payload.replace(/=+$/, '');
  writeFileSync(p('t3.env'), JSON.stringify(t3));
  r = warden('dsse', 'verify', '--key', p('node.pub'), p('t3.env'));
  ok(r.status === 3 && r.err.startsWith('rejected (malformed): '),
    '25 unpadded base64 (as base64url writers produce) is malformed', show(r));
} catch (err) {
  ok(false, 'unexpected exception', err.stack);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
finish();
