/**
 * The simulated kernel log: a seeded boot and runtime log ending in a sysrq-triggered panic,
 * stored the way the kernel stores it — in the 5.10+ lockless printk ring buffer
 * (kernel/printk/printk_ringbuffer.c: descriptor ring + text data ring, ids, lpos wrap rules,
 * descriptor states) or, behind `printk: 'log_buf'`, in the 3.5–5.9 variable-length `log_buf`.
 * The writers below replay the kernel's algorithms single-threaded, so wrap-around (old records
 * overwritten, their descriptors left reusable), and a record left `reserved` by a CPU stopped
 * mid-printk, come out exactly as a real dump shows them. Deterministic from the seed.
 */
import { VmcoreError } from '../errors.js';
import {
  DATA_BLOCK_ID_SIZE,
  DESC_FLAGS_SHIFT,
  DESC_ID_MASK,
  DESC_STATE,
  FAILED_LPOS,
  LOG_ALIGN_X86_64,
  NO_LPOS,
  PRB_AVGBITS,
  PRB_KEYS,
  PRB_LAYOUT_X86_64 as L,
  PRINTK_LOG_X86_64 as PL,
} from '../dmesg/layout.js';
import { type SimLayout } from './layout.js';
import type { Memblock } from './memblock.js';
import { Rng, hash32 } from './rng.js';

const U64 = (1n << 64n) - 1n;
const hex = (v: bigint) => v.toString(16);

/** Kernel-image offsets (from `_text`) of the printk variables. */
export const PRINTK_SYMBOL_OFFSETS = {
  /** `struct printk_ringbuffer *prb` / `char *log_buf` (.data). */
  prb: 0x145c760,
  printk_rb_static: 0x145c780,
  printk_rb_dynamic: 0x145c7e0,
  /** `u32 log_buf_len` (.data, old format). */
  log_buf_len: 0x145c840,
  /** .bss */
  clear_seq: 0x1590300,
  log_first_idx: 0x1590320,
  log_next_idx: 0x1590324,
  clear_idx: 0x1590328,
  __log_buf: 0x1680000,
  _printk_rb_static_descs: 0x16c0000,
  _printk_rb_static_infos: 0x1700000,
} as const;

/** One message as printk stores it. */
export interface SimLogRecord {
  tsNsec: bigint;
  level: number;
  facility: number;
  /** printk caller id: pid, or 0x80000000 | cpu in interrupt context. */
  callerId: number;
  text: string;
  dev?: { subsystem: string; device: string };
}

/** Where the log went and what VMCOREINFO says about it. */
export interface SimPrintk {
  format: 'lockless' | 'log_buf';
  /** VMCOREINFO lines (KEY=VALUE) of log_buf_vmcoreinfo_setup(). */
  vmcoreinfo: string[];
  /** Every message printk was asked to store, in order (the last ones may be partial: see `reserved`). */
  records: SimLogRecord[];
  /** Sequence numbers of records readers must not see (left reserved by a stopped CPU). */
  reserved: number[];
  /** Sequence number of the oldest record still in the buffer (lockless only; the old format has no seq). */
  firstSeq: number;
}

/** The minimal machine view the log is built from. */
export interface PrintkMachine {
  opts: { seed: number; cpus: number; printk?: 'lockless' | 'log_buf'; logBufShift?: number; logBufLen?: number };
  layout: SimLayout;
  profile: { osrelease: string; version: string };
  crashTime: number;
}

/** Bytes to place in physical memory: [pa, bytes], `zeroBase` when the surrounding page starts as zero (bss, memblock). */
export type PhysWrite = (pa: number, bytes: Buffer, zeroBase: boolean) => void;

/** Memblock buffers for `log_buf_len=` (setup_log_buf): allocated at boot, before the buddy allocator. */
export interface DynamicLogBuf {
  text: number;
  descs: number;
  infos: number;
  sizeBits: number;
  countBits: number;
}

/** Allocate the `log_buf_len=` buffers from memblock as setup_log_buf() does (LOG_ALIGN = 8). */
export function allocDynamicLogBuf(mb: Memblock, logBufLen: number): DynamicLogBuf {
  if (!Number.isInteger(logBufLen) || logBufLen < 1 << 12 || logBufLen > 1 << 25 || (logBufLen & (logBufLen - 1)) !== 0) {
    throw new VmcoreError('E_USAGE', `logBufLen must be a power of two 4 KiB .. 32 MiB, got ${logBufLen}`, { option: 'logBufLen' });
  }
  const sizeBits = Math.log2(logBufLen);
  const countBits = sizeBits - PRB_AVGBITS;
  const text = mb.alloc(logBufLen, 8, 'log_buf');
  const descs = mb.alloc((1 << countBits) * L.sizeDesc, 8, 'log_buf descs');
  const infos = mb.alloc((1 << countBits) * L.sizeInfo, 8, 'log_buf infos');
  return { text, descs, infos, sizeBits, countBits };
}

/**
 * Generate the log and store it. `write` places bytes in physical memory; `dyn` are the
 * memblock buffers when `log_buf_len=` was given. Returns what VMCOREINFO must say.
 */
export function writePrintk(m: PrintkMachine, write: PhysWrite, dyn: DynamicLogBuf | null): SimPrintk {
  const format = m.opts.printk ?? defaultPrintkFormat(m.profile.osrelease);
  const shift = logBufShiftOf(m.opts);
  const at = printkPlace(m.layout, write);
  const bufBytes = dyn ? 1 << dyn.sizeBits : 1 << shift;
  const records = generateLog(m, new Rng(hash32(m.opts.seed, 0x9a1c)), bufBytes);
  return format === 'log_buf' ? writeLogBuf(at, records, bufBytes, dyn) : writeLockless(at, records, shift, dyn);
}

/** CONFIG_LOG_BUF_SHIFT: the static buffer is 2^shift bytes (default 17). */
function logBufShiftOf(opts: PrintkMachine['opts']): number {
  const shift = opts.logBufShift ?? 17;
  if (!Number.isInteger(shift) || shift < 12 || shift > 18) {
    throw new VmcoreError('E_USAGE', `logBufShift (CONFIG_LOG_BUF_SHIFT) must be 12..18, got ${shift}`, { option: 'logBufShift' });
  }
  return shift;
}

/** Where the printk variables live: kernel-image VAs and their physical addresses, and the direct map. */
interface PrintkPlace {
  sym(k: keyof typeof PRINTK_SYMBOL_OFFSETS): bigint;
  imagePa(va: bigint): number;
  directVa(pa: number): bigint;
  /** The VMCOREINFO line `SYMBOL(name)=<va of k>`. */
  symbolLine(name: string, k?: keyof typeof PRINTK_SYMBOL_OFFSETS): string;
  write: PhysWrite;
}

