// lib.mjs — what the interop tests share: TAP output (numbered points with their diagnostics,
// skips, comments, the plan and summary at the end, the exit status) and the pinned npm install
// of a test's packages into the build tree. Each test is its own process, so the counters here
// are that test's. It must never install a package without an exact version, never contact
// anything but the npm registry (and only to install), and never print anything but TAP.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

let n = 0;
let failed = 0;

// Lines of text as TAP comments ("# ..."), one per line of each argument.
export function diag(...texts) {
  for (const t of texts) for (const l of String(t ?? '').split('\n')) console.log(`# ${l}`);
}

// One numbered point: "ok N - name", or "not ok N - name" followed by the diagnostics (any
// number of values, each printed as comment lines). Returns cond.
export function ok(cond, name, ...diagnostics) {
  n += 1;
  if (cond) {
    console.log(`ok ${n} - ${name}`);
  } else {
    failed += 1;
    console.log(`not ok ${n} - ${name}`);
    diag(...diagnostics);
  }
  return cond;
}

// A numbered point that was not run: "ok N - name # SKIP why" (counts as passed in TAP).
export function skip(name, why) {
  n += 1;
  console.log(`ok ${n} - ${name} # SKIP ${why}`);
}

// How many points so far, and how many failed.
export function counts() {
  return { points: n, failed };
}

// The summary: the plan "1..N" for the points printed (the plan comes last, as TAP allows) and a
// comment with the failures. Sets process.exitCode (1 when a point failed) and returns it; the
// process ends when its handles do (the caller's exit handlers still run).
export function plan() {
  console.log(`1..${n}`);
  if (failed) console.log(`# ${failed} of ${n} failed`);
  process.exitCode = failed ? 1 : 0;
  return process.exitCode;
}

// The summary, then exit at once with its status.
export function finish() {
  process.exit(plan());
}

// A failed point (why, with its diagnostics), then finish: for a step the rest cannot do without.
export function bail(why, ...diagnostics) {
  ok(false, why, ...diagnostics);
  finish();
}

// The environment variables a test needs, by name: their values, or "Bail out!" and exit 1 when
// one is not set.
export function needEnv(...names) {
  const missing = names.filter((k) => !process.env[k]);
  if (missing.length) {
    console.log(`Bail out! ${names.join(' and ')} must be set`);
    process.exit(1);
  }
  return names.map((k) => process.env[k]);
}

const EXACT = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;

// Install packages (an object { name: exact version }) with npm into BUILD/dirName, unless every
// one is there already at its version; one point says which (named with the prefix point, e.g.
// "01"). extraEnv is added to npm's environment. On success returns { dir, req }: the directory
// and a require() resolving from it. When the packages are not there afterwards, the point
// failed and the test finishes (exit 1). A version that is not exact is a programming error
// (thrown before anything is installed).
export function npmInstall(build, dirName, pkgs, point, extraEnv = {}) {
  for (const [p, v] of Object.entries(pkgs)) {
    if (!EXACT.test(v)) throw new Error(`npmInstall: ${p}@${v} is not an exact version`);
  }
  const dir = join(build, dirName);
  const specs = Object.entries(pkgs).map(([p, v]) => `${p}@${v}`);
  const have = () => Object.entries(pkgs).every(([p, v]) => {
    const f = join(dir, 'node_modules', p, 'package.json');
    return existsSync(f) && JSON.parse(readFileSync(f, 'utf8')).version === v;
  });
  if (!have()) {
    mkdirSync(dir, { recursive: true });
    if (!existsSync(join(dir, 'package.json'))) {
      writeFileSync(join(dir, 'package.json'), `{"name":"wd-${dirName}","private":true}\n`);
    }
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error',
      '--save-exact', ...specs], {
      cwd: dir, encoding: 'utf8', timeout: 300000, env: { ...process.env, ...extraEnv },
    });
    ok(r.status === 0 && have(), `${point} npm installs ${specs.join(', ')}`, r.stderr, r.stdout);
  } else {
    ok(true, `${point} ${specs.join(', ')}: installed already`);
  }
  if (!have()) finish();
  return { dir, req: createRequire(join(dir, 'package.json')) };
}
