// quickstart-mcp.mjs — the MCP client of `make quickstart`: the official TypeScript SDK client
// talks to a real MCP server (server-everything) started through `warden run --state-dir`, calls
// the echo tool, then runs the publish command it is given (a bundle that denies echo) and calls
// echo every 100 ms until warden refuses it, printing how long after the publish that took.
// It must never wait without a bound: every step has a timeout, and it exits non-zero when the
// call is still allowed 10 s after the publish.
//
// usage: node quickstart-mcp.mjs NPM_DIR WARDEN STATE_DIR SERVER_ENTRY  (env QS_PUBLISH: JSON argv)
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [npmDir, warden, stateDir, entry] = process.argv.slice(2);
const publish = JSON.parse(process.env.QS_PUBLISH || '[]');
const req = createRequire(join(npmDir, 'package.json'));
const { Client } = req('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = req('@modelcontextprotocol/sdk/client/stdio.js');

function bounded(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => {
    t = setTimeout(() => rej(new Error(`${what}: no answer in ${ms} ms`)), ms);
  })]).finally(() => clearTimeout(t));
}

const transport = new StdioClientTransport({
  command: warden,
  args: ['run', '--state-dir', stateDir, '--name', 'everything', '--', process.execPath, entry, 'stdio'],
  env: { PATH: process.env.PATH, HOME: process.env.HOME || '/root' },
  stderr: 'pipe',
});
let stderr = '';
transport.stderr?.on('data', (d) => { stderr += d; });
const client = new Client({ name: 'warden-quickstart', version: '1.0.0' });
let status = 0;
try {
  await bounded(client.connect(transport), 60000, 'initialize');
  const info = client.getServerVersion();
  console.log(`  connected through warden run to ${info?.name} ${info?.version}`);
  const first = await bounded(client.callTool({ name: 'echo', arguments: { message: 'hello, fleet' } }),
    30000, 'tools/call');
  console.log(`  tools/call echo -> ${JSON.stringify(first.content?.[0]?.text)}`);

  console.log(`$ ${publish.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')}`);
  const p = spawnSync(publish[0], publish.slice(1), { encoding: 'utf8', timeout: 60000 });
  process.stdout.write(p.stdout || '');
  process.stderr.write(p.stderr || '');
  const t0 = Date.now();
  let refused = null;
  while (Date.now() - t0 < 10000) {
    try {
      await bounded(client.callTool({ name: 'echo', arguments: { message: 'again' } }), 5000, 'tools/call');
    } catch (err) {
      refused = err;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (refused) {
    console.log(`  tools/call echo refused ${Date.now() - t0} ms after the publish:`);
    console.log(`    JSON-RPC error ${refused.code}: ${refused.message}`);
  } else {
    console.log('  echo was still allowed 10 s after the publish');
    status = 1;
  }
} catch (err) {
  console.log(`  the MCP session failed: ${err.message}`);
  status = 1;
}
await client.close().catch(() => {});
if (status !== 0 && stderr) console.log(`  warden run said:\n${stderr.replace(/^/gm, '    ')}`);
process.exit(status);
