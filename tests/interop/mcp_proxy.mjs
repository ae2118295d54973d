// mcp_proxy.mjs — interop: the official TypeScript SDK client (@modelcontextprotocol/sdk) talks
// to the real @modelcontextprotocol/server-everything through `warden run`, which enforces tool
// policy on the stream: a denied tool is not listed and its call is refused with 403 while echo
// answers; warn and `mode: audit` forward; the policy file replaced while the session runs
// (invalid: the old one stays and the error is logged; a tool denied: the next call is refused
// and list_changed arrives; the server denied: policy_stopped, exit 3); a server that dies
// mid-call and a SIGTERM in flight (the pending call gets -32603); a flooding server; a client
// that closes mid-message; --restart on-failure with a restart the policy denies (exit 3).
// Every server runs inside warden's sandbox: the profile grants read of the npm directory and
// write of the test's temporary directory (the crashing server renames a policy file there).
// Packages are installed with exact versions into $WD_BUILDDIR/npm-scratch-proxy. TAP output.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { finish, needEnv, npmInstall, ok } from './lib.mjs';

const [WARDEN, BUILD] = needEnv('WARDEN', 'WD_BUILDDIR');

// ---- the packages (exact versions) ----
const { dir: scratch, req } = npmInstall(BUILD, 'npm-scratch-proxy',
  { '@modelcontextprotocol/server-everything': '2026.8.31', '@modelcontextprotocol/sdk': '1.32.2' }, '01');
