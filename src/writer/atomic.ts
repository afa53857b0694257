/**
 * Atomic output: data goes to a temporary file beside the final name and is renamed into
 * place only when complete. Temporary files still open are tracked so a signal handler can
 * remove them ({@link removeAllTemporaries}); a SIGKILL leaves only a dot-named temporary,
 * never a file under the final name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { VmcoreError } from '../errors.js';
import { FileSink, outputError } from '../formats/kdump/sink.js';

const live = new Set<string>();
let liveListener: ((count: number) => void) | undefined;

/**
 * Be told how many temporaries are being written whenever that changes (the CLI installs its
 * signal handlers only while one exists: a handler replaces the default action, and a process
 * busy in a long synchronous loop would then not die on SIGTERM until the loop ends).
 */
export function onTemporariesChange(fn: ((count: number) => void) | undefined): void {
  liveListener = fn;
}

function track(p: string, add: boolean): void {
  const had = live.size;
  if (add) live.add(p);
  else live.delete(p);
  if (live.size !== had) liveListener?.(live.size);
}

/** An output being written: a temp path, its fd, and commit/abort. */
export class AtomicOutput {
  readonly tempPath: string;
  readonly fd: number;
  private done = false;

  private constructor(readonly finalPath: string, tempPath: string, fd: number) {
    this.tempPath = tempPath;
    this.fd = fd;
  }

  /**
   * Check the output may be written (not the input, not existing unless `force`) and open a
   * temporary file in the same directory (so the rename is atomic).
   */
  static open(finalPath: string, opts: { force: boolean; inputPath?: string }): AtomicOutput {
    checkOutputPath(finalPath, opts);
    const dir = path.dirname(path.resolve(finalPath));
    const temp = path.join(dir, `.${path.basename(finalPath)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    let fd: number;
    try {
      fd = fs.openSync(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
    } catch (e) {
      // Name the output the user gave, not our dot-named temporary beside it.
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new VmcoreError('E_OUTPUT_IO', `cannot create ${finalPath}: directory ${path.dirname(finalPath)} does not exist`, { path: finalPath });
      }
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
        throw new VmcoreError('E_OUTPUT_IO', `cannot create ${finalPath}: ${code} on directory ${path.dirname(finalPath)}`, { path: finalPath });
      }
      throw outputError(e, finalPath);
    }
    track(temp, true);
    return new AtomicOutput(finalPath, temp, fd);
  }

  /** A sink over the temporary file whose messages name the final path (what the user asked for). */
  sink(): FileSink {
    // The temporary file was created empty (O_EXCL): holes in it read as zeros.
    return new FileSink(this.fd, this.finalPath, { fresh: true });
  }

  /** Write all of `bytes` to `finalPath` through a temporary file (a small output: an SVG, a log). */
  static writeFile(finalPath: string, bytes: Uint8Array, opts: { force: boolean; inputPath?: string }): void {
    const out = AtomicOutput.open(finalPath, opts);
    try {
      for (let off = 0; off < bytes.length; ) off += fs.writeSync(out.fd, bytes, off, bytes.length - off);
    } catch (e) {
      out.abort();
      throw outputError(e, finalPath);
    }
    out.commit();
  }

  /** fsync-free close and rename into place. */
  commit(): void {
    if (this.done) return;
    this.done = true;
    try {
      fs.closeSync(this.fd);
      fs.renameSync(this.tempPath, this.finalPath);
    } catch (e) {
      this.cleanup();
      throw outputError(e, this.finalPath);
    } finally {
      track(this.tempPath, false);
    }
  }

  /** Remove the temporary file; the final name is never touched. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    try {
      fs.closeSync(this.fd);
    } catch {
      /* closed */
    }
    this.cleanup();
  }

  private cleanup(): void {
    try {
      fs.unlinkSync(this.tempPath);
    } catch {
      /* gone */
    }
    track(this.tempPath, false);
  }
}

/** Refuse an output that exists (without force) or that is the input (same inode). */
export function checkOutputPath(finalPath: string, opts: { force: boolean; inputPath?: string }): void {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(finalPath);
  } catch {
    st = undefined;
  }
  if (opts.inputPath && st) {
    const ist = fs.statSync(opts.inputPath);
    if (ist.dev === st.dev && ist.ino === st.ino) {
      throw new VmcoreError('E_OUTPUT_IS_INPUT', `output ${finalPath} is the input file`, { path: finalPath });
    }
  }
  if (st && !opts.force) {
    throw new VmcoreError('E_OUTPUT_EXISTS', `output ${finalPath} exists (use -f to overwrite)`, { path: finalPath });
  }
  if (st && st.isDirectory()) {
    throw new VmcoreError('E_OUTPUT_IO', `output ${finalPath} is a directory`, { path: finalPath });
  }
}

/** Synchronously remove every temporary still being written (signal handlers). */
export function removeAllTemporaries(): void {
  for (const t of live) {
    try {
      fs.unlinkSync(t);
    } catch {
      /* gone */
    }
  }
  live.clear();
  liveListener?.(0);
}
