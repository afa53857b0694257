/**
 * Reading makedumpfile's flattened stream (FORMATS.md §6.10) in place, and rebuilding the file
 * it describes (`makedumpfile -R`).
 *
 * {@link FlattenedSource} indexes the records once (offset → where the bytes lie in the stream;
 * later records override earlier ones, as replaying them would) and then serves random reads of
 * the reassembled file without writing it out. Bytes no record covers read as zero, as the holes
 * of the reassembled (sparse) file would.
 */
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import { VmcoreError, hex } from '../../errors.js';
import { FileSource, type ByteSource } from '../../io/file.js';
import { FileSink } from '../kdump/sink.js';
import { FLAT_HEADER_SIZE, FLAT_RECORD_HEADER_SIZE, FLAT_TYPE, FLAT_VERSION, hasFlatSignature } from './layout.js';

/** Check the 4096-byte stream header; throws E_FORMAT naming what is wrong. */
export function checkFlatHeader(h: Uint8Array, path: string): void {
  if (!hasFlatSignature(h)) throw new VmcoreError('E_FORMAT', `${path}: not a flattened dump (no "makedumpfile" signature)`, { path });
  const v = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const type = v.getBigInt64(16, false);
  const version = v.getBigInt64(24, false);
  if (type !== FLAT_TYPE || version !== FLAT_VERSION) {
    throw new VmcoreError('E_FORMAT', `${path}: flattened header has type ${type} version ${version}, expected 1 and 1`, {
      path,
      offset: 16,
    });
  }
}

/** One resolved piece of the reassembled file. */
interface Piece {
  start: number;
  end: number;
  /** Stream offset of the byte at `start`. */
  src: number;
}

/** A random-access view of the file a flattened stream describes. */
export class FlattenedSource implements ByteSource {
  readonly size: number;
  readonly path: string;
  /** Number of data records in the stream. */
  readonly records: number;
  /** False if the stream ends without its end record (the producer was interrupted). */
  readonly terminated: boolean;
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  private readonly srcs: Float64Array;

  /** Index the stream in `raw` (which this source then owns and closes). */
  constructor(private readonly raw: ByteSource) {
    this.path = raw.path;
    const path = raw.path;
    checkFlatHeader(raw.read(0, FLAT_HEADER_SIZE), path);
    const recStart: number[] = [];
    const recEnd: number[] = [];
    const recSrc: number[] = [];
    const hdr = new Uint8Array(FLAT_RECORD_HEADER_SIZE);
    const hv = new DataView(hdr.buffer);
    let pos = FLAT_HEADER_SIZE;
    let terminated = false;
    while (pos + FLAT_RECORD_HEADER_SIZE <= raw.size) {
      raw.readInto(pos, FLAT_RECORD_HEADER_SIZE, hdr);
      const off = hv.getBigInt64(0, false);
      const len = hv.getBigInt64(8, false);
      if (off === -1n && len === -1n) {
        terminated = true;
        break;
      }
      if (off < 0n || len <= 0n || off + len > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new VmcoreError('E_FORMAT', `${path}: flattened record at ${hex(pos)} has offset ${off} and size ${len}`, {
          path,
          offset: pos,
        });
      }
      const n = Number(len);
      if (pos + FLAT_RECORD_HEADER_SIZE + n > raw.size) {
        throw new VmcoreError('E_TRUNCATED', `${path}: flattened record at ${hex(pos)} (${n} bytes) runs past the end of the file`, {
          path,
          offset: pos,
        });
      }
      recStart.push(Number(off));
      recEnd.push(Number(off) + n);
      recSrc.push(pos + FLAT_RECORD_HEADER_SIZE);
      pos += FLAT_RECORD_HEADER_SIZE + n;
    }
    this.terminated = terminated;
    this.records = recStart.length;
    const pieces = resolveOverrides(recStart, recEnd, recSrc);
    this.starts = Float64Array.from(pieces, (p) => p.start);
    this.ends = Float64Array.from(pieces, (p) => p.end);
    this.srcs = Float64Array.from(pieces, (p) => p.src);
    this.size = pieces.length ? this.ends[this.ends.length - 1]! : 0;
  }

