// mcp_server.mjs — interop: a real MCP server (@modelcontextprotocol/server-everything) started
// through `warden run`, driven by the official TypeScript SDK client over stdio. Allowed: the
// client initializes, lists tools, calls echo, and sees the environment the profile allows.
// Denied: the blocked line, exit 3, and a wrapper that would leave a marker proves nothing ran.
// The server runs inside warden's sandbox: its profile grants read of the npm directory and
// write of the test's temporary directory (the wrapper's marker), no network.
// The packages are installed with exact versions into $WD_BUILDDIR/npm-scratch (lib.mjs; reused
// when present).
// TAP output.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { finish, needEnv, npmInstall, ok } from './lib.mjs';

const [WARDEN, BUILD] = needEnv('WARDEN', 'WD_BUILDDIR');

// ---- the packages (exact versions) ----
const { dir: scratch, req } = npmInstall(BUILD, 'npm-scratch',
  { '@modelcontextprotocol/server-everything': '2026.8.31', '@modelcontextprotocol/sdk': '1.32.2' }, '01');
const { Client } = req('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = req('@modelcontextprotocol/sdk/client/stdio.js');
const entry = join(scratch, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
ok(existsSync(entry), '02 the server\'s stdio entry point exists', entry);

// ---- policies and a wrapper that leaves a marker when it runs ----
const dir = mkdtempSync(join(tmpdir(), 'wd-mcp-'));
const marker = join(dir, 'marker');
const wrapper = join(dir, 'everything-wrapper');
writeFileSync(wrapper, `#!/bin/sh\ntouch '${marker}'\nexec '${process.execPath}' '${entry}' stdio\n`);
chmodSync(wrapper, 0o755);
const allowPolicy = join(dir, 'allow.yaml');
writeFileSync(allowPolicy, `version: 1
servers:
  default: deny
  rules:
    - name: everything
      action: allow
      reason: "the reference MCP server"
      match: {command: [node, "${wrapper}"], transport: [stdio]}
      limits: {profile: mcp}
permission_profiles:
  mcp:
    env: [HOME, PATH, "MCP_*"]
    network: none
    read: ["${scratch}/**"]
    write: ["${dir}/**"]
`);
const denyPolicy = join(dir, 'deny.yaml');
writeFileSync(denyPolicy, `version: 1
servers:
  default: allow
  rules:
    - name: no-everything
      action: deny
      reason: "the reference server is not approved here"
      match: {name: ["everything*"]}
`);

const childEnv = { PATH: process.env.PATH, HOME: dir, MCP_GREETING: 'hi', SECRET_TOKEN: 'hunter2' };

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: no answer in ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
}

async function session(args) {
  const transport = new StdioClientTransport({ command: WARDEN, args, env: childEnv, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr += d; });
  const client = new Client({ name: 'warden-interop', version: '0.1.0' });
  await withTimeout(client.connect(transport), 60000, 'initialize');
  return { client, transport, stderr: () => stderr };
}

// ---- allowed: node runs the server ----
try {
  const s = await session(['run', '--policy', allowPolicy, '--name', 'everything', '--', 'node', entry, 'stdio']);
  const info = s.client.getServerVersion();
  ok(info && /everything/i.test(info.name), '03 initialize through warden run reaches the server', JSON.stringify(info));
  const tools = await withTimeout(s.client.listTools(), 60000, 'tools/list');
  const names = tools.tools.map((t) => t.name);
  ok(names.includes('echo'), '04 tools/list includes echo', names.join(', '));
  const res = await withTimeout(s.client.callTool({ name: 'echo', arguments: { message: 'hello through warden' } }), 60000, 'tools/call');
  ok(res.content?.[0]?.text === 'Echo: hello through warden', '05 echo returns the text', JSON.stringify(res));
  if (names.includes('get-env')) {
    const envRes = await withTimeout(s.client.callTool({ name: 'get-env', arguments: {} }), 60000, 'get-env');
    const env = JSON.parse(envRes.content[0].text);
    ok(env.MCP_GREETING === 'hi' && env.HOME === dir && env.PATH === process.env.PATH,
      '06 the server gets the variables its profile allows', JSON.stringify(env));
    ok(!('SECRET_TOKEN' in env), '07 and not the others', JSON.stringify(env));
  } else {
    ok(false, '06 the server offers get-env to show its environment', names.join(', '));
  }
  ok(!existsSync(marker), '08 the wrapper was not involved');
  await s.client.close();
} catch (err) {
  ok(false, '03 an allowed session works end to end', err.stack);
}

// ---- allowed through the wrapper: the marker proves it ran ----
try {
  const s = await session(['run', '--policy', allowPolicy, '--name', 'everything-w', '--', wrapper]);
  const res = await withTimeout(s.client.callTool({ name: 'echo', arguments: { message: 'wrapped' } }), 60000, 'tools/call');
  ok(res.content?.[0]?.text === 'Echo: wrapped', '09 the wrapper starts the same server');
  ok(existsSync(marker), '10 and leaves its marker when it runs');
  await s.client.close();
} catch (err) {
  ok(false, '09 a session through the wrapper works', err.stack);
}
rmSync(marker, { force: true });

// ---- denied: nothing starts ----
const r = spawnSync(WARDEN, ['run', '--policy', denyPolicy, '--name', 'everything', '--', wrapper], {
  encoding: 'utf8', input: '', env: childEnv, timeout: 60000,
});
ok(r.status === 3, '11 a denied server: warden exits 3', `status ${r.status}`, r.stderr);
ok(r.stderr === 'server creation blocked by policy: the reference server is not approved here (rule no-everything)\n',
  '12 the blocked message reaches the client unchanged', r.stderr);
ok(r.stdout === '', '13 nothing on the protocol stream', r.stdout);
ok(!existsSync(marker), '14 the wrapper never ran (no marker)');

// the SDK client sees the connection close instead of an initialize answer
try {
  const s = await session(['run', '--policy', denyPolicy, '--name', 'everything', '--', wrapper]);
  ok(false, '15 the client cannot initialize a denied server');
  await s.client.close();
} catch (err) {
  ok(!/no answer in/.test(String(err)), '15 the client cannot initialize a denied server', String(err));
}
ok(!existsSync(marker), '16 still no marker');

rmSync(dir, { recursive: true, force: true });
finish();
