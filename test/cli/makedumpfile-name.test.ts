/**
 * The `makedumpfile` name on the node launcher: bin/vmcore-filter.js through a symlink called
 * makedumpfile (Node gives the script path as invoked, the link not followed, in argv[1]) is
 * `vmcore-filter makedumpfile …`. The single executable's name is tested in test/dist.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const BIN = path.resolve('bin/vmcore-filter.js');
let dir = '';
const p = (f: string) => path.join(dir, f);

function run(args: string[], viaPath = false) {
  const r = viaPath
    ? spawnSync('makedumpfile', args, { cwd: dir, env: { ...process.env, PATH: `${p('bin')}:${path.dirname(process.execPath)}:/usr/bin:/bin` }, encoding: 'utf8' })
    : spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-mdf-name-'));
  fs.mkdirSync(p('bin'));
  fs.symlinkSync(BIN, p('bin/makedumpfile'));
  const r = run([BIN, 'sim', 'img', '--mem', '64M', '--seed', '3']);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('node bin/makedumpfile (a symlink to the launcher) -v says what it is', () => {
  const r = run([p('bin/makedumpfile'), '-v']);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toBe('makedumpfile: vmcore-filter 0.1.0, makedumpfile 1.7.2-compatible command line\n');
});

it('makedumpfile found on PATH writes what vmcore-filter makedumpfile writes; errors close with "makedumpfile Failed."', () => {
  const a = run(['-l', '-d', '31', 'img', 'a.dump'], true);
  expect(a.code, a.stderr).toBe(0);
  expect(a.stdout).toBe('\nThe dumpfile is saved to a.dump.\n\nmakedumpfile Completed.\n');
  const b = run([BIN, 'makedumpfile', '-l', '-d', '31', 'img', 'b.dump']);
  expect(b.code, b.stderr).toBe(0);
  expect(fs.readFileSync(p('a.dump')).equals(fs.readFileSync(p('b.dump')))).toBe(true);
  const again = run(['-l', '-d', '31', 'img', 'a.dump'], true);
  expect(again.code).toBe(6);
  expect(again.stdout).toBe('\nmakedumpfile Failed.\n');
  // Any other name is vmcore-filter itself.
  fs.symlinkSync(BIN, p('bin/vf'));
  const v = run([p('bin/vf'), '-v']);
  expect(v.stdout).toBe('0.1.0\n');
});
