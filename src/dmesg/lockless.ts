/**
 * Decode the 5.10+ lockless printk ring buffer (kernel/printk/printk_ringbuffer.c) from a dump:
 * walk descriptor ids from `tail_id` to `head_id`, print committed and finalized records, and
 * account for every other one (reserved by a stopped writer, recycled, data-less, bad lpos).
 * The text block rules are the kernel's get_data(): a block whose `begin` and `next` are in
 * the same wrap lies at DATA_INDEX(begin); a block whose `next` is one wrap ahead was stored at
 * the start of the buffer; each block starts with the 8-byte descriptor id.
 */
import { VmcoreError, hex, withContext } from '../errors.js';
import type { Vmcoreinfo } from '../vmcoreinfo/parse.js';
import { DATA_BLOCK_ID_SIZE, DESC_FLAGS_SHIFT, DESC_ID_MASK, DESC_STATE, NO_LPOS, type PrbLayout } from './layout.js';
import type { KernelLog, KernelVirtReader, LogRecord, SkipReason, SkippedRecord } from './types.js';

const U64 = (1n << 64n) - 1n;
/** Hard limits on sizes read from the dump (CONFIG_LOG_BUF_SHIFT is at most 25; log_buf_len= can go further). */
export const PRB_LIMITS = { maxCountBits: 22, maxSizeBits: 28, minSizeBits: 4 } as const;

const u64 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(o, true);
const u32 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(o, true);
const u16 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(o, true);

/** Decode the ring `SYMBOL(prb)` points to. Throws VmcoreError naming the address of anything unreadable or impossible. */
export function decodeLockless(mem: KernelVirtReader, vi: Vmcoreinfo, L: PrbLayout): KernelLog {
  const warnings: string[] = [];
  const ring = readRing(mem, vi, L);
  const bytes = readRingArrays(mem, ring, L, warnings);
  const { first, n } = idWindow(ring, warnings);
  const records: LogRecord[] = [];
  const skipped: SkippedRecord[] = [];
  let firstReadableSeq: number | null = null;
  let firstSeenSeq: number | null = null;
  for (let k = 0; k < n; k++) {
    const got = readRecord(ring, bytes, L, (first + BigInt(k)) & DESC_ID_MASK);
    // A skipped record's seq is null until its descriptor is known to hold its id.
    if (firstSeenSeq === null && got.seq !== null) firstSeenSeq = got.seq;
    if ('reason' in got) {
      // Before the first readable record, recycled descriptors are simply old records that
      // were overwritten; they are counted by `overwritten`, not listed.
      if (!(firstReadableSeq === null && (got.reason === 'reusable' || got.reason === 'id_mismatch'))) skipped.push(got);
      continue;
    }
    if (firstReadableSeq === null) firstReadableSeq = got.seq;
    records.push(got);
  }
  checkSeqOrder(records, warnings);
  return {
    format: 'lockless',
    records,
    overwritten: firstReadableSeq ?? firstSeenSeq ?? 0,
    skipped,
    dropped: Number(ring.fail),
    buffer: { address: ring.prb, textBytes: ring.size, descriptors: ring.count },
    warnings,
  };
}

/** struct printk_ringbuffer's fields, its sizes bounded by PRB_LIMITS. */
interface Ring {
  /** Where the ring is (the value of `prb`). */
  prb: bigint;
  /** Descriptors: 1 << desc_ring.count_bits. */
  count: number;
  descsVa: bigint;
  infosVa: bigint;
  headId: bigint;
  tailId: bigint;
  sizeBits: number;
  /** Bytes of text data: 2 ** text_data_ring.size_bits. */
  size: number;
  dataVa: bigint;
  headLpos: bigint;
  tailLpos: bigint;
  /** prb->fail: printk calls that found no descriptor (0 where the layout has none). */
  fail: bigint;
}

