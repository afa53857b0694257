/**
 * Output sinks for the dump writers: positional writes to a file, or (see
 * ../flattened/sink.ts) makedumpfile's flattened stream to a Writable. Plus {@link SequentialWriter},
 * a large write buffer over one region of a sink.
 */
import * as fs from 'node:fs';
import { VmcoreError, hex } from '../../errors.js';

/** Where a writer puts its bytes. Writes are positional; the sink decides how they land. */
export interface DumpSink {
  /** Name used in messages (a path, or "<stdout>"). */
  readonly path: string;
  /** True for a flattened stream (no rewrites of earlier bytes take effect in place). */
  readonly flattened: boolean;
  /** Every byte emitted so far, including any framing (makedumpfile's "Write bytes"). */
  readonly bytesWritten: number;
  /**
   * Write `data` at `pos`. The sink may keep no reference to `data` after the promise resolves.
   * Errors: ENOSPC → E_NO_SPACE, anything else → E_OUTPUT_IO, both carrying the path.
   */
  write(pos: number, data: Uint8Array): Promise<void>;
  /**
   * The same write, done before returning (a file: one pwrite loop). Present only where it is
   * cheaper than {@link write}: for a file in the page cache a synchronous write costs less
   * than a thread-pool round trip, and the writers' buffers stay hot in the cache.
   */
  writeSync?(pos: number, data: Uint8Array): void;
  /**
   * Leave [pos, pos + len) unwritten: it reads as zeros. Present only on a sink over a file
   * created empty for this output (a hole in a sparse file; {@link finish} extends the file
   * over a hole at its end). Counted in {@link bytesWritten} as if written: the file holds
   * those bytes, as zeros.
   */
  hole?(pos: number, len: number): void;
  /** Finish the output (flattened: the end record). Does not close a caller-owned descriptor. */
  finish(): Promise<void>;
}

/**
 * A turn of the event loop. Writers with a synchronous sink call it every few tens of ms: their
 * loops never wait on I/O, and a signal handler (temporary file clean-up) must still run.
 */
export const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Map a Node write error to a VmcoreError with the path and offset. */
export function outputError(e: unknown, path: string, pos?: number): VmcoreError {
  if (e instanceof VmcoreError) return e;
  const err = e as NodeJS.ErrnoException;
  const where = pos === undefined ? '' : ` at offset ${hex(pos)}`;
  // EFBIG: a file-size limit (ulimit -f) is a full disk for this file.
  if (err.code === 'ENOSPC' || err.code === 'EDQUOT' || err.code === 'EFBIG') {
    const why = err.code === 'EFBIG' ? 'file size limit reached (EFBIG)' : 'no space left on device';
    return new VmcoreError('E_NO_SPACE', `writing ${path}${where}: ${why}`, { path, offset: pos });
  }
  return new VmcoreError('E_OUTPUT_IO', `writing ${path}${where}: ${err.code ?? err.message}`, { path, offset: pos });
}

/** Positional writes to an open file descriptor. */
export class FileSink implements DumpSink {
  readonly flattened = false;
  bytesWritten = 0;
  private readonly ownsFd: boolean;
  /** End of the furthest write, and of the furthest hole (the file must reach it). */
  private writtenEnd = 0;
  private holeEnd = 0;
  readonly hole?: (pos: number, len: number) => void;
  /** `fresh`: the file was created (or truncated) empty for this output, so holes read as zeros. */
  constructor(
    readonly fd: number,
    readonly path: string,
    opts: { closeOnFinish?: boolean; fresh?: boolean } = {},
  ) {
    this.ownsFd = opts.closeOnFinish ?? false;
    if (opts.fresh) {
      this.hole = (pos, len) => {
        this.holeEnd = Math.max(this.holeEnd, pos + len);
        this.bytesWritten += len;
      };
    }
  }

  /** Open (create or truncate) `path` for writing; the sink closes it on finish. */
  static open(path: string, opts: { exclusive?: boolean } = {}): FileSink {
    let fd: number;
    try {
      fd = fs.openSync(path, opts.exclusive ? 'wx' : 'w', 0o644);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EEXIST') {
        throw new VmcoreError('E_OUTPUT_EXISTS', `${path} exists`, { path });
      }
      throw outputError(e, path);
    }
    return new FileSink(fd, path, { closeOnFinish: true, fresh: true });
  }

  write(pos: number, data: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      let done = 0;
      const step = (): void => {
        fs.write(this.fd, data, done, data.length - done, pos + done, (err, n) => {
          if (err) return reject(outputError(err, this.path, pos + done));
          if (n === 0) return reject(outputError(Object.assign(new Error('short write'), { code: 'EIO' }), this.path, pos + done));
          done += n;
          this.bytesWritten += n;
          if (done < data.length) step();
          else {
            this.writtenEnd = Math.max(this.writtenEnd, pos + done);
            resolve();
          }
        });
      };
      if (data.length === 0) resolve();
      else step();
    });
  }

  writeSync(pos: number, data: Uint8Array): void {
    for (let done = 0; done < data.length; ) {
      let n: number;
      try {
        n = fs.writeSync(this.fd, data, done, data.length - done, pos + done);
      } catch (e) {
        throw outputError(e, this.path, pos + done);
      }
      if (n === 0) throw outputError(Object.assign(new Error('short write'), { code: 'EIO' }), this.path, pos + done);
      done += n;
      this.bytesWritten += n;
    }
    this.writtenEnd = Math.max(this.writtenEnd, pos + data.length);
  }

  async finish(): Promise<void> {
    // A hole at the end of the file: its size must still cover it.
    if (this.holeEnd > this.writtenEnd) {
      try {
        fs.ftruncateSync(this.fd, this.holeEnd);
      } catch (e) {
        throw outputError(e, this.path, this.holeEnd);
      }
      this.writtenEnd = this.holeEnd;
    }
    if (!this.ownsFd) return;
    await new Promise<void>((resolve, reject) =>
      fs.close(this.fd, (err) => (err ? reject(outputError(err, this.path)) : resolve())),
    );
  }
}