function printkPlace(layout: SimLayout, write: PhysWrite): PrintkPlace {
  const text = layout.text;
  const sym = (k: keyof typeof PRINTK_SYMBOL_OFFSETS) => text + BigInt(PRINTK_SYMBOL_OFFSETS[k]);
  return {
    sym,
    imagePa: (va) => layout.kernelPhys + Number(va - text),
    directVa: (pa) => layout.pageOffset + BigInt(pa),
    symbolLine: (name, k = name as keyof typeof PRINTK_SYMBOL_OFFSETS) => `SYMBOL(${name})=${hex(sym(k))}`,
    write,
  };
}

const u64 = (v: bigint) => Buffer.from(new BigUint64Array([v]).buffer);
const u32 = (v: number) => Buffer.from(new Uint32Array([v]).buffer);

/** The 3.5–5.9 format: the records in __log_buf (or the log_buf_len= buffer), its length and indexes. */
function writeLogBuf(at: PrintkPlace, records: SimLogRecord[], bufBytes: number, dyn: DynamicLogBuf | null): SimPrintk {
  const { sym, imagePa, directVa, write } = at;
  const lb = new LogBufSim(bufBytes);
  for (const r of records) lb.store(r);
  const bufVa = dyn ? directVa(dyn.text) : sym('__log_buf');
  write(dyn ? dyn.text : imagePa(sym('__log_buf')), lb.buf, true);
  // `char *log_buf` sits where 5.10+ has `prb`
  write(imagePa(sym('prb')), u64(bufVa), false);
  write(imagePa(sym('log_buf_len')), u32(bufBytes), false);
  write(imagePa(sym('log_first_idx')), u32(lb.firstIdx), true);
  write(imagePa(sym('log_next_idx')), u32(lb.nextIdx), true);
  write(imagePa(sym('clear_idx')), u32(0), true);
  const vmcoreinfo = [
    at.symbolLine('log_buf', 'prb'),
    at.symbolLine('log_buf_len'),
    at.symbolLine('log_first_idx'),
    at.symbolLine('clear_idx'),
    at.symbolLine('log_next_idx'),
    `SIZE(printk_log)=${PL.size}`,
    `OFFSET(printk_log.ts_nsec)=${PL.tsNsec}`,
    `OFFSET(printk_log.len)=${PL.len}`,
    `OFFSET(printk_log.text_len)=${PL.textLen}`,
    `OFFSET(printk_log.dict_len)=${PL.dictLen}`,
  ];
  return { format: 'log_buf', vmcoreinfo, records, reserved: [], firstSeq: lb.firstSeq };
}

/** The 5.10+ format: the records in a printk_ringbuffer, `prb` pointing at it, clear_seq zero. */
function writeLockless(at: PrintkPlace, records: SimLogRecord[], shift: number, dyn: DynamicLogBuf | null): SimPrintk {
  const { sym, imagePa, write } = at;
  const rb = new PrbSim(dyn ? dyn.countBits : shift - PRB_AVGBITS, dyn ? dyn.sizeBits : shift);
  const reserved = storeStoppedMidPrintk(rb, records);
  write(imagePa(sym('prb')), u64(placeRings(at, rb, shift, dyn)), false);
  write(imagePa(sym('clear_seq')), Buffer.alloc(L.sizeLatchedSeq), true);
  const vmcoreinfo = [at.symbolLine('prb'), at.symbolLine('printk_rb_static'), at.symbolLine('clear_seq'), ...PRB_KEYS.map(([f, k]) => `${k}=${L[f]}`)];
  return { format: 'lockless', vmcoreinfo, records, reserved, firstSeq: rb.firstValidSeq() };
}

/**
 * Stores the records; the one after the sysrq is being written by CPU 1 when the panicking CPU
 * stops it (NMI): it stays reserved. Returns the reserved records' seqs.
 */
function storeStoppedMidPrintk(rb: PrbSim, records: SimLogRecord[]): number[] {
  const partialAt = records.findIndex((r) => r.text.startsWith(SYSRQ_CRASH)) + 1;
  const reserved: number[] = [];
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (i === partialAt) reserved.push(rb.storePartial(r));
    else rb.store(r);
  }
  return reserved;
}

/** Virtual addresses of a ring: its struct printk_ringbuffer and its three arrays. */
interface RingVas {
  rb: bigint;
  descs: bigint;
  infos: bigint;
  text: bigint;
}

/**
 * Writes the ring: in the kernel image (printk_rb_static), or with log_buf_len= in the memblock
 * buffers (printk_rb_dynamic), printk_rb_static then keeping its boot-time (empty, bootstrap)
 * state. Returns the address `prb` points at.
 */
function placeRings(at: PrintkPlace, rb: PrbSim, shift: number, dyn: DynamicLogBuf | null): bigint {
  const { sym, imagePa, directVa } = at;
  const static_: RingVas = { rb: sym('printk_rb_static'), descs: sym('_printk_rb_static_descs'), infos: sym('_printk_rb_static_infos'), text: sym('__log_buf') };
  const staticPas = { descs: imagePa(static_.descs), infos: imagePa(static_.infos), text: imagePa(static_.text) };
  if (!dyn) {
    placeRing(at, rb, static_, staticPas);
    return static_.rb;
  }
  placeRing(at, new PrbSim(shift - PRB_AVGBITS, shift), static_, staticPas);
  const dynamic: RingVas = { rb: sym('printk_rb_dynamic'), descs: directVa(dyn.descs), infos: directVa(dyn.infos), text: directVa(dyn.text) };
  placeRing(at, rb, dynamic, dyn);
  return dynamic.rb;
}

/** One ring's arrays at `pas`, its header (pointing at `vas`) at `vas.rb`. */
function placeRing(at: PrintkPlace, r: PrbSim, vas: RingVas, pas: { descs: number; infos: number; text: number }): void {
  at.write(pas.text, r.data, true);
  at.write(pas.descs, r.descs, true);
  at.write(pas.infos, r.infos, true);
  at.write(at.imagePa(vas.rb), r.encodeHeader(vas.descs, vas.infos, vas.text), false);
}

/**
 * The buffer a kernel generation has: the lockless ring buffer from 5.10 (Linux commit
 * 896fbe20b4e2 "printk: use the lockless ringbuffer"), log_buf before. The simulator picks by
 * release because it plays a given kernel; the decoder never does (it reads VMCOREINFO).
 */
export function defaultPrintkFormat(osrelease: string): 'lockless' | 'log_buf' {
  const m = /^(\d+)\.(\d+)/.exec(osrelease);
  if (!m) return 'lockless';
  const v = Number(m[1]) * 1000 + Number(m[2]);
  return v >= 5010 ? 'lockless' : 'log_buf';
}

// ---------------------------------------------------------------------------------------------
// The lockless ring buffer, replayed single-threaded.

/** A printk_ringbuffer's three arrays and its head/tail positions. */
export class PrbSim {
  readonly count: bigint;
  readonly size: bigint;
  readonly descs: Buffer;
  readonly infos: Buffer;
  readonly data: Buffer;
  headId: bigint;
  tailId: bigint;
  headLpos: bigint;
  tailLpos: bigint;
  fail = 0n;

