/**
 * `dmesg` and `map` run as a user runs them: golden text of the kernel log (stdout) and its
 * summary line (stderr), JSON validated against schema/dmesg.schema.json, the same log from a
 * kdump-compressed input, and one-line errors with documented exit codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Ajv } from 'ajv';
import { simulate } from '../../src/sim/index.js';
import { openDump } from '../../src/formats/probe.js';

const BIN = path.resolve('bin/vmcore-filter.js');
const GOLDEN = path.resolve('test/cli/golden');
let dir = '';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const norm = (s: string) => s.split(dir).join('<tmp>');

function expectOneLineError(r: { code: number | null; stderr: string }, code: number, pattern: RegExp) {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-cli-dmesg-'));
  const r = cli(['sim', path.join(dir, 'a.img'), '--mem', '64M', '--seed', '7']);
  expect(r.code, r.stderr).toBe(0);
  await simulate(path.join(dir, 'old.img'), { seed: 7, memBytes: 64 << 20, printk: 'log_buf', logBufShift: 13 });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('dmesg', () => {
  it('prints the log like makedumpfile --dump-dmesg, and a summary line on stderr', async () => {
    const r = cli(['dmesg', path.join(dir, 'a.img')]);
    expect(r.code, r.stderr).toBe(0);
    await expect(r.stdout).toMatchFileSnapshot(path.join(GOLDEN, 'dmesg.txt'));
    await expect(norm(r.stderr)).toMatchFileSnapshot(path.join(GOLDEN, 'dmesg-summary.txt'));
    expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^\[ *\d+\.\d{6}\]  <\/TASK>$/);
  });

  it('the old log_buf format', async () => {
    const r = cli(['dmesg', path.join(dir, 'old.img')]);
    expect(r.code, r.stderr).toBe(0);
    await expect(r.stdout + '--- stderr\n' + norm(r.stderr)).toMatchFileSnapshot(path.join(GOLDEN, 'dmesg-log_buf.txt'));
  });

  it('a kdump-compressed input gives the same log', () => {
    const dump = path.join(dir, 'a.dump');
    expect(cli(['-d', '31', '-l', path.join(dir, 'a.img'), dump]).code).toBe(0);
    expect(cli(['dmesg', dump]).stdout).toBe(cli(['dmesg', path.join(dir, 'a.img')]).stdout);
  });

  it('--json follows schema/dmesg.schema.json', async () => {
    const r = cli(['dmesg', '--json', path.join(dir, 'a.img')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout);
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(JSON.parse(fs.readFileSync('schema/dmesg.schema.json', 'utf8')));
    expect(validate(j), JSON.stringify(validate.errors)).toBe(true);
    const old = JSON.parse(cli(['dmesg', '--json', path.join(dir, 'old.img')]).stdout);
    expect(validate(old), JSON.stringify(validate.errors)).toBe(true);
    // golden: everything but the middle of the record list
    const short = { ...j, input: { ...j.input, path: norm(j.input.path) }, records: [...j.records.slice(0, 3), '…', ...j.records.slice(-3)] };
    await expect(JSON.stringify(short, null, 2) + '\n').toMatchFileSnapshot(path.join(GOLDEN, 'dmesg.json'));
  });

  it('errors: missing file → 3, not a dump → 4, bad prb pointer → 4 naming the address, no printk keys → 5', () => {
    expectOneLineError(cli(['dmesg', path.join(dir, 'nope.img')]), 3, /cannot open .*nope\.img/);
    fs.writeFileSync(path.join(dir, 'text.img'), 'hello\n'.repeat(1000));
    expectOneLineError(cli(['dmesg', path.join(dir, 'text.img')]), 4, /not an ELF vmcore or kdump-compressed dump/);
    const r = openDump(path.join(dir, 'a.img'));
    const vmcoreinfo = r.vmcoreinfoText!;
    r.close();
    const bad = path.join(dir, 'bad-prb.vmcoreinfo');
    fs.writeFileSync(bad, vmcoreinfo.replace(/^SYMBOL\(prb\)=.*$/m, 'SYMBOL(prb)=ffffffffff7ff000'));
    expectOneLineError(cli(['dmesg', '--vmcoreinfo', bad, path.join(dir, 'a.img')]), 4, /^vmcore-filter: error: dmesg: reading prb \(SYMBOL\(prb\)\) at 0xffffffffff7ff000: /);
    const none = path.join(dir, 'no-printk.vmcoreinfo');
    fs.writeFileSync(none, vmcoreinfo.split('\n').filter((l) => !/prb|printk|clear_seq|latched_seq|atomic_long_t|dev_printk/.test(l)).join('\n'));
    expectOneLineError(cli(['dmesg', '--vmcoreinfo', none, path.join(dir, 'a.img')]), 5, /neither SYMBOL\(prb\) .* nor SYMBOL\(log_buf\)/);
  });
});

describe('map', () => {
  it('writes an SVG and says how it binned', () => {
    const out = path.join(dir, 'a.svg');
    const r = cli(['map', path.join(dir, 'a.img'), '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(norm(r.stdout)).toBe('wrote <tmp>/a.svg: 256×64 cells of 1 page\n');
    expect(fs.readFileSync(out, 'utf8')).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+"/);
  });
});
