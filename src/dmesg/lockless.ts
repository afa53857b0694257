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
import type { KernelLog, KernelVirtReader, LogRecord, SkippedRecord } from './types.js';

const U64 = (1n << 64n) - 1n;
/** Hard limits on sizes read from the dump (CONFIG_LOG_BUF_SHIFT is at most 25; log_buf_len= can go further). */
export const PRB_LIMITS = { maxCountBits: 22, maxSizeBits: 28, minSizeBits: 4 } as const;

/** Decode the ring `SYMBOL(prb)` points to. Throws VmcoreError naming the address of anything unreadable or impossible. */
export function decodeLockless(mem: KernelVirtReader, vi: Vmcoreinfo, L: PrbLayout): KernelLog {
  const prbSym = vi.require('SYMBOL(prb)', vi.symbol('prb'));
  const warnings: string[] = [];
  const u64 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(o, true);
  const u32 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(o, true);
  const u16 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(o, true);
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
  const sizeN = BigInt(size);
  // The arrays are read page by page where the dump lacks some pages (a filtered dump drops
  // the all-zero pages of descriptors never used); a record touching a missing page is skipped.
  const descs = readTolerant(mem, 'prb->desc_ring.descs', descsVa, count * L.sizeDesc);
  const infos = readTolerant(mem, 'prb->desc_ring.infos', infosVa, count * L.sizeInfo);
  const data = readTolerant(mem, 'prb->text_data_ring.data', dataVa, size);
  for (const [what, a] of [
    ['descriptors', descs],
    ['infos', infos],
    ['text data', data],
  ] as const) {
    if (a.missingPages) warnings.push(`${a.missingPages} page(s) of the ring's ${what} are not in the dump`);
  }

  // Walk tail..head; a distance beyond the ring means the ids are corrupt: keep the newest `count`.
  let first = tailId;
  const span = Number((headId - tailId) & DESC_ID_MASK) + 1;
  if (span > count) {
    warnings.push(`desc_ring tail_id ${hex(tailId)} and head_id ${hex(headId)} are ${span} apart, more than its ${count} descriptors: reading the newest ${count}`);
    first = (headId - BigInt(count) + 1n) & DESC_ID_MASK;
  }
  const n = Math.min(span, count);
  const wraps = (lpos: bigint) => lpos >> BigInt(sizeBits);
  const idx = (lpos: bigint) => Number(lpos & (sizeN - 1n));
  const inWindow = (lpos: bigint) => ((lpos - tailLpos) & U64) <= ((headLpos - tailLpos) & U64);
  const decoder = new TextDecoder('latin1');
  const cstr = (b: Uint8Array, o: number, len: number) => {
    const s = b.subarray(o, o + len);
    const z = s.indexOf(0);
    return decoder.decode(z >= 0 ? s.subarray(0, z) : s);
  };

  const records: LogRecord[] = [];
  const skipped: SkippedRecord[] = [];
  let firstReadableSeq: number | null = null;
  let firstSeenSeq: number | null = null;
  for (let k = 0; k < n; k++) {
    const id = (first + BigInt(k)) & DESC_ID_MASK;
    const i = Number(id & BigInt(count - 1));
    const d = i * L.sizeDesc;
    const io = i * L.sizeInfo;
    if (!descs.has(d, L.sizeDesc) || !infos.has(io, L.sizeInfo)) {
      skipped.push({ seq: null, id: hex(id), reason: 'not_in_dump' });
      continue;
    }
    const sv = u64(descs, d + L.descStateVar + L.atomicCounter);
    const seqRaw = u64(infos, io + L.infoSeq);
    const seq = seqRaw <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seqRaw) : null;
    const skip = (reason: SkippedRecord['reason']) => {
      // Before the first readable record, recycled descriptors are simply old records that
      // were overwritten; they are counted by `overwritten`, not listed.
      if (firstReadableSeq === null && (reason === 'reusable' || reason === 'id_mismatch')) return;
      skipped.push({ seq: reason === 'id_mismatch' ? null : seq, id: hex(id), reason });
    };
    if ((sv & DESC_ID_MASK) !== id) {
      skip('id_mismatch');
      continue;
    }
    if (firstSeenSeq === null && seq !== null) firstSeenSeq = seq;
    const state = Number(sv >> DESC_FLAGS_SHIFT);
    if (state === DESC_STATE.reserved) {
      skip('reserved');
      continue;
    }
    if (state === DESC_STATE.reusable) {
      skip('reusable');
      continue;
    }
    const begin = u64(descs, d + L.descTextBlkLpos + L.lposBegin);
    const next = u64(descs, d + L.descTextBlkLpos + L.lposNext);
    let text: Uint8Array;
    let truncated = false;
    const textLen = u16(infos, io + L.infoTextLen);
    if (begin & 1n && begin === next) {
      if (begin !== NO_LPOS) {
        skip('no_data');
        continue;
      }
      text = new Uint8Array(0); // an empty line
    } else {
      let off: number;
      let blockSize: number;
      if (wraps(begin) === wraps(next) && begin < next) {
        off = idx(begin);
        blockSize = Number(next - begin);
      } else if (wraps((begin + sizeN) & U64) === wraps(next)) {
        off = 0;
        blockSize = idx(next);
      } else {
        skip('bad_lpos');
        continue;
      }
      if (begin % 8n || next % 8n || blockSize < DATA_BLOCK_ID_SIZE || off + blockSize > size) {
        skip('bad_lpos');
        continue;
      }
      if (!data.has(off, blockSize) || !data.has(idx(begin), DATA_BLOCK_ID_SIZE)) {
        skip('not_in_dump');
        continue;
      }
      // Data outside [tail_lpos, head_lpos], or a block that names another descriptor, was overwritten.
      if (!inWindow(begin) || !inWindow(next) || (u64(data, idx(begin)) & DESC_ID_MASK) !== id) {
        skip('data_overwritten');
        continue;
      }
      const avail = blockSize - DATA_BLOCK_ID_SIZE;
      truncated = textLen > avail;
      text = data.slice(off + DATA_BLOCK_ID_SIZE, off + DATA_BLOCK_ID_SIZE + Math.min(textLen, avail));
    }
    const rec: LogRecord = {
      seq,
      tsNsec: u64(infos, io + L.infoTsNsec),
      // facility and flags:5/level:3 follow text_len (struct printk_info since 5.10); not exported
      facility: infos[io + L.infoTextLen + 2]!,
      level: infos[io + L.infoTextLen + 3]! >> 5,
      callerId: L.infoCallerId >= 0 ? u32(infos, io + L.infoCallerId) : null,
      text,
      state: state === DESC_STATE.committed ? 'committed' : 'finalized',
    };
    if (truncated) rec.truncated = true;
    if (L.infoDevInfo >= 0 && L.devSubsystem >= 0 && L.devDevice >= 0) {
      const dv = io + L.infoDevInfo;
      const subsystem = cstr(infos, dv + L.devSubsystem, Math.max(0, L.lenSubsystem));
      const device = cstr(infos, dv + L.devDevice, Math.max(0, L.lenDevice));
      if (subsystem || device) rec.dev = { subsystem, device };
    }
    if (firstReadableSeq === null) firstReadableSeq = seq;
    records.push(rec);
  }
  for (let i = 1; i < records.length; i++) {
    const a = records[i - 1]!.seq;
    const b = records[i]!.seq;
    if (a !== null && b !== null && b <= a) {
      warnings.push(`sequence numbers go backwards at seq ${b} (after ${a}): the descriptor ring is inconsistent`);
      break;
    }
  }
  return {
    format: 'lockless',
    records,
    overwritten: firstReadableSeq ?? firstSeenSeq ?? 0,
    skipped,
    dropped: Number(fail),
    buffer: { address: prb, textBytes: size, descriptors: count },
    warnings,
  };
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