  constructor(
    readonly countBits: number,
    readonly sizeBits: number,
  ) {
    this.count = 1n << BigInt(countBits);
    this.size = 1n << BigInt(sizeBits);
    this.descs = Buffer.alloc(Number(this.count) * L.sizeDesc);
    this.infos = Buffer.alloc(Number(this.count) * L.sizeInfo);
    this.data = Buffer.alloc(Number(this.size));
    // Bootstrap (printk_ringbuffer.h): head = tail = DESC0_ID, the last descriptor reusable and data-less.
    const desc0 = (-(this.count + 1n) & U64) & DESC_ID_MASK;
    this.headId = this.tailId = desc0;
    this.headLpos = this.tailLpos = -this.size & U64;
    const last = Number(this.count) - 1;
    this.setSv(last, sv(desc0, DESC_STATE.reusable));
    this.setLpos(last, FAILED_LPOS, FAILED_LPOS);
    this.infos.writeBigUInt64LE(-this.count & U64, L.infoSeq);
  }

  private idx(id: bigint): number {
    return Number(id & (this.count - 1n));
  }
  private getSv(i: number): bigint {
    return this.descs.readBigUInt64LE(i * L.sizeDesc + L.descStateVar);
  }
  private setSv(i: number, v: bigint): void {
    this.descs.writeBigUInt64LE(v, i * L.sizeDesc + L.descStateVar);
  }
  private lpos(i: number): { begin: bigint; next: bigint } {
    const o = i * L.sizeDesc + L.descTextBlkLpos;
    return { begin: this.descs.readBigUInt64LE(o + L.lposBegin), next: this.descs.readBigUInt64LE(o + L.lposNext) };
  }
  private setLpos(i: number, begin: bigint, next: bigint): void {
    const o = i * L.sizeDesc + L.descTextBlkLpos;
    this.descs.writeBigUInt64LE(begin, o + L.lposBegin);
    this.descs.writeBigUInt64LE(next, o + L.lposNext);
  }
  /** desc_read(): the state of `id`, or 'miss' when the slot holds another id. */
  private state(id: bigint): number | 'miss' {
    const v = this.getSv(this.idx(id));
    return (v & DESC_ID_MASK) === id ? Number(v >> DESC_FLAGS_SHIFT) : 'miss';
  }
  private wraps(lpos: bigint): bigint {
    return lpos >> BigInt(this.sizeBits);
  }
  /** True when a < b as lpos values that may have wrapped (kernel: (b − a) − 1 < SIZE … here any forward distance < 2^63). */
  private before(a: bigint, b: bigint): boolean {
    const d = (b - a) & U64;
    return d !== 0n && d < 1n << 63n;
  }

  /** data_push_tail(): invalidate blocks until the tail is at or past `lpos`. */
  private dataPushTail(lpos: bigint): boolean {
    if (lpos & 1n) return true; // data-less
    while (this.before(this.tailLpos, lpos)) {
      const blkId = this.data.readBigUInt64LE(Number(this.tailLpos & (this.size - 1n)));
      const id = blkId & DESC_ID_MASK;
      const st = this.state(id);
      const i = this.idx(id);
      if (st !== DESC_STATE.finalized && st !== DESC_STATE.reusable) return false;
      const { begin, next } = this.lpos(i);
      if (begin !== this.tailLpos) return false;
      if (st === DESC_STATE.finalized) this.setSv(i, sv(id, DESC_STATE.reusable));
      this.tailLpos = next;
    }
    return true;
  }

  /** desc_push_tail(): make the tail descriptor reusable, drop its data, advance the tail id. */
  private descPushTail(tailId: bigint): boolean {
    const st = this.state(tailId);
    if (st === 'miss') return true;
    if (st === DESC_STATE.reserved || st === DESC_STATE.committed) return false;
    const i = this.idx(tailId);
    if (st === DESC_STATE.finalized) this.setSv(i, sv(tailId, DESC_STATE.reusable));
    if (!this.dataPushTail(this.lpos(i).next)) return false;
    const n = this.state((tailId + 1n) & DESC_ID_MASK);
    if (n === DESC_STATE.finalized || n === DESC_STATE.reusable) {
      this.tailId = (tailId + 1n) & DESC_ID_MASK;
      return true;
    }
    return false;
  }

  /** prb_reserve(): a descriptor and a text block; returns the id and where the text goes (-1: data-less). */
  reserve(textLen: number): { id: bigint; textOff: number } | null {
    const id = (this.headId + 1n) & DESC_ID_MASK;
    const prevWrap = (id - this.count) & DESC_ID_MASK;
    if (prevWrap === this.tailId && !this.descPushTail(prevWrap)) {
      this.fail++;
      return null;
    }
    this.headId = id;
    const i = this.idx(id);
    this.setSv(i, sv(id, DESC_STATE.reserved));
    const io = i * L.sizeInfo;
    let seq = this.infos.readBigUInt64LE(io + L.infoSeq);
    this.infos.fill(0, io, io + L.sizeInfo);
    seq = seq === 0n && i !== 0 ? BigInt(i) : (seq + this.count) & U64;
    this.infos.writeBigUInt64LE(seq, io + L.infoSeq);
    if (seq > 0n) {
      // desc_make_final() of the previous descriptor: committed → finalized
      const p = (id - 1n) & DESC_ID_MASK;
      if (this.state(p) === DESC_STATE.committed) this.setSv(this.idx(p), sv(p, DESC_STATE.finalized));
    }
    if (textLen === 0) {
      this.setLpos(i, NO_LPOS, NO_LPOS);
      return { id, textOff: -1 };
    }
    const size = BigInt(dataBlockSize(textLen));
    if (size > this.size - BigInt(DATA_BLOCK_ID_SIZE)) throw new VmcoreError('E_INTERNAL', `printk record of ${textLen} bytes does not fit the ring`);
    const begin = this.headLpos;
    let next = (begin + size) & U64;
    if (this.wraps(begin) !== this.wraps(next)) next = (((next >> BigInt(this.sizeBits)) << BigInt(this.sizeBits)) + size) & U64;
    if (!this.dataPushTail((next - this.size) & U64)) {
      this.setLpos(i, FAILED_LPOS, FAILED_LPOS);
      return { id, textOff: -1 };
    }
    this.headLpos = next;
    this.data.writeBigUInt64LE(id, Number(begin & (this.size - 1n)));
    let blk = Number(begin & (this.size - 1n));
    if (this.wraps(begin) !== this.wraps(next)) {
      blk = 0;
      this.data.writeBigUInt64LE(id, 0);
    }
    this.setLpos(i, begin, next);
    return { id, textOff: blk + DATA_BLOCK_ID_SIZE };
  }

  private fillInfo(id: bigint, r: SimLogRecord, textLen: number): void {
    const io = this.idx(id) * L.sizeInfo;
    this.infos.writeBigUInt64LE(r.tsNsec, io + L.infoTsNsec);
    this.infos.writeUInt16LE(textLen, io + L.infoTextLen);
    this.infos[io + L.infoTextLen + 2] = r.facility;
    this.infos[io + L.infoTextLen + 3] = (r.level << 5) | 0x02; // flags: LOG_NEWLINE
    this.infos.writeUInt32LE(r.callerId >>> 0, io + L.infoCallerId);
    if (r.dev) {
      this.infos.write(r.dev.subsystem.slice(0, L.lenSubsystem - 1), io + L.infoDevInfo + L.devSubsystem, 'latin1');
      this.infos.write(r.dev.device.slice(0, L.lenDevice - 1), io + L.infoDevInfo + L.devDevice, 'latin1');
    }
  }

