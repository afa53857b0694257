/**
 * A {@link DumpSink} that emits makedumpfile's flattened stream (`-F`) to a Writable such as stdout:
 * each positional write becomes a record, so the stream can be piped and replayed by
 * `makedumpfile -R` or {@link reassembleFlattened}.
 */
import type { Writable } from 'node:stream';
import { VmcoreError } from '../../errors.js';
import { outputError, type DumpSink } from '../kdump/sink.js';
import { FLAT_MAX_RECORD, encodeFlatHeader, encodeRecordHeader } from './layout.js';

export class FlattenedSink implements DumpSink {
  readonly flattened = true;
  bytesWritten = 0;
  private started = false;
  private finished = false;
  private error: VmcoreError | null = null;

  constructor(
    private readonly out: Writable,
    readonly path = '<stdout>',
  ) {
    out.on('error', (e) => {
      this.error ??= outputError(e, this.path);
    });
  }

  private async emit(chunk: Uint8Array): Promise<void> {
    if (this.error) throw this.error;
    // Copy: the caller reuses its buffer as soon as we return, the stream may hold ours longer.
    const ok = this.out.write(Buffer.from(chunk));
    this.bytesWritten += chunk.length;
    if (!ok) {
      // One listener pair per wait, removed when either fires (once() on both would leave the
      // losing 'error' listener behind on every full buffer).
      await new Promise<void>((resolve) => {
        const done = () => {
          this.out.off('drain', done);
          this.out.off('error', done);
          resolve();
        };
        this.out.on('drain', done);
        this.out.on('error', done);
      });
    }
    if (this.error) throw this.error;
  }

  async write(pos: number, data: Uint8Array): Promise<void> {
    if (this.finished) throw new VmcoreError('E_INTERNAL', 'write after finish on flattened output');
    if (!this.started) {
      this.started = true;
      await this.emit(encodeFlatHeader());
    }
    // A zero-size record would end makedumpfile -R's loop early: never emit one.
    for (let done = 0; done < data.length; ) {
      const n = Math.min(FLAT_MAX_RECORD, data.length - done);
      await this.emit(encodeRecordHeader(pos + done, n));
      await this.emit(data.subarray(done, done + n));
      done += n;
    }
  }

  async finish(): Promise<void> {
    if (this.finished) return;
    if (!this.started) {
      this.started = true;
      await this.emit(encodeFlatHeader());
    }
    await this.emit(encodeRecordHeader(-1, -1));
    this.finished = true;
  }
}
