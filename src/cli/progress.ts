/**
 * Progress on a terminal: one line redrawn in place, fitted to the terminal's width (a field is
 * dropped whole rather than cut, and the line never reaches the last column, where a terminal
 * wraps), in block characters under a UTF-8 locale and in ASCII otherwise; nothing on a pipe or
 * under TERM=dumb (no cursor control). The makedumpfile drop-in draws makedumpfile's own lines
 * instead ({@link makedumpfileProgress}).
 */

import type cliProgressModule from 'cli-progress';

export type ProgressFn = (phase: string, done: number, total: number) => void;

/** Whether the locale's character set is UTF-8 (LC_ALL, then LC_CTYPE, then LANG, as setlocale reads them). */
export function utf8Locale(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.LC_ALL || env.LC_CTYPE || env.LANG || '';
  return /utf-?8/i.test(v);
}

function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return h ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

function rate(perSec: number): string {
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(1)}M`;
  if (perSec >= 1e4) return `${Math.round(perSec / 1e3)}k`;
  return String(Math.round(perSec));
}

/**
 * One progress line of at most `columns - 1` characters. Fields, most important first: the
 * percentage, pages done/total, ETA, rate, then the phase name and the bar (8 to 40 cells);
 * what does not fit is left out whole, never cut.
 */
export function progressLine(phase: string, done: number, total: number, elapsedMs: number, columns: number, unicode: boolean): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const pct = `${(100 * frac).toFixed(1).padStart(5)}%`;
  const perSec = elapsedMs > 0 ? (1000 * done) / elapsedMs : 0;
  const eta = perSec > 0 ? duration((total - done) / perSec) : '?';
  const fields = [pct, `${done}/${total} pages`, `eta ${eta}`, `${rate(perSec)} pages/s`];
  const width = Math.max(0, columns - 1);
  const [on, off] = unicode ? ['\u2588', '\u2591'] : ['#', '-'];
  for (let keep = fields.length; keep >= 1; keep--) {
    const tail = fields.slice(0, keep).join(' ');
    const room = width - phase.length - tail.length - 4; // phase + " [" + bar + "] "
    if (room >= 8) {
      const cells = Math.min(room, 40);
      const full = Math.round(cells * frac);
      return `${phase} [${on.repeat(full)}${off.repeat(cells - full)}] ${tail}`;
    }
    if (phase.length + 1 + tail.length <= width) return `${phase} ${tail}`;
    if (tail.length <= width) return tail;
  }
  return '';
}

/**
 * A progress callback drawing on `stream` if it is a terminal that understands cursor control,
 * and a function that clears the line. cli-progress does the terminal work (redraws at most every
 * 100 ms, hides the cursor, clears on completion); the line itself is {@link progressLine},
 * fitted to the width the terminal has at each redraw. The package is loaded only on a terminal:
 * a run on a pipe (scripts, CI) does not pay for it at start-up.
 */
export async function progressBar(stream: NodeJS.WriteStream, enabled: boolean, env: NodeJS.ProcessEnv = process.env): Promise<{ onProgress?: ProgressFn; stop: () => void }> {
  if (!enabled || !stream.isTTY || env.TERM === 'dumb') return { stop: () => {} };
  const cliProgress: typeof cliProgressModule = (await import('cli-progress')).default;
  const unicode = utf8Locale(env);
  let bar: cliProgressModule.SingleBar | null = null;
  let phase = '';
  let start = 0;
  const onProgress: ProgressFn = (p, done, total) => {
    if (p !== phase || !bar) {
      bar?.stop();
      phase = p;
      start = Date.now();
      bar = new cliProgress.SingleBar({
        stream,
        format: (_options, params) => progressLine(p, params.value, params.total, Date.now() - start, stream.columns || 80, unicode),
        hideCursor: true,
        clearOnComplete: true,
        fps: 10,
      });
      bar.start(total, 0);
    }
    bar.update(done);
  };
  return {
    onProgress,
    stop: () => {
      bar?.stop();
      bar = null;
    },
  };
}

/** makedumpfile's width for a progress message (PROGRESS_MAXLEN). */
const MSG_WIDTH = 50;
const SPINNER = ['/', '|', '\\', '-'];

/** makedumpfile's short ETA: "eta: 1m23s", "eta: 2h3m", "eta: 0s". */
function etaShort(s: number): string {
  const t = Math.max(0, Math.round(s));
  if (t >= 3600) return `eta: ${Math.floor(t / 3600)}h${Math.floor((t % 3600) / 60)}m`;
  if (t >= 60) return `eta: ${Math.floor(t / 60)}m${t % 60}s`;
  return `eta: ${t}s`;
}

/**
 * makedumpfile's progress lines, for the drop-in at message levels with bit 1 (the default 7):
 * `\rCopying data<pad to 50>: [ 42.0 %] |           eta: 12s`, on stderr whether or not it is
 * a terminal, at most once a second and at 100 %, as makedumpfile 1.7.2's print_progress does.
 * Our phases map to its names: classification is "Excluding unnecessary pages" (done before the
 * first page is written), writing is "Copying data". `finish` ends the last line.
 */
export function makedumpfileProgress(stream: NodeJS.WritableStream): { onProgress: ProgressFn; finish: () => void } {
  let label = '';
  let lapse = 0;
  let last = 0;
  let start = 0;
  let state: { done: number; total: number } = { done: 0, total: 0 };
  const draw = (name: string, done: number, total: number, eta: string) => {
    const pct = total > 0 ? (100 * Math.min(done, total)) / total : 100;
    stream.write(`\r${name.padEnd(MSG_WIDTH)}: [${pct.toFixed(1).padStart(5)} %] ${SPINNER[lapse++ % 4]}  ${eta.padStart(16)}`);
  };
  const onProgress: ProgressFn = (phase, done, total) => {
    const name = phase === 'Copying data' ? 'Copying data' : 'Excluding unnecessary pages';
    const now = Date.now();
    if (name !== label) {
      if (label) draw(label, 1, 1, '');
      else if (name === 'Copying data') draw('Excluding unnecessary pages', 1, 1, '');
      label = name;
      start = now;
      last = 0;
    }
    state = { done, total };
    if (done < total && now - last < 1000) return;
    last = now;
    const elapsed = (now - start) / 1000;
    const eta = name === 'Copying data' && done > 0 ? etaShort((elapsed * (total - done)) / done) : '';
    draw(name, done, total, eta);
  };
  return {
    onProgress,
    finish: () => {
      if (!label) return;
      if (state.done < state.total) draw(label, state.done, state.total, '');
      stream.write('\n');
      label = '';
    },
  };
}