  /** printk of a complete line: reserve, copy, prb_final_commit(). */
  store(r: SimLogRecord): void {
    const text = Buffer.from(r.text, 'latin1');
    const res = this.reserve(text.length);
    if (!res) return;
    if (res.textOff >= 0) text.copy(this.data, res.textOff);
    this.fillInfo(res.id, r, res.textOff >= 0 ? text.length : 0);
    this.setSv(this.idx(res.id), sv(res.id, DESC_STATE.finalized));
  }

  /** A record whose writer was stopped after reserving and copying part of the text. Returns its seq. */
  storePartial(r: SimLogRecord): number {
    const text = Buffer.from(r.text, 'latin1');
    const res = this.reserve(text.length)!;
    if (res.textOff >= 0) text.copy(this.data, res.textOff, 0, Math.floor(text.length / 2));
    return Number(this.infos.readBigUInt64LE(this.idx(res.id) * L.sizeInfo + L.infoSeq));
  }

  /** prb_first_valid_seq(): the seq of the oldest finalized record. */
  firstValidSeq(): number {
    for (let id = this.tailId; ; id = (id + 1n) & DESC_ID_MASK) {
      const st = this.state(id);
      if (st === DESC_STATE.finalized || st === DESC_STATE.committed) return Number(this.infos.readBigUInt64LE(this.idx(id) * L.sizeInfo + L.infoSeq));
      if (id === this.headId) return 0;
    }
  }

  /** struct printk_ringbuffer with its arrays at the given addresses. */
  encodeHeader(descs: bigint, infos: bigint, text: bigint): Buffer {
    const b = Buffer.alloc(L.sizePrintkRingbuffer);
    const d = L.rbDescRing;
    b.writeUInt32LE(this.countBits, d + L.drCountBits);
    b.writeBigUInt64LE(descs, d + L.drDescs);
    b.writeBigUInt64LE(infos, d + L.drInfos);
    b.writeBigUInt64LE(this.headId, d + L.drHeadId + L.atomicCounter);
    b.writeBigUInt64LE(this.tailId, d + L.drTailId + L.atomicCounter);
    const t = L.rbTextDataRing;
    b.writeUInt32LE(this.sizeBits, t + L.dataSizeBits);
    b.writeBigUInt64LE(text, t + L.dataData);
    b.writeBigUInt64LE(this.headLpos, t + L.dataHeadLpos + L.atomicCounter);
    b.writeBigUInt64LE(this.tailLpos, t + L.dataTailLpos + L.atomicCounter);
    b.writeBigUInt64LE(this.fail, L.rbFail);
    return b;
  }
}

function sv(id: bigint, state: number): bigint {
  return (BigInt(state) << DESC_FLAGS_SHIFT) | id;
}

// ---------------------------------------------------------------------------------------------
// The 3.5–5.9 log_buf, replayed (kernel/printk/printk.c log_store, log_make_free_space).

/** A variable-length record log_buf. */
export class LogBufSim {
  readonly buf: Buffer;
  firstIdx = 0;
  nextIdx = 0;
  firstSeq = 0;
  nextSeq = 0;
  constructor(readonly len: number) {
    this.buf = Buffer.alloc(len);
  }
  private recLen(idx: number): number {
    return this.buf.readUInt16LE(idx + PL.len);
  }
  private next(idx: number): number {
    const l = this.recLen(idx);
    return l === 0 ? this.recLen(0) : idx + l;
  }
  private hasSpace(size: number, empty: boolean): boolean {
    const free = this.nextIdx > this.firstIdx || empty ? Math.max(this.len - this.nextIdx, this.firstIdx) : this.firstIdx - this.nextIdx;
    return free >= size + PL.size; // room for an empty header that marks the wrap
  }
  store(r: SimLogRecord): void {
    const text = Buffer.from(r.text, 'latin1');
    const size = (PL.size + text.length + LOG_ALIGN_X86_64 - 1) & ~(LOG_ALIGN_X86_64 - 1);
    while (this.firstSeq < this.nextSeq && !this.hasSpace(size, false)) {
      this.firstIdx = this.next(this.firstIdx);
      this.firstSeq++;
    }
    if (!this.hasSpace(size, this.firstSeq === this.nextSeq)) return;
    if (this.nextIdx + size + PL.size > this.len) {
      this.buf.fill(0, this.nextIdx, this.nextIdx + PL.size);
      this.nextIdx = 0;
    }
    const o = this.nextIdx;
    this.buf.fill(0, o, o + size);
    this.buf.writeBigUInt64LE(r.tsNsec, o + PL.tsNsec);
    this.buf.writeUInt16LE(size, o + PL.len);
    this.buf.writeUInt16LE(text.length, o + PL.textLen);
    this.buf.writeUInt16LE(0, o + PL.dictLen);
    this.buf[o + PL.dictLen + 2] = r.facility;
    this.buf[o + PL.dictLen + 3] = (r.level << 5) | 0x02;
    text.copy(this.buf, o + PL.size);
    this.nextIdx += size;
    this.nextSeq++;
  }
}

// ---------------------------------------------------------------------------------------------
// The messages.

const KERN = { EMERG: 0, ALERT: 1, CRIT: 2, ERR: 3, WARNING: 4, NOTICE: 5, INFO: 6, DEBUG: 7 } as const;
const CPU_CALLER = 0x80000000;
const mem = (a: number) => '0x' + a.toString(16).padStart(16, '0');
/** The record the panicking CPU writes first; the one after it is left reserved (writePrintk). */
const SYSRQ_CRASH = 'sysrq: Trigger a crash';

/** The bytes a text of `textLen` takes in the lockless data ring: block id, text, 8-aligned. */
function dataBlockSize(textLen: number): number {
  return (textLen + DATA_BLOCK_ID_SIZE + 7) & ~7;
}

/** Who calls printk and when: caller id 0 (the boot CPU's idle task) and a seeded 1–41 µs later by default. */
interface PrintkFrom {
  caller?: number;
  /** Nanoseconds after the previous record. */
  dt?: number;
  dev?: SimLogRecord['dev'];
  facility?: number;
}

/** The log of one boot as it is written: its records and the clock (ns since boot) that stamps them. */
class BootLog {
  readonly records: SimLogRecord[] = [];
  ts = 0n;
  constructor(
    readonly m: PrintkMachine,
    readonly rng: Rng,
  ) {}

  printk(level: number, text: string, o: PrintkFrom = {}): void {
    this.ts += BigInt(o.dt ?? 1000 + this.rng.int(40000));
    this.records.push({ tsNsec: this.ts, level, facility: o.facility ?? 0, callerId: o.caller ?? 0, text, dev: o.dev });
  }

