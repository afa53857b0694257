/**
 * The one line every failure prints on stderr, and its exit code. Its own module so that the
 * commands (the makedumpfile drop-in among them) and main() share it without importing each other.
 */
import { CommanderError } from 'commander';
import { VmcoreError, EXIT } from '../errors.js';

/** Write one error line; never a stack trace unless VMCORE_FILTER_DEBUG is set. */
export function reportError(e: unknown): number {
  if (e instanceof VmcoreError) {
    process.stderr.write(`vmcore-filter: error: ${oneLine(e.message)}\n`);
    return e.exitCode;
  }
  if (e instanceof CommanderError) {
    // commander has already written its message (through {@link commanderMessage}).
    return e.exitCode === 0 ? 0 : EXIT.USAGE;
  }
  const err = e as Error;
  process.stderr.write(`vmcore-filter: internal error: ${oneLine(err?.message ?? String(e))}\n`);
  if (process.env.VMCORE_FILTER_DEBUG) process.stderr.write(`${err?.stack}\n`);
  return EXIT.INTERNAL;
}

/** A message as one line: a cause's later lines (a dlopen or a system message) joined with "; ". */
export function oneLine(s: string): string {
  return s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('; ');
}

/**
 * commander's error text as our one line: `error: unknown command 'x'\n(Did you mean y?)\n`
 * becomes `vmcore-filter: error: unknown command 'x' (did you mean y?)`. Help and version text
 * (not starting with "error:") pass unchanged.
 */
export function commanderMessage(s: string): string {
  if (!s.startsWith('error:')) return s;
  const joined = s.trimEnd().replace(/\n\(Did you mean (.*)\?\)$/, ' (did you mean $1?)');
  return `vmcore-filter: ${oneLine(joined)}\n`;
}

/** Levenshtein distance, for "did you mean" on a mistyped command word. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The closest of `names` to `word` (within 40% of its length, at least 1 edit), or null. */
export function closest(word: string, names: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const n of names) {
    const d = distance(word, n);
    if (d < bestD) (best = n), (bestD = d);
  }
  return best !== null && bestD <= Math.max(1, Math.floor(0.4 * Math.max(word.length, best.length))) ? best : null;
}
