/** A progress bar with rate and ETA on a TTY; nothing at all on a pipe. */
import type cliProgressModule from 'cli-progress';

export type ProgressFn = (phase: string, done: number, total: number) => void;

/**
 * A progress callback drawing on `stream` if it is a TTY, and a function to stop it. The bar's
 * package is loaded only then: a run on a pipe (scripts, CI) does not pay for it at start-up.
 */
export async function progressBar(stream: NodeJS.WriteStream, enabled: boolean): Promise<{ onProgress?: ProgressFn; stop: () => void }> {
  if (!enabled || !stream.isTTY) return { stop: () => {} };
  const cliProgress: typeof cliProgressModule = (await import('cli-progress')).default;
  let bar: cliProgressModule.SingleBar | null = null;
  let phase = '';
  const onProgress: ProgressFn = (p, done, total) => {
    if (p !== phase) {
      bar?.stop();
      phase = p;
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${p.padEnd(22)} [{bar}] {percentage}% | {value}/{total} pages | {rate} pages/s | eta {eta_formatted}`,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { rate: 0 });
    }
    const elapsed = (Date.now() - (bar as unknown as { startTime: number }).startTime) / 1000;
    bar!.update(done, { rate: elapsed > 0 ? Math.round(done / elapsed) : 0 });
  };
  return { onProgress, stop: () => bar?.stop() };
}