  /** printk at `at` ns, or 1 µs after the previous record when the clock is past `at` already. */
  printkAt(at: bigint, level: number, text: string, callerId: number, dev: SimLogRecord['dev']): void {
    this.ts = at > this.ts ? at : this.ts + 1000n;
    this.records.push({ tsNsec: this.ts, level, facility: 0, callerId, text, dev });
  }

  /** One record per line, each from `o`'s caller. */
  lines(level: number, texts: readonly string[], o?: PrintkFrom): void {
    for (const t of texts) this.printk(level, t, o);
  }
}

/**
 * The log of one boot: boot messages shaped by the machine (e820 map, zones, CPUs, crashkernel),
 * runtime messages until the text written is about twice `bufBytes` (so the buffer wraps), then
 * the sysrq crash and panic with its call trace and user register dump.
 */
export function generateLog(m: PrintkMachine, rng: Rng, bufBytes: number): SimLogRecord[] {
  const log = new BootLog(m, rng);
  // setup_arch(), then start_kernel()'s early init on CPU 0 (caller 0)
  logBanner(log);
  logE820(log);
  const mhz = logHypervisor(log);
  logFirmwareTables(log);
  logZones(log);
  logSmpConfig(log);
  logMmInit(log);
  logCoreInit(log);
  logSmpBringup(log, mhz);
  // kernel_init() (pid 1), drivers' kworkers, then user space
  logKernelInit(log);
  logUserspace(log);
  logRuntime(log, bufBytes);
  logPanic(log);
  for (const r of log.records) {
    if (r.text.length > 1000) throw new VmcoreError('E_INTERNAL', 'printk record too long');
  }
  return log.records;
}

function commandLine(m: PrintkMachine): string {
  const crashMb = (m.layout.crashkernel.end - m.layout.crashkernel.start) >> 20;
  return `BOOT_IMAGE=/boot/vmlinuz-${m.profile.osrelease} root=/dev/vda1 ro console=ttyS0,115200 crashkernel=${crashMb}M`;
}

/** The version banner, the command line and the FPU features. */
function logBanner(log: BootLog): void {
  const { osrelease, version } = log.m.profile;
  log.printk(KERN.NOTICE, `Linux version ${osrelease} (builder@sim) (gcc (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) ${version}`, { dt: 0 });
  log.printk(KERN.INFO, `Command line: ${commandLine(log.m)}`);
  for (const [bit, name] of [
    [1, 'x87 floating point registers'],
    [2, 'SSE registers'],
    [4, 'AVX registers'],
  ] as const) {
    log.printk(KERN.INFO, `x86/fpu: Supporting XSAVE feature 0x00${bit}: '${name}'`);
  }
  log.lines(KERN.INFO, [
    `x86/fpu: xstate_offset[2]:  576, xstate_sizes[2]:  256`,
    `x86/fpu: Enabled xstate features 0x7, context size is 832 bytes, using 'standard' format.`,
    `signal: max sigframe size: 1776`,
  ]);
}

/** The BIOS memory map: the machine's RAM ranges, and the gap below 4 GiB as reserved. */
function logE820(log: BootLog): void {
  const L0 = log.m.layout;
  log.lines(KERN.INFO, [
    `BIOS-provided physical RAM map:`,
    `BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable`,
    `BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved`,
    `BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved`,
  ]);
  L0.ram.forEach((r, i) => {
    log.printk(KERN.INFO, `BIOS-e820: [mem ${mem(i === 0 ? 0x100000 : r.start)}-${mem(r.end - 1)}] usable`);
    if (i === 0 && L0.gap) log.printk(KERN.INFO, `BIOS-e820: [mem ${mem(L0.gap.start)}-${mem(L0.gap.end - 1)}] reserved`);
  });
}

/** KVM and its clocks; returns the seeded TSC frequency (MHz) that BogoMIPS come from later. */
function logHypervisor(log: BootLog): number {
  const rng = log.rng;
  log.lines(KERN.INFO, [
    `NX (Execute Disable) protection: active`,
    `SMBIOS 2.8 present.`,
    `DMI: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014`,
    `Hypervisor detected: KVM`,
    `kvm-clock: Using msrs 4b564d01 and 4b564d00`,
  ]);
  log.printk(KERN.INFO, `kvm-clock: using sched offset of ${2000000000 + rng.int(900000000)} cycles`);
  log.printk(KERN.INFO, `clocksource: kvm-clock: mask: 0xffffffffffffffff max_cycles: 0x1cd42e4dffb, max_idle_ns: 881590591483 ns`);
  const mhz = 2000 + rng.int(1500);
  log.printk(KERN.INFO, `tsc: Detected ${mhz}.${String(rng.int(1000)).padStart(3, '0')} MHz processor`);
  return mhz;
}

const ACPI_TABLES = [
  'RSDP 0x00000000000F5950 000014 (v00 BOCHS )',
  'RSDT 0x000000007FFE2337 000038 (v01 BOCHS  BXPC     00000001 BXPC 00000001)',
  'FACP 0x000000007FFE2117 0000F4 (v03 BOCHS  BXPC     00000001 BXPC 00000001)',
  'DSDT 0x000000007FFE0040 0020D7 (v01 BOCHS  BXPC     00000001 BXPC 00000001)',
  'FACS 0x000000007FFE0000 000040',
  'APIC 0x000000007FFE220B 000080 (v03 BOCHS  BXPC     00000001 BXPC 00000001)',
  'MCFG 0x000000007FFE22FF 00003C (v01 BOCHS  BXPC     00000001 BXPC 00000001)',
];

/** The last pfn, PAT, the MP table and the ACPI tables. */
function logFirmwareTables(log: BootLog): void {
  const L0 = log.m.layout;
  log.lines(KERN.INFO, [
    `last_pfn = 0x${(L0.ramEnd / L0.pageSize).toString(16)} max_arch_pfn = 0x400000000`,
    `x86/PAT: Configuration [0-7]: WB  WC  UC- UC  WB  WP  UC- WT  `,
    `found SMP MP-table at [mem 0x000f5b90-0x000f5b9f]`,
    `ACPI: Early table checksum verification disabled`,
    ...ACPI_TABLES.map((t) => `ACPI: ${t}`),
  ]);
}

/** One faked NUMA node, crashkernel's reservation, the zones and the node's memory ranges. */
function logZones(log: BootLog): void {
  const L0 = log.m.layout;
  const ramEnd = L0.ramEnd;
  const crashMb = (L0.crashkernel.end - L0.crashkernel.start) >> 20;
  const dma32End = Math.min(ramEnd, 4 * 2 ** 30);
  log.lines(KERN.INFO, [
    `No NUMA configuration found`,
    `Faking a node at [mem 0x0000000000000000-${mem(ramEnd - 1)}]`,
    `Reserving ${crashMb}MB of memory at ${L0.crashkernel.start >> 20}MB for crashkernel (System RAM: ${L0.memBytes >> 20}MB)`,
    `Zone ranges:`,
    `  DMA      [mem 0x0000000000001000-0x0000000000ffffff]`,
    `  DMA32    [mem 0x0000000001000000-${mem(dma32End - 1)}]`,
    ramEnd > 4 * 2 ** 30 ? `  Normal   [mem 0x0000000100000000-${mem(ramEnd - 1)}]` : `  Normal   empty`,
    `Movable zone start for each node`,
    `Early memory node ranges`,
    `  node   0: [mem 0x0000000000001000-0x000000000009efff]`,
    ...L0.ram.map((r, i) => `  node   0: [mem ${mem(i === 0 ? 0x100000 : r.start)}-${mem(r.end - 1)}]`),
    `Initmem setup node 0 [mem 0x0000000000001000-${mem(ramEnd - 1)}]`,
    `On node 0, zone DMA: 1 pages in unavailable ranges`,
    `On node 0, zone DMA: 97 pages in unavailable ranges`,
  ]);
}