function readRing(mem: KernelVirtReader, vi: Vmcoreinfo, L: PrbLayout): Ring {
  const prbSym = vi.require('SYMBOL(prb)', vi.symbol('prb'));
  const read = (what: string, va: bigint, len: number) => withContext(`dmesg: reading ${what} at ${hex(va)}`, () => mem.readVirt(va, len));
  const prb = u64(read('prb (SYMBOL(prb))', prbSym, 8), 0);
  const hdr = read('the printk_ringbuffer prb points to', prb, L.sizePrintkRingbuffer);
  const dr = L.rbDescRing;
  const tr = L.rbTextDataRing;
  const countBits = u32(hdr, dr + L.drCountBits);
  const descsVa = u64(hdr, dr + L.drDescs);
  const infosVa = u64(hdr, dr + L.drInfos);
  const headId = u64(hdr, dr + L.drHeadId + L.atomicCounter) & DESC_ID_MASK;
  const tailId = u64(hdr, dr + L.drTailId + L.atomicCounter) & DESC_ID_MASK;
  const sizeBits = u32(hdr, tr + L.dataSizeBits);
  const dataVa = u64(hdr, tr + L.dataData);
  const headLpos = u64(hdr, tr + L.dataHeadLpos + L.atomicCounter);
  const tailLpos = u64(hdr, tr + L.dataTailLpos + L.atomicCounter);
  const fail = L.rbFail >= 0 ? u64(hdr, L.rbFail + L.atomicCounter) : 0n;
  if (countBits > PRB_LIMITS.maxCountBits) {
    throw new VmcoreError('E_FORMAT', `dmesg: printk_ringbuffer at ${hex(prb)}: desc_ring.count_bits ${countBits} is more than ${PRB_LIMITS.maxCountBits}`, { address: prb });
  }
  if (sizeBits > PRB_LIMITS.maxSizeBits || sizeBits < PRB_LIMITS.minSizeBits) {
    throw new VmcoreError('E_FORMAT', `dmesg: printk_ringbuffer at ${hex(prb)}: text_data_ring.size_bits ${sizeBits} is outside ${PRB_LIMITS.minSizeBits}..${PRB_LIMITS.maxSizeBits}`, {
      address: prb,
    });
  }
  const count = 1 << countBits;
  const size = 2 ** sizeBits;
  return { prb, count, descsVa, infosVa, headId, tailId, sizeBits, size, dataVa, headLpos, tailLpos, fail };
}

/** The ring's three arrays. */
interface RingBytes {
  descs: TolerantBytes;
  infos: TolerantBytes;
  data: TolerantBytes;
}

/**
 * The arrays are read page by page where the dump lacks some pages (a filtered dump drops the
 * all-zero pages of descriptors never used); a record touching a missing page is skipped.
 */
function readRingArrays(mem: KernelVirtReader, r: Ring, L: PrbLayout, warnings: string[]): RingBytes {
  const descs = readTolerant(mem, 'prb->desc_ring.descs', r.descsVa, r.count * L.sizeDesc);
  const infos = readTolerant(mem, 'prb->desc_ring.infos', r.infosVa, r.count * L.sizeInfo);
  const data = readTolerant(mem, 'prb->text_data_ring.data', r.dataVa, r.size);
  for (const [what, a] of [
    ['descriptors', descs],
    ['infos', infos],
    ['text data', data],
  ] as const) {
    if (a.missingPages) warnings.push(`${a.missingPages} page(s) of the ring's ${what} are not in the dump`);
  }
  return { descs, infos, data };
}

/** The ids to walk, tail..head; a distance beyond the ring means the ids are corrupt: keep the newest `count`. */
function idWindow(r: Ring, warnings: string[]): { first: bigint; n: number } {
  let first = r.tailId;
  const span = Number((r.headId - r.tailId) & DESC_ID_MASK) + 1;
  if (span > r.count) {
    warnings.push(`desc_ring tail_id ${hex(r.tailId)} and head_id ${hex(r.headId)} are ${span} apart, more than its ${r.count} descriptors: reading the newest ${r.count}`);
    first = (r.headId - BigInt(r.count) + 1n) & DESC_ID_MASK;
  }
  return { first, n: Math.min(span, r.count) };
}

/** Descriptor `id`: its record, or why it is skipped (seq null until the slot is known to hold `id`). */
function readRecord(r: Ring, a: RingBytes, L: PrbLayout, id: bigint): LogRecord | SkippedRecord {
  const i = Number(id & BigInt(r.count - 1));
  const d = i * L.sizeDesc;
  const io = i * L.sizeInfo;
  if (!a.descs.has(d, L.sizeDesc) || !a.infos.has(io, L.sizeInfo)) return { seq: null, id: hex(id), reason: 'not_in_dump' };
  const sv = u64(a.descs, d + L.descStateVar + L.atomicCounter);
  const seqRaw = u64(a.infos, io + L.infoSeq);
  const seq = seqRaw <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seqRaw) : null;
  if ((sv & DESC_ID_MASK) !== id) return { seq: null, id: hex(id), reason: 'id_mismatch' };
  const skip = (reason: SkipReason): SkippedRecord => ({ seq, id: hex(id), reason });
  const state = Number(sv >> DESC_FLAGS_SHIFT);
  if (state === DESC_STATE.reserved) return skip('reserved');
  if (state === DESC_STATE.reusable) return skip('reusable');
  const text = textOf(r, a, L, d, io, id);
  if (typeof text === 'string') return skip(text);
  return recordOf(a.infos, io, L, seq, state, text);
}

/**
 * The text of the record in descriptor slot `d` (info `io`), by get_data()'s rules, or why
 * there is none. NO_LPOS in both positions is an empty line.
 */
