import * as fs from 'node:fs';
import { VmcoreError, hex } from '../errors.js';

/**
 * A random-access, read-only byte source. Reads are synchronous: hot loops read large
 * batches and decode them with DataView; async is kept to the edges.
 */
export interface ByteSource {
  readonly size: number;
  readonly path: string;
  /** Read exactly `len` bytes at `pos` into `buf` (at `bufOff`); short reads throw E_TRUNCATED. */
  readInto(pos: number, len: number, buf: Uint8Array, bufOff?: number): void;
  /** Read `len` bytes at `pos` into a new Buffer; short reads throw E_TRUNCATED. */
  read(pos: number, len: number): Buffer;
  /** Read up to `len` bytes; returns the count read (for tolerant readers of truncated files). */
  readSome(pos: number, len: number, buf: Uint8Array, bufOff?: number): number;
  close(): void;
}

/** A file opened read-only. The input is never opened for writing. */
export class FileSource implements ByteSource {
  readonly size: number;
  readonly fd: number;
  readonly dev: number;
  readonly ino: number;
  constructor(readonly path: string) {
    try {
      this.fd = fs.openSync(path, 'r');
      const st = fs.fstatSync(this.fd);
      if (!st.isFile() && !st.isBlockDevice() && !st.isCharacterDevice()) {
        fs.closeSync(this.fd);
        throw new VmcoreError('E_INPUT_IO', `${path}: not a regular file`, { path });
      }
      this.size = st.size;
      this.dev = st.dev;
      this.ino = st.ino;
    } catch (e) {
      if (e instanceof VmcoreError) throw e;
      const err = e as NodeJS.ErrnoException;
      throw new VmcoreError('E_INPUT_IO', `cannot open ${path}: ${err.code ?? err.message}`, { path });
    }
  }
  readSome(pos: number, len: number, buf: Uint8Array, bufOff = 0): number {
    let done = 0;
    while (done < len) {
      let n: number;
      try {
        n = fs.readSync(this.fd, buf, bufOff + done, len - done, pos + done);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        throw new VmcoreError('E_INPUT_IO', `reading ${this.path} at offset ${hex(pos + done)}: ${err.code ?? err.message}`, {
          path: this.path,
          offset: pos + done,
        });
      }
      if (n === 0) break;
      done += n;
    }
    return done;
  }
  readInto(pos: number, len: number, buf: Uint8Array, bufOff = 0): void {
    const n = this.readSome(pos, len, buf, bufOff);
    if (n !== len) {
      throw new VmcoreError(
        'E_TRUNCATED',
        `${this.path}: file ends at ${hex(this.size)}, needed ${len} bytes at offset ${hex(pos)}`,
        { path: this.path, offset: pos },
      );
    }
  }
  read(pos: number, len: number): Buffer {
    const b = Buffer.allocUnsafe(len);
    this.readInto(pos, len, b);
    return b;
  }
  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already closed */
    }
  }
}

/** An in-memory byte source (tests, small fixtures). */
export class BufferSource implements ByteSource {
  constructor(readonly data: Uint8Array, readonly path = '<buffer>') {}
  get size(): number {
    return this.data.length;
  }
  readSome(pos: number, len: number, buf: Uint8Array, bufOff = 0): number {
    const n = Math.max(0, Math.min(len, this.data.length - pos));
    buf.set(this.data.subarray(pos, pos + n), bufOff);
    return n;
  }
  readInto(pos: number, len: number, buf: Uint8Array, bufOff = 0): void {
    if (this.readSome(pos, len, buf, bufOff) !== len) {
      throw new VmcoreError('E_TRUNCATED', `${this.path}: ends at ${hex(this.size)}, needed ${len} bytes at ${hex(pos)}`, {
        path: this.path,
        offset: pos,
      });
    }
  }
  read(pos: number, len: number): Buffer {
    const b = Buffer.alloc(len);
    this.readInto(pos, len, b);
    return b;
  }
  close(): void {}
}

/** Convert a u64 read from a dump to a number, refusing values that do not fit (offsets, sizes). */
export function toSafeNumber(v: bigint, what: string): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new VmcoreError('E_LIMIT', `${what} ${hex(v)} is out of range`);
  }
  return Number(v);
}

/** A view of `s` whose close() does nothing: for probes and wrappers that must not close the caller's source. */
export function borrowSource(s: ByteSource): ByteSource {
  return {
    get size() {
      return s.size;
    },
    path: s.path,
    readInto: (p, l, b, o) => s.readInto(p, l, b, o),
    read: (p, l) => s.read(p, l),
    readSome: (p, l, b, o) => s.readSome(p, l, b, o),
    close: () => {},
  };
}