/** The APICs, the possible CPUs and the per-CPU areas. */
function logSmpConfig(log: BootLog): void {
  const cpus = log.m.opts.cpus;
  log.lines(KERN.INFO, [
    `ACPI: PM-Timer IO Port: 0x608`,
    `ACPI: LAPIC_NMI (acpi_id[0xff] dfl dfl lint[0x1])`,
    `IOAPIC[0]: apic_id 0, version 32, address 0xfec00000, GSI 0-23`,
    `smpboot: Allowing ${cpus} CPUs, 0 hotplug CPUs`,
    `[mem 0xc0000000-0xfed1bfff] available for PCI devices`,
    `Booting paravirtualized kernel on KVM`,
    `setup_percpu: NR_CPUS:8192 nr_cpumask_bits:${cpus} nr_cpu_ids:${cpus} nr_node_ids:1`,
    `percpu: Embedded 61 pages/cpu s212992 r8192 d28672 u262144`,
  ]);
}

/** The zonelists, the command line again, the hash tables and the memory summary (seeded reserved size). */
function logMmInit(log: BootLog): void {
  const { m, rng } = log;
  const L0 = m.layout;
  const memKiB = L0.memBytes / 1024;
  const totalPages = Math.floor(L0.memBytes / L0.pageSize) - 8000 - rng.int(2000);
  log.printk(KERN.INFO, `Built 1 zonelists, mobility grouping on.  Total pages: ${totalPages}`);
  log.printk(KERN.NOTICE, `Kernel command line: ${commandLine(m)}`);
  log.lines(KERN.INFO, [
    `Unknown kernel command line parameters "BOOT_IMAGE=/boot/vmlinuz-${m.profile.osrelease}", will be passed to user space.`,
    `Dentry cache hash table entries: 65536 (order: 7, 524288 bytes, linear)`,
    `Inode-cache hash table entries: 32768 (order: 6, 262144 bytes, linear)`,
    `mem auto-init: stack:off, heap alloc:on, heap free:off`,
  ]);
  const reservedK = 60000 + rng.int(30000);
  log.printk(KERN.INFO, `Memory: ${memKiB - reservedK}K/${memKiB}K available (16393K kernel code, 2754K rwdata, 6300K rodata, 2780K init, 5284K bss, ${reservedK}K reserved, 0K cma-reserved)`);
}

/** SLUB, ftrace, RCU, IRQs, the console, ACPI and the early TSC clocksource. */
function logCoreInit(log: BootLog): void {
  const cpus = log.m.opts.cpus;
  log.lines(KERN.INFO, [
    `SLUB: HWalign=64, Order=0-3, MinObjects=0, CPUs=${cpus}, Nodes=1`,
    `ftrace: allocating 45663 entries in 179 pages`,
    `ftrace: allocated 179 pages with 5 groups`,
    `Dynamic Preempt: voluntary`,
    `rcu: Preemptible hierarchical RCU implementation.`,
    `rcu: \tRCU restricting CPUs from NR_CPUS=8192 to nr_cpu_ids=${cpus}.`,
    `NR_IRQS: 524544, nr_irqs: 440, preallocated irqs: 16`,
    `Console: colour VGA+ 80x25`,
    `printk: console [ttyS0] enabled`,
    `ACPI: Core revision 20220331`,
    `APIC: Switch to symmetric I/O mode setup`,
  ]);
  log.printk(KERN.INFO, `clocksource: tsc-early: mask: 0xffffffffffffffff max_cycles: 0x2867${log.rng.int(0xffff).toString(16)}, max_idle_ns: 440795318347 ns`);
}

/** Delay calibration, CPU bugs and mitigations, and the secondary CPUs coming up. */
function logSmpBringup(log: BootLog, mhz: number): void {
  const cpus = log.m.opts.cpus;
  log.lines(KERN.INFO, [
    `Calibrating delay loop (skipped) preset value.. ${(mhz * 2).toFixed(2)} BogoMIPS (lpj=${mhz * 4000})`,
    `pid_max: default: 32768 minimum: 301`,
    `LSM: Security Framework initializing`,
    `Mount-cache hash table entries: 1024 (order: 1, 8192 bytes, linear)`,
    `Spectre V1 : Mitigation: usercopy/swapgs barriers and __user pointer sanitization`,
    `Spectre V2 : Mitigation: Retpolines`,
    `smpboot: CPU0: Intel Core Processor (Skylake, IBRS) (family: 0x6, model: 0x5e, stepping: 0x3)`,
    `Performance Events: unsupported p6 CPU model 94 no PMU driver, software events only.`,
    `rcu: Hierarchical SRCU implementation.`,
    `smp: Bringing up secondary CPUs ...`,
    `x86: Booting SMP configuration:`,
    `.... node  #0, CPUs:    ${Array.from({ length: cpus - 1 }, (_, i) => ` #${i + 1}`).join('')}`,
    `smp: Brought up 1 node, ${cpus} CPU${cpus > 1 ? 's' : ''}`,
    `smpboot: Max logical packages: ${cpus}`,
    `smpboot: Total of ${cpus} processors activated (${(mhz * 2 * cpus).toFixed(2)} BogoMIPS)`,
  ]);
}

const INIT_PID = 1;

/** kernel_init()'s subsystems up to PCI enumeration. */
const EARLY_INIT_MESSAGES = [
  'devtmpfs: initialized',
  'x86/mm: Memory block size: 128MB',
  'clocksource: jiffies: mask: 0xffffffff max_cycles: 0xffffffff, max_idle_ns: 7645041785100000 ns',
  'futex hash table entries: 512 (order: 3, 32768 bytes, linear)',
  'NET: Registered PF_NETLINK/PF_ROUTE protocol family',
  'audit: initializing netlink subsys (disabled)',
  'thermal_sys: Registered thermal governor \'step_wise\'',
  'cpuidle: using governor menu',
  'PCI: MMCONFIG for domain 0000 [bus 00-ff] at [mem 0xb0000000-0xbfffffff] (base 0xb0000000)',
  'PCI: Using configuration type 1 for base access',
  'HugeTLB: registered 2.00 MiB page size, pre-allocated 0 pages',
  'ACPI: Added _OSI(Module Device)',
  'ACPI: Interpreter enabled',
  'ACPI: PM: (supports S0 S3 S4 S5)',
  'ACPI: Using IOAPIC for interrupt routing',
  'PCI host bridge to bus 0000:00',
  'pci_bus 0000:00: root bus resource [io  0x0000-0x0cf7 window]',
  'pci_bus 0000:00: root bus resource [mem 0x000a0000-0x000bffff window]',
];