function textOf(r: Ring, a: RingBytes, L: PrbLayout, d: number, io: number, id: bigint): { text: Uint8Array; truncated: boolean } | SkipReason {
  const begin = u64(a.descs, d + L.descTextBlkLpos + L.lposBegin);
  const next = u64(a.descs, d + L.descTextBlkLpos + L.lposNext);
  const textLen = u16(a.infos, io + L.infoTextLen);
  if (begin & 1n && begin === next) return begin !== NO_LPOS ? 'no_data' : { text: new Uint8Array(0), truncated: false };
  const sizeN = BigInt(r.size);
  const wraps = (lpos: bigint) => lpos >> BigInt(r.sizeBits);
  const idx = (lpos: bigint) => Number(lpos & (sizeN - 1n));
  const inWindow = (lpos: bigint) => ((lpos - r.tailLpos) & U64) <= ((r.headLpos - r.tailLpos) & U64);
  let off: number;
  let blockSize: number;
  if (wraps(begin) === wraps(next) && begin < next) {
    off = idx(begin);
    blockSize = Number(next - begin);
  } else if (wraps((begin + sizeN) & U64) === wraps(next)) {
    off = 0;
    blockSize = idx(next);
  } else {
    return 'bad_lpos';
  }
  if (begin % 8n || next % 8n || blockSize < DATA_BLOCK_ID_SIZE || off + blockSize > r.size) return 'bad_lpos';
  if (!a.data.has(off, blockSize) || !a.data.has(idx(begin), DATA_BLOCK_ID_SIZE)) return 'not_in_dump';
  // Data outside [tail_lpos, head_lpos], or a block that names another descriptor, was overwritten.
  if (!inWindow(begin) || !inWindow(next) || (u64(a.data, idx(begin)) & DESC_ID_MASK) !== id) return 'data_overwritten';
  const avail = blockSize - DATA_BLOCK_ID_SIZE;
  return {
    text: a.data.slice(off + DATA_BLOCK_ID_SIZE, off + DATA_BLOCK_ID_SIZE + Math.min(textLen, avail)),
    truncated: textLen > avail,
  };
}

const decoder = new TextDecoder('latin1');

function cstr(b: Uint8Array, o: number, len: number): string {
  const s = b.subarray(o, o + len);
  const z = s.indexOf(0);
  return decoder.decode(z >= 0 ? s.subarray(0, z) : s);
}

/** The record printk_info `io` describes, with its text. */
function recordOf(infos: Uint8Array, io: number, L: PrbLayout, seq: number | null, state: number, t: { text: Uint8Array; truncated: boolean }): LogRecord {
  const rec: LogRecord = {
    seq,
    tsNsec: u64(infos, io + L.infoTsNsec),
    // facility and flags:5/level:3 follow text_len (struct printk_info since 5.10); not exported
    facility: infos[io + L.infoTextLen + 2]!,
    level: infos[io + L.infoTextLen + 3]! >> 5,
    callerId: L.infoCallerId >= 0 ? u32(infos, io + L.infoCallerId) : null,
    text: t.text,
    state: state === DESC_STATE.committed ? 'committed' : 'finalized',
  };
  if (t.truncated) rec.truncated = true;
  if (L.infoDevInfo >= 0 && L.devSubsystem >= 0 && L.devDevice >= 0) {
    const dv = io + L.infoDevInfo;
    const subsystem = cstr(infos, dv + L.devSubsystem, Math.max(0, L.lenSubsystem));
    const device = cstr(infos, dv + L.devDevice, Math.max(0, L.lenDevice));
    if (subsystem || device) rec.dev = { subsystem, device };
  }
  return rec;
}

function checkSeqOrder(records: readonly LogRecord[], warnings: string[]): void {
  for (let i = 1; i < records.length; i++) {
    const a = records[i - 1]!.seq;
    const b = records[i]!.seq;
    if (a !== null && b !== null && b <= a) {
      warnings.push(`sequence numbers go backwards at seq ${b} (after ${a}): the descriptor ring is inconsistent`);
      break;
    }
  }
}

/** Bytes read with pages the dump lacks left zero; `has` tells whether a range was all read. */
type TolerantBytes = Uint8Array & { missingPages: number; has(off: number, len: number): boolean };

function readTolerant(mem: KernelVirtReader, what: string, va: bigint, len: number): TolerantBytes {
  // The dump's page size (16/64 KiB on arm64): a missing page is missing whole.
  const PAGE = (mem as { pageSize?: number }).pageSize ?? 4096;
  let bytes: Uint8Array;
  const missing: Array<[number, number]> = [];
  try {
    bytes = mem.readVirt(va, len);
  } catch (first) {
    if (!(first instanceof VmcoreError)) throw first;
    bytes = new Uint8Array(len);
    let off = 0;
    while (off < len) {
      const n = Math.min(len - off, PAGE - Number((va + BigInt(off)) % BigInt(PAGE)));
      try {
        bytes.set(mem.readVirt(va + BigInt(off), n), off);
      } catch (e) {
        if (!(e instanceof VmcoreError)) throw e;
        missing.push([off, off + n]);
      }
      off += n;
    }
    if (missing.length && missing.reduce((a, [s, e]) => a + e - s, 0) === len) {
      first.message = `dmesg: reading ${what} at ${hex(va)}: ${first.message}`;
      throw first;
    }
  }
  const out = bytes as TolerantBytes;
  out.missingPages = missing.length;
  out.has = (off, n) => !missing.some(([s, e]) => s < off + n && e > off);
  return out;
}
