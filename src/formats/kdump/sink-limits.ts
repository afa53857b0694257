/**
 * Sinks for makedumpfile's `--dry-run` and `-L SIZE`: one that writes nothing and counts what it
 * was given, and one that stops a file at a size limit the way a full disk would.
 */
import { Writable } from 'node:stream';
import { VmcoreError, hex } from '../../errors.js';
import type { DumpSink } from './sink.js';

/**
 * `--dry-run`: accepts every write and keeps nothing, counting the bytes (makedumpfile's "Write
 * bytes" is the same as for the real run: its write_and_check_space counts and skips the write).
 */
export class DiscardSink implements DumpSink {
  readonly flattened = false;
  bytesWritten = 0;
  constructor(readonly path: string) {}
  write(_pos: number, data: Uint8Array): Promise<void> {
    this.bytesWritten += data.length;
    return Promise.resolve();
  }
  writeSync(_pos: number, data: Uint8Array): void {
    this.bytesWritten += data.length;
  }
  finish(): Promise<void> {
    return Promise.resolve();
  }
}

/** A Writable that drops everything (a flattened stream under `--dry-run`). */
export function discardStream(): Writable {
  return new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });
}

/**
 * `-L SIZE`: no byte at or past `limit`. A write that would cross it writes what fits below the
 * limit, then fails with E_NO_SPACE, as makedumpfile's write_and_check_space does (it writes
 * `limit - pos` bytes and sets flag_nospace), so the writers take their full-disk path: retry at
 * the next `-d` level, or mark the dump incomplete. Where a write lands is its file offset;
 * `measure: 'stream'` uses the bytes written so far instead, as makedumpfile does for a dry run
 * (it has no file position then).
 */
export class SizeLimitSink implements DumpSink {
  /**
   * @param name what to call the output in the error (the final name, not a temporary)
   */
  constructor(
    private readonly inner: DumpSink,
    readonly limit: number,
    private readonly measure: 'offset' | 'stream' = 'offset',
    private readonly name: string = inner.path,
  ) {
    if (inner.writeSync) this.writeSync = (pos, data) => this.writeSyncLimited(pos, data);
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
  writeSync?: (pos: number, data: Uint8Array) => void;

  /** Bytes of a write of `len` at `pos` that fit under the limit. */
  private room(pos: number, len: number): number {
    const at = this.measure === 'offset' ? pos : this.inner.bytesWritten;
    return at + len <= this.limit ? len : Math.max(0, this.limit - at);
  }

  private full(): VmcoreError {
    return new VmcoreError('E_NO_SPACE', `writing ${this.name}: size limit of ${this.limit} bytes (${hex(this.limit)}) reached (-L)`, {
      path: this.name,
      offset: this.limit,
    });
  }

  async write(pos: number, data: Uint8Array): Promise<void> {
    const n = this.room(pos, data.length);
    if (n > 0) await this.inner.write(pos, n === data.length ? data : data.subarray(0, n));
    if (n < data.length) throw this.full();
  }

  private writeSyncLimited(pos: number, data: Uint8Array): void {
    const n = this.room(pos, data.length);
    if (n > 0) this.inner.writeSync!(pos, n === data.length ? data : data.subarray(0, n));
    if (n < data.length) throw this.full();
  }

  finish(): Promise<void> {
    return this.inner.finish();
  }
}