/** The PCI functions found: bus/device/function and what pci_setup_device() says of each. */
const PCI_DEVICES = [
  ['0000:00:00.0', '[8086:29c0] type 00 class 0x060000'],
  ['0000:00:01.0', '[1af4:1041] type 00 class 0x020000'],
  ['0000:00:02.0', '[1af4:1042] type 00 class 0x010000'],
  ['0000:00:1f.0', '[8086:2918] type 00 class 0x060100'],
  ['0000:00:1f.2', '[8086:2922] type 00 class 0x010601'],
  ['0000:00:1f.3', '[8086:2930] type 00 class 0x0c0500'],
] as const;

/** kernel_init() after PCI: the rest of the initcalls, then freeing init memory and running /init. */
const LATE_INIT_MESSAGES = [
  'iommu: Default domain type: Translated ',
  'SCSI subsystem initialized',
  'NetLabel: Initializing',
  'clocksource: Switched to clocksource kvm-clock',
  'NET: Registered PF_INET protocol family',
  'TCP established hash table entries: 4096 (order: 3, 32768 bytes, linear)',
  'TCP: Hash tables configured (established 4096 bind 4096)',
  'Trying to unpack rootfs image as initramfs...',
  'Initialise system trusted keyrings',
  'workingset: timestamp_bits=36 max_order=17 bucket_order=0',
  'Serial: 8250/16550 driver, 4 ports, IRQ sharing enabled',
  '00:04: ttyS0 at I/O 0x3f8 (irq = 4, base_baud = 115200) is a 16550A',
  'Freeing initrd memory: 30844K',
  'i8042: PNP: PS/2 Controller [PNP0303:KBD,PNP0f13:MOU] at 0x60,0x64 irq 1,12',
  'rtc_cmos 00:05: RTC can wake from S4',
  'NET: Registered PF_INET6 protocol family',
  'Segment Routing with IPv6',
  'sched_clock: Marking stable (1102634528, 2416873)->(1111263019, -6211618)',
  'registered taskstats version 1',
  'Loading compiled-in X.509 certificates',
  'Key type .fscrypt registered',
  'PM:   Magic number: 4:91:620',
  'Freeing unused decrypted memory: 2036K',
  'Freeing unused kernel image (initmem) memory: 2780K',
  'Write protecting the kernel read-only data: 26624k',
  'Run /init as init process',
];

/** pid 1's initcalls, the PCI devices (with their dev_printk device info) and /init. */
function logKernelInit(log: BootLog): void {
  const init = { caller: INIT_PID };
  log.lines(KERN.INFO, EARLY_INIT_MESSAGES, init);
  for (const [bdf, what] of PCI_DEVICES) log.printk(KERN.INFO, `pci ${bdf}: ${what}`, { caller: INIT_PID, dev: { subsystem: 'pci', device: `+pci:${bdf}` } });
  log.lines(KERN.INFO, LATE_INIT_MESSAGES, init);
  // A multi-line record (5.10+ stores a printk with embedded newlines as one record).
  log.printk(KERN.INFO, 'Kernel/User page tables isolation: enabled\nmitigations: auto', init);
}

/** The disks and the NIC probed by kworkers, the root file system, systemd and AppArmor. */
function logUserspace(log: BootLog): void {
  const { m, rng } = log;
  const kworker = () => 40 + rng.int(200);
  log.printk(KERN.NOTICE, `virtio_blk virtio1: [vda] 41943040 512-byte logical blocks (21.5 GB/20.0 GiB)`, {
    caller: kworker(),
    dev: { subsystem: 'virtio', device: '+virtio:virtio1' },
  });
  log.printk(KERN.INFO, ' vda: vda1 vda14 vda15', { caller: kworker() });
  log.printk(KERN.INFO, `virtio_net virtio0 enp1s0: renamed from eth0`, { caller: 150 + rng.int(100), dev: { subsystem: 'virtio', device: '+virtio:virtio0' } });
  log.printk(KERN.INFO, `EXT4-fs (vda1): mounted filesystem with ordered data mode. Quota mode: none.`, { caller: INIT_PID });
  // systemd writes through /dev/kmsg: facility LOG_DAEMON
  const systemd = { caller: INIT_PID, facility: 3 };
  log.printk(KERN.INFO, `systemd[1]: systemd 252.6-1 running in system mode (+PAM +AUDIT +SELINUX +APPARMOR +IMA +SMACK +SECCOMP +GCRYPT)`, systemd);
  log.printk(KERN.INFO, `systemd[1]: Detected virtualization kvm.`, systemd);
  log.printk(KERN.INFO, `systemd[1]: Hostname set to <sim-${m.opts.seed}>.`, systemd);
  log.printk(KERN.INFO, `EXT4-fs (vda1): re-mounted. Quota mode: none.`, { caller: 280 + rng.int(40) });
  log.printk(KERN.INFO, `audit: type=1400 audit(${m.crashTime - 90000}.512:2): apparmor="STATUS" operation="profile_load" profile="unconfined" name="lsb_release" pid=${500 + rng.int(100)} comm="apparmor_parser"`, { caller: 500 + rng.int(100) });
}

/** What the runtime messages read and carry on from one to the next. */
interface RuntimeState {
  readonly m: PrintkMachine;
  readonly rng: Rng;
  /** Seconds since boot the machine ran, and now. */
  readonly uptime: number;
  t: number;
  /** The task this message is printed from (the default caller). */
  pid: number;
  auditSerial: number;
  usbDev: number;
  port: number;
}

/** A runtime message: its text, and level and caller where they are not KERN_INFO and the task. */
type RuntimeMessage = (s: RuntimeState) => { text: string; level?: number; caller?: number; dev?: SimLogRecord['dev'] };

const auditDenied: RuntimeMessage = (s) => ({
  text: `audit: type=1400 audit(${s.m.crashTime - s.uptime + Math.floor(s.t)}.${String(s.rng.int(1000)).padStart(3, '0')}:${s.auditSerial++}): apparmor="DENIED" operation="open" profile="/usr/sbin/cupsd" name="/etc/ssl/openssl.cnf" pid=${s.pid} comm="cupsd" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`,
});

