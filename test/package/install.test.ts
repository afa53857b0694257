/**
 * Install from the `npm pack` tarball on a machine without a C/C++ compiler (CC and CXX are
 * /bin/false, and the consumer allows the native packages' build scripts so that their builds are
 * tried and fail), then run every codec through the installed CLI: zlib (node:zlib), lzo (the
 * TypeScript compressor), snappy (prebuilt N-API package), zstd (libzstd in WebAssembly). The zstd
 * dump must be byte-identical to the one the development tree writes with zstd-napi, and each
 * codec's dump must decode to the same pages (refiltered uncompressed, all four are equal).
 *
 * Needs the npm registry (the dependencies are installed from it): without it the test skips
 * locally and fails under CI=true. About 15 s.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve('.');
const DEV_BIN = path.join(ROOT, 'bin', 'vmcore-filter.js');
let dir = '';
let installed: { ok: true; ms: number } | { ok: false; why: string } = { ok: false, why: 'not run' };

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd ?? dir, env: { ...process.env, NO_COLOR: '1', ...opts.env }, maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-install-'));
  const t0 = Date.now();
  const pack = sh('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT });
  if (pack.code !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
  const tarball = path.join(dir, pack.stdout.trim().split('\n').pop()!);
  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, allowScripts: { lzo: true, 'zstd-napi': true } }));
  // No compiler; headers still there (npm's nodedir), so the builds fail at compiling, as they would.
  const env = { CC: '/bin/false', CXX: '/bin/false', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_foreground_scripts: 'true' };
  const r = sh('npm', ['install', tarball], { cwd: app, env });
  installed = r.code === 0 ? { ok: true, ms: Date.now() - t0 } : { ok: false, why: `npm install failed (${r.code}): ${(r.stderr || r.stdout).split('\n').slice(-15).join('\n')}` };
  // Registry unreachable is a skip locally, a failure in CI; an install that fails for any
  // other reason fails everywhere.
  if (!installed.ok && !/ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network/i.test(installed.why)) throw new Error(installed.why);
  if (installed.ok) fs.writeFileSync(path.join(dir, 'install.log'), r.stdout + r.stderr);
}, 300_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('npm install of the tarball without a compiler', () => {
  it('succeeds, the native builds having failed, and every codec works through the installed CLI', (ctx) => {
    if (!installed.ok) {
      if (process.env.CI === 'true') throw new Error(installed.why);
      return ctx.skip();
    }
    const app = path.join(dir, 'app');
    const log = fs.readFileSync(path.join(dir, 'install.log'), 'utf8');
    // The builds were tried (so the test means what it says) and are gone.
    expect(log).toMatch(/zstd-napi|node-gyp|gyp/);
    expect(fs.existsSync(path.join(app, 'node_modules', 'lzo', 'build', 'Release', 'node_lzo.node'))).toBe(false);
    expect(fs.existsSync(path.join(app, 'node_modules', 'zstd-napi', 'build', 'Release', 'binding.node'))).toBe(false);
    const bin = path.join(app, 'node_modules', '.bin', 'vmcore-filter');
    const v = sh(bin, ['--version']);
    expect(v.code, v.stderr).toBe(0);
    // The slower fallbacks are said once, here (and in info), not on every run.
    expect(v.stdout).toMatch(/^\d+\.\d+\.\d+\nlzo \(-l\): npm lzo is not installed; .*\nzstd \(-z\): npm zstd-napi is not installed; .*\n$/);
    expect(sh(bin, ['sim', 'img', '--mem', '64M']).code).toBe(0);
    const refiltered: Record<string, Buffer> = {};
    for (const [opt, codec] of [['-c', 'zlib'], ['-l', 'lzo'], ['-p', 'snappy'], ['-z', 'zstd']] as const) {
      const r = sh(bin, ['-d', '31', opt, 'img', `out.${codec}`]);
      expect(r.code, `${codec}: ${r.stderr}`).toBe(0);
      expect(r.stderr, codec).toBe(''); // no fallback notice on a run
      const info = sh(bin, ['info', `out.${codec}`]);
      expect(info.code, info.stderr).toBe(0);
      expect(info.stdout).toContain(`kdump (codec ${codec})`);
      if (codec === 'zstd') expect(info.stdout).toMatch(/codec impl +npm @bokuweb\/zstd-wasm .*WebAssembly/);
      if (codec === 'lzo') expect(info.stdout).toMatch(/codec impl +built-in \(TypeScript LZO1X\); npm lzo not loaded/);
      // Decode every stored page: refilter to an uncompressed dump with the installed CLI.
      expect(sh(bin, ['-d', '31', `out.${codec}`, `raw.${codec}`]).code).toBe(0);
      refiltered[codec] = fs.readFileSync(path.join(dir, `raw.${codec}`));
    }
    for (const codec of ['lzo', 'snappy', 'zstd']) expect(refiltered[codec]!.equals(refiltered.zlib!), codec).toBe(true);
    // The WebAssembly zstd writes zstd-napi's frames: the dump is the development tree's, byte for byte.
    expect(sh(process.execPath, [DEV_BIN, '-d', '31', '-z', 'img', 'dev.zstd']).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'out.zstd')).equals(fs.readFileSync(path.join(dir, 'dev.zstd')))).toBe(true);
    // The library entry and the schemas resolve through the exports map; internals do not.
    const lib = sh(process.execPath, ['--input-type=module', '-e', `
      const m = await import('vmcore-filter');
      const r = await m.filterDump('${path.join(dir, 'img')}', '${path.join(dir, 'lib.dump')}');
      console.log(r.dumpLevel, r.output.format, typeof import.meta.resolve('vmcore-filter/schema/report.schema.json'));
      try { await import('vmcore-filter/dist/cli/main.js'); } catch (e) { console.log(e.code); }`], { cwd: app });
    expect(lib.stdout + lib.stderr).toBe('16 kdump string\nERR_PACKAGE_PATH_NOT_EXPORTED\n');
    console.log(`pack + install without a compiler: ${installed.ms} ms`);
  });

  it('npm ci --omit=dev in a clone succeeds without building (no TypeScript), and the launcher says how to build', (ctx) => {
    if (!installed.ok) {
      if (process.env.CI === 'true') throw new Error(installed.why);
      return ctx.skip();
    }
    // What npm ci reads from a clone: the manifest, the lock, the prepare script, the launcher (and
    // bin/package.json, which makes the launcher CommonJS).
    const clone = path.join(dir, 'clone');
    for (const f of ['package.json', 'package-lock.json', 'scripts/prepare.mjs', 'bin/vmcore-filter.js', 'bin/package.json']) {
      fs.mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, f), path.join(clone, f));
    }
    const r = sh('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: clone, env: { CC: '/bin/false', CXX: '/bin/false' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('vmcore-filter: devDependencies not installed: not building dist/');
    expect(r.stderr).not.toMatch(/ERESOLVE|peer dep/i);
    const v = sh(process.execPath, ['bin/vmcore-filter.js', '--version'], { cwd: clone });
    expect(v.code).toBe(1);
    expect(v.stderr).toBe('vmcore-filter: error: dist/ is not built (in a clone: npm install, then npm run build)\n');
  });
});