const { Client } = req('@modelcontextprotocol/sdk/client/index.js');
const { ReadBuffer, serializeMessage } = req('@modelcontextprotocol/sdk/shared/stdio.js');
const { ToolListChangedNotificationSchema } = req('@modelcontextprotocol/sdk/types.js');
const entry = join(scratch, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');

const dir = mkdtempSync(join(tmpdir(), 'wd-proxy-'));
const childEnv = { PATH: process.env.PATH, HOME: dir };
const WAIT = 60000;

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: no answer in ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A stdio transport over `warden run` that keeps the process at hand (exit status, stderr).
class WardenTransport {
  constructor(args) { this.args = args; this.rb = new ReadBuffer(); this.stderr = ''; }
  async start() {
    this.p = spawn(WARDEN, this.args, { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((res) => {
      this.p.on('exit', (code, sig) => res(code ?? 128 + (sig === 'SIGKILL' ? 9 : 15)));
      this.p.on('error', (err) => { this.stderr += String(err); res(-1); });
    });
    this.p.stderr.on('data', (d) => { this.stderr += d; });
    this.p.stdout.on('data', (d) => {
      this.rb.append(d);
      for (;;) {
        let m;
        try { m = this.rb.readMessage(); } catch (err) { this.onerror?.(err); continue; }
        if (m === null) break;
        this.onmessage?.(m);
      }
    });
    this.p.stdin.on('error', () => {});
    this.p.on('exit', () => this.onclose?.());
  }
  async send(m) { if (this.p.stdin.writable) this.p.stdin.write(serializeMessage(m)); }
  async close() { this.p.stdin.end(); }
  kill(sig) { this.p.kill(sig); }
  async waitStderr(text, ms = WAIT) {
    const end = Date.now() + ms;
    while (!this.stderr.includes(text) && Date.now() < end) await sleep(50);
    return this.stderr.includes(text);
  }
}

async function session(args) {
  const t = new WardenTransport(args);
  const client = new Client({ name: 'warden-proxy-interop', version: '0.1.0' });
  await withTimeout(client.connect(t), WAIT, 'initialize');
  return { client, t };
}

// the code and message of a refused call (the SDK turns JSON-RPC errors into McpError)
async function refused(p) {
  try {
    const r = await withTimeout(p, WAIT, 'tools/call');
    return { answered: r };
  } catch (err) {
    return { code: err.code, message: err.message, data: err.data };
  }
}

const head = `version: 1
servers:
  default: deny
  rules:
    - name: everything
      action: allow
      reason: "the reference MCP server"
      match: {name: ["everything*"]}
      limits: {profile: mcp}
permission_profiles:
  mcp:
    env: [HOME, PATH, "MCP_*"]
    network: none
    read: ["${scratch}/**"]
    write: ["${dir}/**"]
`;
const tools = (extra = '') => `${head}mcp_tool_policy:
  default: allow
  rules:
    - name: no-sum
      action: deny
      reason: "sums are off limits"
      tool: [get-sum]
    - name: warn-env
      action: warn
      reason: "the environment is sensitive"
      tool: [get-env]
${extra}`;
const live = join(dir, 'live.yaml');
function replace(text) { // as editors do: a new file renamed over the old one
  writeFileSync(`${live}.tmp`, text);
  renameSync(`${live}.tmp`, live);
}
writeFileSync(live, tools());
const run = (policy, name = 'everything', extra = []) => ['run', '--policy', policy, '--name', name, ...extra, '--', 'node', entry, 'stdio'];

// ---- tool policy on the stream, then the live policy file ----
try {
  const { client, t } = await session(run(live));
  const list = await withTimeout(client.listTools(), WAIT, 'tools/list');
  const names = list.tools.map((x) => x.name);
  ok(names.includes('echo') && !names.includes('get-sum'), '02 tools/list: the denied tool is absent, echo is there', names.join(', '));
  const d = await refused(client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } }));
  ok(d.code === 403 && /tool call blocked by policy: sums are off limits/.test(d.message) && d.data?.rule === 'no-sum',
    '03 a denied tool call is refused by warden with 403, rule and reason', JSON.stringify(d));
  const e = await withTimeout(client.callTool({ name: 'echo', arguments: { message: 'hi' } }), WAIT, 'echo');
  ok(e.content?.[0]?.text === 'Echo: hi', '04 an allowed call (echo) answers', JSON.stringify(e));
  const w = await refused(client.callTool({ name: 'get-env', arguments: {} }));
  ok(w.answered?.content?.[0]?.text !== undefined, '05 a warn rule forwards the call', JSON.stringify(w));

  let changed = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { changed += 1; });
  replace('version: 1\nservers: {default: maybe}\n');
  ok(await t.waitStderr('warden: policy not reloaded, the previous one stays in force: '),
    '06 an invalid policy file is reported on stderr', t.stderr);
  const e2 = await withTimeout(client.callTool({ name: 'echo', arguments: { message: 'still' } }), WAIT, 'echo');
  ok(e2.content?.[0]?.text === 'Echo: still', '07 the old policy stays in force', JSON.stringify(e2));

  replace(tools(`    - name: no-echo
      action: deny
      reason: "no echo now"
      tool: [echo]
`));
  ok(await t.waitStderr('warden: policy reloaded from '), '08 the new policy is loaded', t.stderr);
  const declared = client.getServerCapabilities()?.tools?.listChanged === true;
  const end = Date.now() + WAIT;
  while (declared && changed === 0 && Date.now() < end) await sleep(50);
  ok(declared && changed === 1, '09 the client gets notifications/tools/list_changed (the server declared listChanged)', `declared ${declared}, got ${changed}`);
  const d2 = await refused(client.callTool({ name: 'echo', arguments: { message: 'no' } }));
  ok(d2.code === 403 && /no echo now/.test(d2.message), '10 the next echo call is refused', JSON.stringify(d2));
  const list2 = await withTimeout(client.listTools(), WAIT, 'tools/list');
  ok(!list2.tools.some((x) => x.name === 'echo'), '11 and echo is no longer listed');

  replace(`version: 1
servers:
  default: allow
  rules:
    - name: not-everything
      action: deny
      reason: "the reference server is retired"
      match: {name: ["everything*"]}
`);
  const code = await withTimeout(t.exited, WAIT, 'exit');
  ok(code === 3, '12 a policy that denies the server: warden exits 3', `exit ${code}`, t.stderr);
  ok(t.stderr.includes('warden: policy_stopped: server creation blocked by policy: the reference server is retired (rule not-everything)\n'),
    '13 with the policy_stopped line', t.stderr);
} catch (err) {
  ok(false, '02 the live session works end to end', err.stack);
}

// ---- mode: audit forwards what it would deny ----
try {
  const audit = join(dir, 'audit.yaml');
  writeFileSync(audit, tools().replace('version: 1\n', 'version: 1\nmode: audit\n'));
  const { client, t } = await session(run(audit));
  const list = await withTimeout(client.listTools(), WAIT, 'tools/list');
  ok(list.tools.some((x) => x.name === 'get-sum'), '14 audit mode keeps the tool listed');
  const r = await refused(client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } }));
  ok(/5/.test(JSON.stringify(r.answered ?? r)), '15 audit mode forwards the call it would deny', JSON.stringify(r));
  await client.close();
  ok((await withTimeout(t.exited, WAIT, 'exit')) === 0, '16 the client closes: warden exits 0', t.stderr);
} catch (err) {
  ok(false, '14 the audit session works', err.stack);
}