/** The recurring messages, each equally likely (AppArmor denials three times over); interrupts print from a CPU. */
const RUNTIME_MESSAGES: readonly RuntimeMessage[] = [
  auditDenied,
  auditDenied,
  auditDenied,
  ({ rng, m }) => ({
    text: `perf: interrupt took too long (${2500 + rng.int(3000)} > ${2500 + rng.int(500)}), lowering kernel.perf_event_max_sample_rate to ${40000 + rng.int(40000)}`,
    caller: CPU_CALLER | rng.int(m.opts.cpus),
    level: KERN.WARNING,
  }),
  ({ rng, m }) => ({
    text: `TCP: request_sock_TCP: Possible SYN flooding on port ${[80, 443, 8080][rng.int(3)]}. Sending cookies.  Check SNMP counters.`,
    caller: CPU_CALLER | rng.int(m.opts.cpus),
  }),
  (s) => ({
    text: `usb 1-${1 + s.rng.int(4)}: new high-speed USB device number ${s.usbDev++} using xhci_hcd`,
    caller: 30 + s.rng.int(60),
    dev: { subsystem: 'usb', device: `+usb:1-${1 + s.rng.int(4)}` },
  }),
  (s) => {
    const text = `docker0: port ${s.port}(veth${(s.rng.u32() >>> 4).toString(16).padStart(7, '0')}) entered ${s.rng.chance(0.5) ? 'blocking' : 'forwarding'} state`;
    s.port = (s.port % 8) + 1;
    return { text };
  },
  ({ rng, m }) => ({ text: `kauditd_printk_skb: ${1 + rng.int(40)} callbacks suppressed`, caller: CPU_CALLER | rng.int(m.opts.cpus) }),
  ({ rng }) => ({ text: `loop${rng.int(8)}: detected capacity change from 0 to ${8 * (1 + rng.int(100000))}` }),
  ({ rng }) => ({
    text: `EXT4-fs (vda1): ${rng.chance(0.5) ? 'resizing filesystem' : 'orphan cleanup on readonly fs'} took ${rng.int(900)} ms`,
    level: KERN.NOTICE,
  }),
];

/** Recurring messages, spread over the uptime, until the buffer has wrapped about twice over. */
function logRuntime(log: BootLog, bufBytes: number): void {
  const { m, rng } = log;
  let blockBytes = log.records.reduce((a, r) => a + dataBlockSize(r.text.length), 0);
  const auditSerial = 100 + rng.int(50);
  const s: RuntimeState = { m, rng, uptime: 3600 + rng.int(20000), t: 30, pid: 0, auditSerial, usbDev: 2, port: 1 };
  const target = 2 * bufBytes;
  const runtimeCount = Math.max(1, Math.round(target / 110));
  const step = (s.uptime - s.t) / runtimeCount;
  while (blockBytes < target) {
    s.t += step * (0.5 + rng.float());
    const at = BigInt(Math.floor(s.t * 1e9)) + BigInt(rng.int(1000000));
    s.pid = 1000 + rng.int(30000);
    const msg = RUNTIME_MESSAGES[rng.int(RUNTIME_MESSAGES.length)]!(s);
    log.printkAt(at, msg.level ?? KERN.INFO, msg.text, (msg.caller ?? s.pid) >>> 0, msg.dev);
    blockBytes += dataBlockSize(msg.text.length);
  }
}

const PANIC_CALL_TRACE = [
  'dump_stack_lvl+0x44/0x5c',
  'panic+0x107/0x2a3',
  'sysrq_handle_crash+0x16/0x20',
  '__handle_sysrq.cold+0x43/0x11b',
  'write_sysrq_trigger+0x24/0x40',
  'proc_reg_write+0x51/0x90',
  'vfs_write+0xc3/0x3a0',
  'ksys_write+0x5f/0xe0',
  'do_syscall_64+0x3b/0x90',
  'entry_SYSCALL_64_after_hwframe+0x63/0xcd',
];

/** printk from the panicking task, 2–32 µs after the previous record. */
type PanicPrintk = (level: number, text: string) => void;

/** The crash: echo c > /proc/sysrq-trigger on CPU 0 (pid as in the CPU 0 NT_PRSTATUS note). */
function logPanic(log: BootLog): void {
  const { m, rng } = log;
  const crashPid = 1000 + (hash32(m.opts.seed, 0) % 30000);
  const oneCpu = m.opts.cpus > 1 ? CPU_CALLER | 1 : crashPid + 1;
  const p: PanicPrintk = (level, text) => log.printk(level, text, { caller: crashPid, dt: 2000 + rng.int(30000) });
  log.ts += 5_000_000_000n + BigInt(rng.int(1e9));
  p(KERN.INFO, SYSRQ_CRASH);
  // CPU 1 is inside printk when CPU 0 panics; the NMI stops it before it commits this record.
  log.printk(KERN.WARNING, `perf: interrupt took too long (${2500 + rng.int(3000)} > 2500), lowering kernel.perf_event_max_sample_rate to ${40000 + rng.int(40000)}`, { caller: oneCpu, dt: 700 });
  p(KERN.EMERG, 'Kernel panic - not syncing: sysrq triggered crash');
  p(KERN.WARNING, `CPU: 0 PID: ${crashPid} Comm: bash Kdump: loaded Not tainted ${m.profile.osrelease} #1`);
  p(KERN.WARNING, 'Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014');
  p(KERN.WARNING, 'Call Trace:');
  p(KERN.WARNING, ' <TASK>');
  for (const f of PANIC_CALL_TRACE) p(KERN.WARNING, ` ${f}`);
  logUserRegisters(rng, p);
  p(KERN.WARNING, ' </TASK>');
}

/** The user-space registers of the write(2) that triggered the crash (seeded addresses in a libc). */
function logUserRegisters(rng: Rng, p: PanicPrintk): void {
  const r64 = () => (BigInt(rng.u32()) << 16n) | BigInt(rng.u32() & 0xffff);
  const uaddr = (0x7f00n << 32n) | (r64() & 0xffffffffffn);
  const reg = (v: bigint) => v.toString(16).padStart(16, '0');
  p(KERN.WARNING, `RIP: 0033:0x${uaddr.toString(16)}`);
  p(KERN.WARNING, 'Code: 10 00 f7 d8 64 89 02 48 c7 c0 ff ff ff ff eb b7 0f 1f 00 f3 0f 1e fa 64 8b 04 25 18 00 00 00 85 c0 75 10 b8 01 00 00 00 0f 05 <48> 3d 00 f0 ff ff 77 51 c3 48 83 ec 28 48 89 54 24 18 48 89 74 24');
  p(KERN.WARNING, `RSP: 002b:${reg((0x7ffdn << 32n) | (r64() & 0xfffffff0n))} EFLAGS: 00000246 ORIG_RAX: 0000000000000001`);
  p(KERN.WARNING, `RAX: ffffffffffffffda RBX: 0000000000000002 RCX: ${reg(uaddr)}`);
  p(KERN.WARNING, `RDX: 0000000000000002 RSI: ${reg((0x55n << 40n) | (r64() & 0xfffffffff0n))} RDI: 0000000000000001`);
  p(KERN.WARNING, `RBP: ${reg((0x55n << 40n) | (r64() & 0xfffffffff0n))} R08: 0000000000000000 R09: ${reg(uaddr + 0x8a000n)}`);
  p(KERN.WARNING, `R10: ${reg(uaddr + 0x89f00n)} R11: 0000000000000246 R12: 0000000000000002`);
  p(KERN.WARNING, `R13: ${reg(uaddr + 0xc6d49n)} R14: 0000000000000002 R15: ${reg(uaddr + 0xc1fa9n)}`);
}