/**
 * A sink that passes everything to `inner` and remembers how far the writes reach, for the
 * writers' full-disk path: `highWater`, the end of the furthest complete write (the file's
 * size so far); `onDisk`, the same counting a write a full disk cut short up to where it stopped.
 */
export class TrackedSink implements DumpSink {
  highWater = 0;
  onDisk = 0;
  readonly writeSync?: (pos: number, data: Uint8Array) => void;
  readonly hole?: (pos: number, len: number) => void;
  constructor(private readonly inner: DumpSink) {
    if (inner.hole) {
      this.hole = (pos, len) => {
        inner.hole!(pos, len);
        this.reached(pos + len);
      };
    }
    if (inner.writeSync) {
      this.writeSync = (pos, data) => {
        try {
          inner.writeSync!(pos, data);
        } catch (e) {
          this.cutShort(e, pos, data.length);
          throw e;
        }
        this.reached(pos + data.length);
      };
    }
  }
  get path(): string {
    return this.inner.path;
  }
  get flattened(): boolean {
    return this.inner.flattened;
  }
  get bytesWritten(): number {
    return this.inner.bytesWritten;
  }
  async write(pos: number, data: Uint8Array): Promise<void> {
    try {
      await this.inner.write(pos, data);
    } catch (e) {
      this.cutShort(e, pos, data.length);
      throw e;
    }
    this.reached(pos + data.length);
  }
  finish(): Promise<void> {
    return this.inner.finish();
  }
  /** A write a full disk (or -L) stopped part way: its bytes up to the error's offset are on disk. */
  private cutShort(e: unknown, pos: number, len: number): void {
    const at = e instanceof VmcoreError ? e.data.offset : undefined;
    if (typeof at === 'number' && at > pos) this.onDisk = Math.max(this.onDisk, Math.min(at, pos + len));
  }
  private reached(end: number): void {
    this.highWater = Math.max(this.highWater, end);
    this.onDisk = Math.max(this.onDisk, end);
  }
}

/**
 * A write buffer over one sequential region of a sink: `append` copies into the buffer, `flush`
 * hands the buffered run to the sink as one positional write. The hot loop stays synchronous;
 * it awaits only when the buffer is full.
 */
export class SequentialWriter {
  private readonly buf: Uint8Array;
  private used = 0;
  /** File offset of the first buffered byte. */
  private base: number;
  constructor(
    private readonly sink: DumpSink,
    start: number,
    capacity: number,
  ) {
    this.buf = new Uint8Array(capacity);
    this.base = start;
  }
  /** File offset the next appended byte will have. */
  get pos(): number {
    return this.base + this.used;
  }
  /** Bytes that still fit without a flush. */
  get space(): number {
    return this.buf.length - this.used;
  }
  get pending(): number {
    return this.used;
  }
  /** Append `data` (must fit in `space`). */
  append(data: Uint8Array): void {
    this.buf.set(data, this.used);
    this.used += data.length;
  }
  /** Reserve `n` bytes (must fit) and return a view of them to fill in place. */
  reserve(n: number): Uint8Array {
    const v = this.buf.subarray(this.used, this.used + n);
    this.used += n;
    return v;
  }
  async flush(): Promise<void> {
    if (this.used === 0) return;
    const n = this.used;
    if (this.sink.writeSync) this.sink.writeSync(this.base, this.buf.subarray(0, n));
    else await this.sink.write(this.base, this.buf.subarray(0, n));
    this.base += n;
    this.used = 0;
  }
  /**
   * Append `data` of any size. With a synchronous sink a large piece is written straight from
   * the caller's buffer after what is buffered (no copy through ours); otherwise it is copied
   * in, flushing as the buffer fills.
   */
  async appendLarge(data: Uint8Array): Promise<void> {
    if (this.sink.writeSync && data.length >= this.buf.length >>> 2) {
      await this.flush();
      this.sink.writeSync(this.base, data);
      this.base += data.length;
      return;
    }
    for (let done = 0; done < data.length; ) {
      if (this.space === 0) await this.flush();
      const n = Math.min(this.space, data.length - done);
      this.append(data.subarray(done, done + n));
      done += n;
    }
  }
}

/**
 * The writers' full-disk path, shared by kdump and ELF output: mark the dump incomplete by
 * rewriting its header block (which already exists, so it needs no new space; not possible in
 * a flattened stream), attach the statistics to the error, and finish the sink. The caller rethrows.
 */
export async function markIncomplete(
  e: VmcoreError,
  sink: DumpSink,
  stats: { incomplete: boolean; bytesWritten: number; fileSize: number },
  fileSize: number,
  header: Uint8Array,
): Promise<void> {
  stats.incomplete = true;
  if (!sink.flattened) {
    try {
      await sink.write(0, header);
    } catch {
      /* best effort */
    }
  }
  stats.bytesWritten = sink.bytesWritten;
  stats.fileSize = fileSize;
  e.data.incomplete = true;
  e.data.stats = stats;
  try {
    await sink.finish();
  } catch {
    /* keep the first error */
  }
}
