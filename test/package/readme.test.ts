/**
 * The README's library example, run as documentation: the ```js block of its "Library" section,
 * unchanged, as an ES module that imports `vmcore-filter` through the package's exports map (a
 * node_modules link to this tree), in a directory holding a simulated `vmcore`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, expect, it } from 'vitest';

const ROOT = path.resolve('.');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-readme-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The fenced blocks of `lang` in the README section headed `heading`. */
function blocks(heading: string, lang: string): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${heading}\n`);
  expect(start, `README section "${heading}"`).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 4);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

it('the Library example runs as written and prints what its comments say', () => {
  const [code] = blocks('Library', 'js');
  expect(code).toBeDefined();
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'vmcore-filter'));
  const sim = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'vmcore-filter.js'), 'sim', 'vmcore', '--mem', '64M'], { cwd: dir, encoding: 'utf8' });
  expect(sim.status, sim.stderr).toBe(0);
  fs.writeFileSync(path.join(dir, 'example.mjs'), code!);
  const r = spawnSync(process.execPath, ['example.mjs'], { cwd: dir, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^\d+ of \d+ pages excluded, \d+ bytes written$/);
  expect(lines.slice(1)).toEqual(['kdump zstd true', 'E_USAGE 2 dumpLevel']);
  expect(fs.existsSync(path.join(dir, 'dump2'))).toBe(false);
});