  /** Open and index a flattened file. */
  static open(path: string): FlattenedSource {
    const f = new FileSource(path);
    try {
      return new FlattenedSource(f);
    } catch (e) {
      f.close();
      throw e;
    }
  }

  /** Index of the last piece starting at or before `pos`, or -1. */
  private find(pos: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! <= pos) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }

  readSome(pos: number, len: number, buf: Uint8Array, bufOff = 0): number {
    const n = Math.max(0, Math.min(len, this.size - pos));
    const count = this.starts.length;
    let done = 0;
    let i = this.find(pos); // last piece starting at or before pos
    while (done < n) {
      const at = pos + done;
      if (i >= 0 && at < this.ends[i]!) {
        const k = Math.min(n - done, this.ends[i]! - at);
        this.raw.readInto(this.srcs[i]! + (at - this.starts[i]!), k, buf, bufOff + done);
        done += k;
        continue;
      }
      // A hole up to the next piece.
      const next = i + 1 < count ? this.starts[i + 1]! : this.size;
      const k = Math.min(n - done, next - at);
      buf.fill(0, bufOff + done, bufOff + done + k);
      done += k;
      i++;
    }
    return n;
  }

  readInto(pos: number, len: number, buf: Uint8Array, bufOff = 0): void {
    if (this.readSome(pos, len, buf, bufOff) !== len) {
      throw new VmcoreError('E_TRUNCATED', `${this.path}: flattened data ends at ${hex(this.size)}, needed ${len} bytes at ${hex(pos)}`, {
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

  close(): void {
    this.raw.close();
  }
}

/**
 * Turn records (in stream order) into sorted, non-overlapping pieces where each byte comes from
 * the last record that wrote it. Common case (no overlap) is a sort; overlaps use a sweep with a
 * max-heap on record order.
 */
function resolveOverrides(start: number[], end: number[], src: number[]): Piece[] {
  const n = start.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => start[a]! - start[b]! || a - b);
  let overlap = false;
  let maxEnd = -1;
  for (const i of order) {
    if (start[i]! < maxEnd) overlap = true;
    maxEnd = Math.max(maxEnd, end[i]!);
  }
  if (!overlap) return order.map((i) => ({ start: start[i]!, end: end[i]!, src: src[i]! }));

  const bounds = Array.from(new Set([...start, ...end])).sort((a, b) => a - b);
  const heap: number[] = []; // record indices, max record index (latest) on top
  const push = (x: number) => {
    heap.push(x);
    for (let c = heap.length - 1; c > 0; ) {
      const p = (c - 1) >> 1;
      if (heap[p]! >= heap[c]!) break;
      [heap[p], heap[c]] = [heap[c]!, heap[p]!];
      c = p;
    }
  };
  const pop = () => {
    const last = heap.pop()!;
    if (heap.length) {
      heap[0] = last;
      for (let p = 0; ; ) {
        const l = 2 * p + 1;
        const r = l + 1;
        let m = p;
        if (l < heap.length && heap[l]! > heap[m]!) m = l;
        if (r < heap.length && heap[r]! > heap[m]!) m = r;
        if (m === p) break;
        [heap[p], heap[m]] = [heap[m]!, heap[p]!];
        p = m;
      }
    }
  };
  const out: Piece[] = [];
  let k = 0;
  let lastRec = -1;
  for (let b = 0; b + 1 < bounds.length; b++) {
    const lo = bounds[b]!;
    const hi = bounds[b + 1]!;
    while (k < n && start[order[k]!]! <= lo) push(order[k++]!);
    while (heap.length && end[heap[0]!]! <= lo) pop();
    if (!heap.length) {
      lastRec = -1;
      continue;
    }
    const r = heap[0]!;
    const prev = out[out.length - 1];
    if (prev && lastRec === r && prev.end === lo) prev.end = hi;
    else out.push({ start: lo, end: hi, src: src[r]! + (lo - start[r]!) });
    lastRec = r;
  }
  return out;
}

/** Statistics of a reassembly. */
export interface ReassembleStats {
  records: number;
  /** Payload bytes written. */
  bytes: number;
  /** Size of the rebuilt file. */
  fileSize: number;
}

/**
 * Replay a flattened stream into a regular file (what `makedumpfile -R` does), in stream order.
 * A stream without its end record is an error (E_TRUNCATED), as for makedumpfile.
 */
export async function reassembleFlattenedStream(input: Readable, outPath: string, inName = '<stdin>'): Promise<ReassembleStats> {
  const sink = FileSink.open(outPath);
  const stats: ReassembleStats = { records: 0, bytes: 0, fileSize: 0 };
  let header: Uint8Array | null = new Uint8Array(0);
  let recHdr = new Uint8Array(0);
  let remaining = 0; // payload bytes still to come for the current record
  let at = 0; // output offset of the next payload byte
  let consumed = 0; // stream bytes consumed
  let ended = false;
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let c: Uint8Array = chunk;
      while (c.length > 0) {
        if (ended) {
          // makedumpfile ignores what follows the end record; so do we.
          c = c.subarray(c.length);
          break;
        }
        if (header) {
          const take = Math.min(FLAT_HEADER_SIZE - header.length, c.length);
          header = Buffer.concat([header, c.subarray(0, take)]);
          c = c.subarray(take);
          consumed += take;
          if (header.length === FLAT_HEADER_SIZE) {
            checkFlatHeader(header, inName);
            header = null;
          }
          continue;
        }
        if (remaining > 0) {
          const take = Math.min(remaining, c.length);
          await sink.write(at, c.subarray(0, take));
          at += take;
          remaining -= take;
          stats.bytes += take;
          stats.fileSize = Math.max(stats.fileSize, at);
          c = c.subarray(take);
          consumed += take;
          continue;
        }
        const take = Math.min(FLAT_RECORD_HEADER_SIZE - recHdr.length, c.length);
        recHdr = Buffer.concat([recHdr, c.subarray(0, take)]);
        c = c.subarray(take);
        consumed += take;
        if (recHdr.length < FLAT_RECORD_HEADER_SIZE) continue;
        const v = new DataView(recHdr.buffer, recHdr.byteOffset, 16);
        const off = v.getBigInt64(0, false);
        const len = v.getBigInt64(8, false);
        recHdr = new Uint8Array(0);
        if (off === -1n && len === -1n) {
          ended = true;
          continue;
        }
        if (off < 0n || len <= 0n || off + len > BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new VmcoreError('E_FORMAT', `${inName}: flattened record at ${hex(consumed - 16)} has offset ${off} and size ${len}`, {
            path: inName,
            offset: consumed - 16,
          });
        }
        at = Number(off);
        remaining = Number(len);
        stats.records++;
      }
    }
    if (header) throw new VmcoreError('E_TRUNCATED', `${inName}: flattened stream ends inside its header`, { path: inName });
    if (!ended) {
      throw new VmcoreError('E_TRUNCATED', `${inName}: flattened stream ends without its end record (at ${hex(consumed)})`, {
        path: inName,
        offset: consumed,
      });
    }
  } finally {
    await sink.finish();
  }
  return stats;
}

/** Replay the flattened file `inPath` into `outPath` (created or truncated). */
export async function reassembleFlattened(inPath: string, outPath: string): Promise<ReassembleStats> {
  let stream: fs.ReadStream;
  try {
    fs.accessSync(inPath, fs.constants.R_OK);
    stream = fs.createReadStream(inPath, { highWaterMark: 1 << 20 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new VmcoreError('E_INPUT_IO', `cannot open ${inPath}: ${err.code ?? err.message}`, { path: inPath });
  }
  return reassembleFlattenedStream(stream, outPath, inPath);
}
