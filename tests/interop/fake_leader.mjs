// fake_leader.mjs — a scripted stand-in for `warden leader` in the administrators' command
// tests: HTTPS on 127.0.0.1 (ephemeral port), TLS 1.3, a client certificate required and
// verified against --client-ca. It records every request (method, path, headers, body, the
// client certificate's SAN) as one JSON line in --record, and answers with the response held
// in --script, re-read for every request so a test can change it between cases. Prints
// "PORT <n>" on stdout once listening. It never verifies messages and never listens anywhere
// but loopback.
//
// usage: node fake_leader.mjs --cert C --key K --client-ca CA --script FILE --record FILE
//          [--max-tls TLSv1.2] [--watch-stdin 1]
// --watch-stdin 1: exit when stdin closes (a parent that dies cannot leave the fake running).
// script: {"status":201,"body":"<text>"|{json},"headers":{...}} or {"hang":true}
import { appendFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:https';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const k of ['cert', 'key', 'client-ca', 'script', 'record']) {
  if (!args[k]) {
    console.error(`fake_leader: --${k} is required`);
    process.exit(2);
  }
}

const server = createServer({
  cert: readFileSync(args.cert),
  key: readFileSync(args.key),
  ca: readFileSync(args['client-ca']),
  requestCert: true,
  rejectUnauthorized: true,
  minVersion: args['max-tls'] ? 'TLSv1.2' : 'TLSv1.3',
  maxVersion: args['max-tls'] || 'TLSv1.3',
}, (req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size <= 4 * 1024 * 1024) chunks.push(c);
  });
  req.on('end', () => {
    const peer = req.socket.getPeerCertificate();
    appendFileSync(args.record, `${JSON.stringify({
      method: req.method,
      path: req.url,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('base64'),
      size,
      authorized: req.socket.authorized,
      protocol: req.socket.getProtocol(),
      san: peer?.subjectaltname ?? null,
      remote_port: req.socket.remotePort,
    })}\n`);
    let script;
    try {
      script = JSON.parse(readFileSync(args.script, 'utf8'));
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'internal', message: `fake: bad script: ${err.message}` } }));
      return;
    }
    if (script.hang) return; // never answer: the client's timeout must end the request
    const body = typeof script.body === 'string' ? script.body : JSON.stringify(script.body ?? {});
    res.writeHead(script.status ?? 200, { 'content-type': 'application/json', ...(script.headers ?? {}) });
    res.end(body);
  });
});

server.on('tlsClientError', () => {}); // a refused handshake is an expected outcome in tests
server.listen(0, '127.0.0.1', () => {
  console.log(`PORT ${server.address().port}`);
});
if (args['watch-stdin'] === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.closeAllConnections?.();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
