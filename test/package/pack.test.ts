/**
 * What `npm pack` ships: the launcher, the built library and bundle, the schemas, the man page,
 * the completion, README, LICENSE and CHANGELOG — no tests, fixtures, sources, benchmarks, CI
 * scripts, source maps or single-executable build files. Run after `npm run build` (the tarball's
 * dist/ is what the build left; `prepare` is skipped here so the test does not rebuild).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';

interface PackResult {
  entryCount: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

function pack(): PackResult {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as PackResult[])[0]!;
}

describe('npm pack', () => {
  const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));

  it('ships the program, the library and its documents, and nothing of the development tree', () => {
    const r = pack();
    const paths = r.files.map((f) => f.path);
    for (const must of [
      'package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'vmcore-filter.1', 'completion/vmcore-filter.bash',
      'bin/vmcore-filter.js', 'dist/bundle/main.js', 'dist/bundle/compress-worker.js', 'dist/index.js', 'dist/index.d.ts',
      'dist/compress/zstd-wasm.js', 'schema/report.schema.json', 'schema/info.schema.json', 'schema/stats.schema.json',
    ]) expect(paths, must).toContain(must);
    const forbidden = /^(test|fixtures|src|bench|scripts|\.ci|dist\/sea|dist\/cli)\/|\.map$|\.tsbuildinfo$|^dist\/vmcore-filter-/;
    expect(paths.filter((p) => forbidden.test(p))).toEqual([]);
    // The issue's tarball had 553 entries and 4.5 MB unpacked.
    expect(r.entryCount).toBeLessThan(300);
    expect(r.unpackedSize).toBeLessThan(2.5e6);
  });

  it('has an exports map (library entry, ./schema/*) and the metadata a registry page shows', () => {
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    expect(pkg.exports['./schema/*']).toBe('./schema/*');
    expect(Object.keys(pkg.exports).sort()).toEqual(['.', './package.json', './schema/*']);
    expect(pkg.license).toBe('GPL-2.0-or-later');
    expect(fs.readFileSync('LICENSE', 'utf8')).toMatch(/GNU GENERAL PUBLIC LICENSE\s+Version 2, June 1991/);
    expect(pkg.keywords).toEqual(expect.arrayContaining(['vmcore', 'kdump', 'makedumpfile']));
    expect(pkg.man).toEqual(['./vmcore-filter.1']);
    expect(fs.readFileSync('CHANGELOG.md', 'utf8')).toContain(`## [${pkg.version}]`);
  });

  it('needs no compiler: the native codec packages are optional, the fallbacks required', () => {
    expect(Object.keys(pkg.optionalDependencies).sort()).toEqual(['lzo', 'zstd-napi']);
    expect(pkg.dependencies.lzo).toBeUndefined();
    expect(pkg.dependencies['zstd-napi']).toBeUndefined();
    // src/compress/zstd-wasm.ts knows one build's export names: the version is pinned.
    expect(pkg.dependencies['@bokuweb/zstd-wasm']).toBe('0.0.27');
  });

  it('the version in --version and the man page is package.json\'s', () => {
    const v = spawnSync(process.execPath, ['bin/vmcore-filter.js', '--version'], { encoding: 'utf8' });
    expect(v.stdout.split('\n')[0]).toBe(pkg.version);
    expect(fs.readFileSync('vmcore-filter.1', 'utf8')).toContain(`"vmcore-filter ${pkg.version}"`);
  });

  it('the committed man page and completion are what scripts/man.mjs writes from the current help', () => {
    const r = spawnSync(process.execPath, ['scripts/man.mjs', '--check'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it('man ./vmcore-filter.1 renders, with every command and the exit status', (ctx) => {
    if (spawnSync('man', ['--version']).status !== 0) {
      if (process.env.CI === 'true') throw new Error('man not found (scripts/install-peers.sh installs man-db)');
      return ctx.skip();
    }
    const r = spawnSync('man', ['./vmcore-filter.1'], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    for (const h of ['NAME', 'SYNOPSIS', 'COMMANDS', 'EXIT STATUS', 'SEE ALSO']) expect(r.stdout).toMatch(new RegExp(`^${h}$`, 'm'));
    for (const c of ['filter', 'sim', 'demo', 'reassemble', 'info', 'stats', 'makedumpfile', 'dmesg', 'map']) expect(r.stdout).toMatch(new RegExp(`^   ${c}$`, 'm'));
    expect(r.stdout).toContain('vmcore-filter -d 31 -l /proc/vmcore /var/crash/dump');
    expect(r.stdout.split('\n').every((l) => l.length <= 80)).toBe(true);
  });

  it('the bash completion completes commands, options and option values', () => {
    const complete = (line: string) => {
      const words = line.split(' ');
      const script = `source completion/vmcore-filter.bash; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _vmcore_filter; printf '%s\n' "\${COMPREPLY[@]}"`;
      const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, PATH: `${process.cwd()}/bin:${process.env.PATH}` } });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim().split('\n').filter(Boolean);
    };
    expect(complete('vmcore-filter in')).toContain('info');
    expect(complete('vmcore-filter st')).toContain('stats');
    expect(complete('vmcore-filter info --j')).toEqual(['--json']);
    expect(complete('vmcore-filter --sp')).toEqual(['--split']);
    expect(complete('vmcore-filter sim img --printk ')).toEqual(['lockless', 'log_buf']);
    expect(complete('vmcore-filter map --col')).toEqual(['--columns']);
  });

  it('npm ls is clean (no invalid or missing package, no unmet peer)', () => {
    const r = spawnSync('npm', ['ls', '--all'], { encoding: 'utf8' });
    expect(r.status, r.stdout.split('\n').filter((l) => /invalid|missing|UNMET/.test(l)).join('\n') + r.stderr).toBe(0);
  });
});
