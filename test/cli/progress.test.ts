/**
 * The progress line: fitted to the terminal (never past its last-but-one column, numbers never
 * cut), block characters only under a UTF-8 locale, nothing under TERM=dumb or on a pipe; and
 * drawn for real in a detached tmux session of 80 columns while a 512 MiB image is filtered, its
 * screen captured as it runs.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { progressLine, utf8Locale } from '../../src/cli/progress.js';

const BIN = path.resolve('bin/vmcore-filter.js');

describe('progressLine', () => {
  it('fits every width, dropping whole fields, never cutting a number', () => {
    for (const phase of ['Copying data', 'Excluding zero pages']) {
      for (let cols = 1; cols <= 200; cols++) {
        for (const [done, total] of [[0, 262144], [123456, 262144], [262144, 262144], [9_999_999_999, 17_179_869_184]]) {
          const l = progressLine(phase, done!, total!, 4321, cols, true);
          expect(l.length, `${cols}: ${l}`).toBeLessThanOrEqual(Math.max(0, cols - 1));
          // A count, if shown, is whole; the percentage, if shown, is whole.
          const m = /(\d+)\/(\d+) pages/.exec(l);
          if (m) expect([Number(m[1]), Number(m[2])]).toEqual([done, total]);
          if (l) expect(l).toMatch(/(^| )\d{1,3}\.\d%( |$)/);
        }
      }
    }
    expect(progressLine('Copying data', 123456, 262144, 5000, 80, false)).toBe('Copying data [########--------]  47.1% 123456/262144 pages eta 0:06 25k pages/s');
  });

  it('is ASCII outside a UTF-8 locale', () => {
    expect(utf8Locale({ LANG: 'en_US.UTF-8' })).toBe(true);
    expect(utf8Locale({ LC_ALL: 'C', LANG: 'en_US.UTF-8' })).toBe(false);
    expect(utf8Locale({ LC_CTYPE: 'C.utf8' })).toBe(true);
    expect(utf8Locale({})).toBe(false);
    expect(progressLine('Copying data', 5, 10, 1000, 80, false)).toMatch(/^[\x20-\x7e]+$/);
    expect(progressLine('Copying data', 5, 10, 1000, 80, true)).toMatch(/[\u2588\u2591]/);
  });
});

/** tmux, needed for the real-terminal test: skip locally without it, fail under CI=true. */
function haveTmux(): boolean {
  return spawnSync('tmux', ['-V']).status === 0;
}

describe('in a real terminal of 80 columns (tmux)', () => {
  let dir = '';
  const session = `vf-progress-${process.pid}`;
  beforeAll(() => {
    if (!haveTmux()) return;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-progress-'));
    const r = spawnSync(process.execPath, [BIN, 'sim', path.join(dir, 'img'), '--mem', '512M'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });
  afterAll(() => {
    spawnSync('tmux', ['kill-session', '-t', session]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Run the filter in a detached 80x24 tmux pane; capture the screen every 30 ms until it ends. */
  function screens(env: string, out: string): string[] {
    const done = path.join(dir, `${out}.done`);
    const cmd = `env ${env} ${process.execPath} ${BIN} -d 0 -c --num-threads 1 ${path.join(dir, 'img')} ${path.join(dir, out)} > /dev/null; touch ${done}; sleep 60`;
    spawnSync('tmux', ['kill-session', '-t', session]);
    const s = spawnSync('tmux', ['new-session', '-d', '-s', session, '-x', '80', '-y', '24', cmd], { encoding: 'utf8' });
    expect(s.status, s.stderr).toBe(0);
    expect(spawnSync('tmux', ['display', '-p', '-t', session, '#{pane_width}'], { encoding: 'utf8' }).stdout.trim()).toBe('80');
    const shots: string[] = [];
    const t0 = Date.now();
    while (!fs.existsSync(done) && Date.now() - t0 < 120_000) {
      shots.push(spawnSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' }).stdout);
      spawnSync('sleep', ['0.03']);
    }
    shots.push(spawnSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' }).stdout);
    spawnSync('tmux', ['kill-session', '-t', session]);
    return shots;
  }
  const progressRows = (shots: string[]) => shots.flatMap((s) => s.split('\n')).filter((l) => / pages/.test(l));

  it('fits in 80 columns with whole numbers, in block characters under UTF-8, and is cleared at the end', (ctx) => {
    if (!haveTmux()) {
      if (process.env.CI === 'true') throw new Error('tmux not found (scripts/install-peers.sh installs it)');
      return ctx.skip();
    }
    const shots = screens('LANG=C.UTF-8 LC_ALL= TERM=xterm-256color', 'utf8.dump');
    const rows = progressRows(shots);
    expect(rows.length, 'no progress line was captured').toBeGreaterThan(0);
    for (const l of rows) {
      expect([...l.trimEnd()].length, l).toBeLessThanOrEqual(79);
      expect(l).toMatch(/^Copying data \[[\u2588\u2591]{8,40}\] +\d{1,3}\.\d% \d+\/\d+ pages eta (\d+:\d\d|\?) [\dkM.]+ pages\/s *$/);
    }
    // Nothing is left on the screen: the line is cleared when the job ends.
    expect(progressRows([shots.at(-1)!])).toEqual([]);
  });

  it('is ASCII under LC_ALL=C and absent under TERM=dumb', (ctx) => {
    if (!haveTmux()) {
      if (process.env.CI === 'true') throw new Error('tmux not found (scripts/install-peers.sh installs it)');
      return ctx.skip();
    }
    const ascii = progressRows(screens('LC_ALL=C TERM=xterm-256color', 'c.dump'));
    expect(ascii.length).toBeGreaterThan(0);
    for (const l of ascii) expect(l).toMatch(/^Copying data \[[#-]{8,40}\] [\x20-\x7e]+$/);
    expect(progressRows(screens('LANG=C.UTF-8 TERM=dumb', 'dumb.dump'))).toEqual([]);
  });
});
