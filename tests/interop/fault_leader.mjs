// fault_leader.mjs — a fault-injecting stand-in for `warden leader`, for the agent daemon's
// tests: HTTPS on 127.0.0.1 (ephemeral port), TLS 1.3, a client certificate required and
// verified against --client-ca. It records every request (path, If-None-Match, Prefer) as one
// JSON line in --record, and answers from --script, re-read whenever it changes:
//
//   {"policy":[STEP...], "kill":[STEP...],        queues for GET …/policy/latest and
//                                                 …/remote-kill/latest, one step per request
//    "routes":{"/api/v1/conductor/roster/1":STEP, …},   fixed answers for other paths (else 404)
//    "tls":"good"|"bad",                          "bad": present a certificate from another CA
//    "hold_ms":1000}                              how long an empty queue holds a long poll
//
// STEP: {"status":N,"file":PATH,"headers":{…}}   the file's bytes as the body (or "body":TEXT)
//       {"reset":true}                          destroy the connection without an answer
//       {"cut":N,"file":PATH}                   announce the file's length, send N bytes, close
//       {"endless":true}                        a 200 whose body never ends
// An empty queue answers like a leader with nothing new: held for hold_ms, then 304 when the
// request has If-None-Match, else 204, with Preference-Applied. Prints "PORT <n>" once
// listening; exits when stdin closes (a dead parent cannot leave it running). It never verifies
// anything and never listens anywhere but loopback.
//
// usage: node fault_leader.mjs --cert C --key K --alt-cert C2 --alt-key K2 --client-ca CA
//          --script FILE --record FILE
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:https';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const k of ['cert', 'key', 'alt-cert', 'alt-key', 'client-ca', 'script', 'record']) {
  if (!args[k]) {
    console.error(`fault_leader: --${k} is required`);
    process.exit(2);
  }
}
const ca = readFileSync(args['client-ca']);
const contexts = {
  good: { cert: readFileSync(args.cert), key: readFileSync(args.key), ca, requestCert: true, rejectUnauthorized: true },
  bad: { cert: readFileSync(args['alt-cert']), key: readFileSync(args['alt-key']), ca, requestCert: true, rejectUnauthorized: true },
};

let script = { policy: [], kill: [], routes: {}, tls: 'good', hold_ms: 1000 };
let scriptStamp = '';
let tls = 'good';
const server = createServer({ ...contexts.good, minVersion: 'TLSv1.3' }, handle);

function reload() {
  let st;
  try {
    st = statSync(args.script);
  } catch {
    return;
  }
  const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
  if (stamp === scriptStamp) return;
  scriptStamp = stamp;
  try {
    const s = JSON.parse(readFileSync(args.script, 'utf8'));
    script = { policy: s.policy ?? [], kill: s.kill ?? [], routes: s.routes ?? {}, tls: s.tls ?? 'good', hold_ms: s.hold_ms ?? 1000 };
  } catch (err) {
    console.error(`fault_leader: bad script: ${err.message}`);
    return;
  }
  if (script.tls !== tls) {
    tls = script.tls;
    server.setSecureContext({ ...contexts[tls === 'bad' ? 'bad' : 'good'] });
    server.closeAllConnections?.();
  }
}
setInterval(reload, 50).unref();

function answer(req, res, step) {
  if (step.reset) {
    req.socket.destroy();
    return;
  }
  const headers = { 'content-type': 'application/json', ...(step.headers ?? {}) };
  if (step.endless) {
    res.writeHead(200, headers);
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = () => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', pump);
    };
    res.on('error', () => {});
    pump();
    return;
  }
  const body = step.file ? readFileSync(step.file) : Buffer.from(step.body ?? '');
  if (step.cut !== undefined) {
    res.writeHead(step.status ?? 200, { ...headers, 'content-length': body.length });
    res.write(body.subarray(0, step.cut), () => setTimeout(() => req.socket.destroy(), 50));
    return;
  }
  res.writeHead(step.status ?? 200, { ...headers, 'content-length': body.length });
  res.end(body);
}

function handle(req, res) {
  reload();
  const path = req.url;
  appendFileSync(args.record, `${JSON.stringify({
    method: req.method,
    path,
    inm: req.headers['if-none-match'] ?? null,
    prefer: req.headers.prefer ?? null,
    san: req.socket.wdSan ?? req.socket.getPeerCertificate()?.subjectaltname ?? null,
    // a resumed TLS session was authenticated by the handshake that made it (the client
    // certificate is required there); Node may not show the certificate again on resumption
    resumed: req.socket.wdResumed ?? req.socket.isSessionReused(),
  })}\n`);
  req.resume();
  req.on('end', () => {
    const q = path === '/api/v1/conductor/policy/latest' ? script.policy
      : path === '/api/v1/conductor/remote-kill/latest' ? script.kill : null;
    if (q !== null && q.length > 0) {
      answer(req, res, q.shift());
      return;
    }
    if (q !== null) {
      const wait = /wait=(\d+)/.exec(req.headers.prefer ?? '');
      const t = setTimeout(() => {
        const h = wait ? { 'preference-applied': `wait=${wait[1]}` } : {};
        res.writeHead(req.headers['if-none-match'] ? 304 : 204, h);
        res.end();
      }, wait ? script.hold_ms : 0);
      res.on('close', () => clearTimeout(t));
      return;
    }
    if (path === '/api/v1/conductor/status' && req.method === 'POST') {
      res.writeHead(204);
      res.end();
      return;
    }
    const step = script.routes[path];
    if (step) {
      answer(req, res, step);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'not-found', message: 'no such thing here' } }));
  });
}

// What the handshake proved, read when it completes: a request handled after the connection
// was closed under it (a TLS switch, a reset) can no longer show its peer certificate.
server.on('secureConnection', (sock) => {
  sock.wdSan = sock.getPeerCertificate()?.subjectaltname ?? null;
  sock.wdResumed = sock.isSessionReused();
});
server.on('tlsClientError', () => {});
server.on('clientError', (err, socket) => socket.destroy());
server.listen(0, '127.0.0.1', () => {
  console.log(`PORT ${server.address().port}`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0));
}
