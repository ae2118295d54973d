// mcp_filesystem.mjs — interop: the official TypeScript SDK client (@modelcontextprotocol/sdk)
// drives the real @modelcontextprotocol/server-filesystem through `warden run`, inside the
// sandbox built from a profile that grants read of ONE directory (plus the npm directory) and
// no network. The server is given TWO directories on its command line, so its own path checks
// allow both: a file in the granted one is read; a file in the other is refused by the kernel
// (Landlock: EACCES from open), and the same read works with --no-sandbox, which proves the
// refusal is the sandbox's. A tool the policy denies (write_file) is answered 403 by warden and
// never reaches the server. Must never touch anything outside its temporary directory and the
// build tree, nor any address but the npm registry (for the install).
// Packages are installed with exact versions into $WD_BUILDDIR/npm-scratch-fs. TAP output.
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { finish, needEnv, npmInstall, ok } from './lib.mjs';

const [WARDEN, BUILD] = needEnv('WARDEN', 'WD_BUILDDIR');

// ---- the packages (exact versions) ----
const { dir: scratch, req } = npmInstall(BUILD, 'npm-scratch-fs',
  { '@modelcontextprotocol/server-filesystem': '2026.8.31', '@modelcontextprotocol/sdk': '1.32.2' }, '01');
const { Client } = req('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = req('@modelcontextprotocol/sdk/client/stdio.js');
const entry = join(scratch, 'node_modules', '@modelcontextprotocol', 'server-filesystem', 'dist', 'index.js');
ok(existsSync(entry), '02 the server\'s entry point exists', entry);

// ---- two directories: the profile grants only the first ----
// (real paths: Landlock rules and the server's own checks both work on resolved paths)
const dir = realpathSync(mkdtempSync(join(tmpdir(), 'wd-fs-')));
const allowed = join(dir, 'allowed');
const outside = join(dir, 'outside');
mkdirSync(allowed);
mkdirSync(outside);
writeFileSync(join(allowed, 'note.txt'), 'inside the granted tree\n');
writeFileSync(join(outside, 'secret.txt'), 'outside the granted tree\n');
const policy = join(dir, 'policy.yaml');
writeFileSync(policy, `version: 1
servers:
  default: deny
  rules:
    - name: filesystem
      action: allow
      reason: "the reference filesystem server"
      match: {name: ["filesystem"]}
      limits: {profile: fs}
permission_profiles:
  fs:
    env: [HOME, PATH]
    network: none
    read: ["${allowed}/**", "${scratch}/**"]
mcp_tool_policy:
  default: allow
  rules:
    - name: no-writes
      action: deny
      reason: "this server is read-only here"
      tool: [write_file]
`);
const childEnv = { PATH: process.env.PATH, HOME: dir };
const WAIT = 60000;

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: no answer in ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
}

async function session(extra) {
  const args = ['run', '--policy', policy, '--name', 'filesystem', ...extra, '--', 'node', entry, allowed, outside];
  const transport = new StdioClientTransport({ command: WARDEN, args, env: childEnv, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr += d; });
  const client = new Client({ name: 'warden-fs-interop', version: '0.1.0' });
  await withTimeout(client.connect(transport), WAIT, 'initialize');
  return { client, stderr: () => stderr };
}

// the text of a tool call's answer, or the JSON-RPC error (the SDK throws McpError)
async function call(client, name, args) {
  try {
    const r = await withTimeout(client.callTool({ name, arguments: args }), WAIT, `tools/call ${name}`);
    return { isError: !!r.isError, text: (r.content ?? []).map((c) => c.text ?? '').join('') };
  } catch (err) {
    return { code: err.code, message: err.message, data: err.data };
  }
}

let readTool = 'read_text_file';
// ---- sandboxed ----
try {
  const s = await session([]);
  const names = (await withTimeout(s.client.listTools(), WAIT, 'tools/list')).tools.map((t) => t.name);
  if (!names.includes(readTool)) readTool = 'read_file';
  ok(names.includes(readTool), '03 the server offers a tool that reads a file', names.join(', '));
  ok(!names.includes('write_file'), '04 the denied write_file is not listed', names.join(', '));

  const dirs = await call(s.client, 'list_allowed_directories', {});
  ok(dirs.text.includes(allowed) && dirs.text.includes(outside),
    '05 the server itself allows both directories (its own checks would pass)', JSON.stringify(dirs));

  const inside = await call(s.client, readTool, { path: join(allowed, 'note.txt') });
  ok(!inside.isError && inside.text === 'inside the granted tree\n', '06 a file in the granted directory is read', JSON.stringify(inside));

  const out = await call(s.client, readTool, { path: join(outside, 'secret.txt') });
  ok(out.isError === true && /EACCES/.test(out.text) && /permission denied/i.test(out.text),
    '07 a file in the other directory: the kernel refuses the open (EACCES)', JSON.stringify(out));
  ok(!out.text.includes('outside the granted tree'), '08 and none of its content comes back', JSON.stringify(out));
  ok(!/access denied|outside allowed/i.test(out.text), '09 the refusal is not the server\'s own path check', JSON.stringify(out));

  const listing = await call(s.client, 'list_directory', { path: outside });
  ok(listing.isError === true && /EACCES/.test(listing.text), '10 listing the other directory is refused too (EACCES)', JSON.stringify(listing));

  const w = await call(s.client, 'write_file', { path: join(allowed, 'new.txt'), content: 'x' });
  ok(w.code === 403 && /tool call blocked by policy: this server is read-only here/.test(w.message) && w.data?.rule === 'no-writes',
    '11 write_file is answered 403 by warden', JSON.stringify(w));
  ok(!existsSync(join(allowed, 'new.txt')), '12 and nothing was written');

  const again = await call(s.client, readTool, { path: join(allowed, 'note.txt') });
  ok(again.text === 'inside the granted tree\n', '13 the session goes on after the refusals', JSON.stringify(again));
  await s.client.close();
} catch (err) {
  ok(false, '03 a sandboxed session works end to end', err.stack);
}

// ---- --no-sandbox: the same read works, so the refusal above was the sandbox's ----
try {
  const s = await session(['--no-sandbox']);
  const out = await call(s.client, readTool, { path: join(outside, 'secret.txt') });
  ok(!out.isError && out.text === 'outside the granted tree\n', '14 with --no-sandbox the same file is read', JSON.stringify(out), s.stderr());
  const w = await call(s.client, 'write_file', { path: join(allowed, 'new.txt'), content: 'x' });
  ok(w.code === 403 && w.data?.rule === 'no-writes', '15 the tool policy still answers 403 without the sandbox', JSON.stringify(w));
  ok(!existsSync(join(allowed, 'new.txt')), '16 and nothing was written');
  await s.client.close();
} catch (err) {
  ok(false, '14 a session with --no-sandbox works', err.stack);
}

rmSync(dir, { recursive: true, force: true });
finish();