// ---- failures in flight ----
async function inFlight(how) {
  const { client, t } = await session(run(join(dir, 'base.yaml')));
  const call = refused(client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 30 } }));
  await sleep(500);
  if (how === 'server') {
    // the server: warden's child (from /proc, without procps)
    const kids = readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d)).filter((d) => {
      try { return readFileSync(`/proc/${d}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1] === String(t.p.pid); } catch { return false; }
    });
    for (const k of kids) process.kill(Number(k), 'SIGKILL');
  } else {
    t.kill('SIGTERM');
  }
  const r = await call;
  const code = await withTimeout(t.exited, WAIT, 'exit');
  return { r, code, stderr: t.stderr };
}
writeFileSync(join(dir, 'base.yaml'), tools());
try {
  const { r, code, stderr } = await inFlight('server');
  ok(r.code === -32603 && /exited before answering/.test(r.message), '17 a server that dies mid-call: the call gets -32603, not a hang', JSON.stringify(r));
  ok(code === 137, '18 warden exits 128+9', `exit ${code}`, stderr);
} catch (err) {
  ok(false, '17 a server dying mid-call', err.stack);
}
try {
  const { r, code, stderr } = await inFlight('term');
  ok(r.code === -32603, '19 SIGTERM to warden mid-call: passed on, the call gets -32603', JSON.stringify(r));
  ok(code === 143, '20 warden exits with the server\'s status (128+15)', `exit ${code}`, stderr);
} catch (err) {
  ok(false, '19 SIGTERM mid-call', err.stack);
}

// ---- a flooding server: every line arrives, in order ----
const flood = join(dir, 'flood.mjs');
writeFileSync(flood, `
const line = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x'.repeat(4000) } }) + '\\n';
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const m = JSON.parse(buf.slice(0, i)); buf = buf.slice(i + 1);
    if (m.method === 'initialize') {
      process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'flood', version: '1' } } }) + '\\n');
    } else if (m.method === 'tools/list') {
      (async () => {
        for (let k = 0; k < 8192; k++) if (!process.stdout.write(line)) await new Promise((r) => process.stdout.once('drain', r));
        process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'echo', inputSchema: { type: 'object' } }] } }) + '\\n');
      })();
    }
  }
});
`);
try {
  const { client, t } = await session(['run', '--policy', join(dir, 'base.yaml'), '--name', 'everything-flood', '--', 'node', flood]);
  let logs = 0;
  client.fallbackNotificationHandler = async () => { logs += 1; };
  const list = await withTimeout(client.listTools(), WAIT, 'tools/list');
  ok(list.tools.length === 1 && logs === 8192, '21 a server flooding 32 MiB before its answer: every line arrives, then the answer', `${logs} notifications`);
  await client.close();
  ok((await withTimeout(t.exited, WAIT, 'exit')) === 0, '22 and warden exits 0 when the client closes', t.stderr);
} catch (err) {
  ok(false, '21 a flooding server', err.stack);
}

// ---- a client that closes mid-message ----
try {
  const p = spawn(WARDEN, run(join(dir, 'base.yaml')), { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((res) => p.on('exit', (c) => res(c)));
  p.stdin.write('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}\n');
  const end = Date.now() + WAIT;
  while (!out.includes('"id":1') && Date.now() < end) await sleep(50);
  p.stdin.end('{"jsonrpc":"2.0","id":2,"method":"tools/li');
  const code = await withTimeout(exited, WAIT, 'exit');
  ok(out.includes('"id":1') && !out.includes('"id":2'), '23 a client that closes mid-message: the part is dropped', out.slice(0, 300));
  ok(code === 0 && err.includes('in the middle of a message'), '24 the server sees its stdin close and exits; warden exits 0 and says why', `exit ${code}`, err);
} catch (err) {
  ok(false, '23 a client closing mid-message', err.stack);
}

// ---- a restart the policy denies ----
const restartPolicy = join(dir, 'restart.yaml');
writeFileSync(restartPolicy, tools());
const denied = join(dir, 'denied.yaml');
writeFileSync(denied, `version: 1
servers:
  default: allow
  rules:
    - name: not-everything
      action: deny
      reason: "no more restarts"
      match: {name: ["everything*"]}
`);
const crash = join(dir, 'crash.mjs');
writeFileSync(crash, `import { renameSync } from 'node:fs';\nrenameSync(${JSON.stringify(denied)}, ${JSON.stringify(restartPolicy)});\nprocess.exit(1);\n`);
try {
  const p = spawn(WARDEN, ['run', '--policy', restartPolicy, '--name', 'everything-crash', '--restart', 'on-failure:3', '--', 'node', crash],
    { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => { err += d; });
  const code = await withTimeout(new Promise((res) => p.on('exit', (c) => res(c))), WAIT, 'exit');
  ok(code === 3, '25 --restart on-failure: a restart the policy denies exits 3', `exit ${code}`, err);
  ok(err.includes('warden: policy_stopped: server restart blocked by policy: no more restarts (rule not-everything)\n'),
    '26 with the policy_stopped line of the restart', err);
  p.stdin.end();
} catch (err) {
  ok(false, '25 a denied restart', err.stack);
}

rmSync(dir, { recursive: true, force: true });
finish();
