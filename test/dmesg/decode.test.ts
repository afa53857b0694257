/**
 * The decoders against ring buffers built in memory by the simulator's writers, then damaged
 * on purpose: every descriptor state, data-less and impossible blocks, truncated text, bad
 * pointers and limits. (test/dmesg/image.test.ts checks whole simulated dumps and makedumpfile.)
 */
import { describe, expect, it } from 'vitest';
import { VmcoreError, hex } from '../../src/errors.js';
import { decodeKernelLog, formatKernelLog, formatRecord, kernelLogJson, summariseKernelLog, type KernelVirtReader } from '../../src/dmesg/index.js';
import { DESC_FLAGS_SHIFT, DESC_STATE, FAILED_LPOS, NO_LPOS, PRB_KEYS, PRB_LAYOUT_X86_64 as L, PRINTK_LOG_X86_64 as PL } from '../../src/dmesg/layout.js';
import { LogBufSim, PrbSim, type SimLogRecord } from '../../src/sim/printk.js';
import { parseVmcoreinfo } from '../../src/vmcoreinfo/parse.js';

const PRB = 0xffffffff82000000n;
const RB = 0xffffffff82000100n;
const DESCS = 0xffff888001000000n;
const INFOS = 0xffff888002000000n;
const TEXT = 0xffff888003000000n;

/** Kernel memory made of a few regions; anything else is unmapped. */
function fakeMemory(regions: Array<[bigint, Uint8Array]>): KernelVirtReader {
  return {
    readVirt(va, len) {
      for (const [base, bytes] of regions) {
        if (va >= base && va + BigInt(len) <= base + BigInt(bytes.length)) return bytes.slice(Number(va - base), Number(va - base) + len);
      }
      throw new VmcoreError('E_ADDRXLAT', `${hex(va)}: not mapped (PGD entry not present)`, { address: va });
    },
  };
}

function rec(i: number, extra = ''): SimLogRecord {
  return { tsNsec: BigInt(i) * 1_234_567_891n, level: i % 8, facility: 0, callerId: i % 3 ? 100 + i : 0x80000000 | (i % 4), text: `message number ${i}${extra}` };
}

function lockless(rb: PrbSim, prbTarget = RB) {
  const ptr = Buffer.alloc(8);
  ptr.writeBigUInt64LE(prbTarget);
  const mem = fakeMemory([
    [PRB, ptr],
    [RB, rb.encodeHeader(DESCS, INFOS, TEXT)],
    [DESCS, rb.descs],
    [INFOS, rb.infos],
    [TEXT, rb.data],
  ]);
  const vi = parseVmcoreinfo([`OSRELEASE=6.0.0`, `SYMBOL(prb)=${PRB.toString(16)}`, ...PRB_KEYS.map(([f, k]) => `${k}=${L[f]}`)].join('\n') + '\n');
  return { mem, vi };
}

/** A 16-descriptor, 512-byte ring after 40 records: both rings have wrapped. */
function wrapped(n = 40): { rb: PrbSim; recs: SimLogRecord[] } {
  const rb = new PrbSim(4, 9);
  const recs: SimLogRecord[] = [];
  for (let i = 0; i < n; i++) {
    recs.push(rec(i, i % 5 === 0 ? ' with a longer tail to vary block sizes' : ''));
    rb.store(recs[i]!);
  }
  return { rb, recs };
}

const setState = (rb: PrbSim, slot: number, state: number) => {
  const sv = rb.descs.readBigUInt64LE(slot * L.sizeDesc);
  rb.descs.writeBigUInt64LE((sv & ((1n << 62n) - 1n)) | (BigInt(state) << DESC_FLAGS_SHIFT), slot * L.sizeDesc);
};
const slotOfSeq = (seq: number) => seq % 16;

describe('lockless ring buffer', () => {
  it('reads the surviving records in sequence order and counts the overwritten ones', () => {
    const { rb, recs } = wrapped();
    const { mem, vi } = lockless(rb);
    const log = decodeKernelLog(mem, vi);
    expect(log.format).toBe('lockless');
    expect(log.buffer).toEqual({ address: RB, textBytes: 512, descriptors: 16 });
    const first = log.records[0]!.seq!;
    expect(first).toBeGreaterThan(20);
    expect(log.overwritten).toBe(first);
    expect(log.records.map((r) => r.seq)).toEqual(Array.from({ length: 40 - first }, (_, i) => first + i));
    for (const r of log.records) {
      const want = recs[r.seq!]!;
      expect(Buffer.from(r.text).toString('latin1')).toBe(want.text);
      expect(r.tsNsec).toBe(want.tsNsec);
      expect(r.level).toBe(want.level);
      expect(r.callerId).toBe(want.callerId >>> 0);
      expect(r.state).toBe('finalized');
    }
    expect(log.skipped).toEqual([]);
    expect(log.dropped).toBe(0);
    // at least one record sits in a block that wrapped to the start of the buffer
    expect(summariseKernelLog(log)).toMatch(/^\d+ records \(seq \d+\.\.39\) from the lockless printk ring buffer \(512 bytes of text\); \d+ earlier records overwritten$/);
  });

  it('prints committed records, skips reserved ones, and says which', () => {
    const { rb } = wrapped();
    setState(rb, slotOfSeq(39), DESC_STATE.committed);
    setState(rb, slotOfSeq(37), DESC_STATE.reserved);
    const { mem, vi } = lockless(rb);
    const log = decodeKernelLog(mem, vi);
    expect(log.records.at(-1)!.state).toBe('committed');
    expect(log.records.map((r) => r.seq)).not.toContain(37);
    expect(log.skipped).toEqual([{ seq: 37, id: expect.stringMatching(/^0x/), reason: 'reserved' }]);
    expect(summariseKernelLog(log)).toContain('1 reserved (seq 37) not shown');
  });

  it('a writer that reserved and never committed leaves the record out (storePartial)', () => {
    const rb = new PrbSim(5, 10);
    for (let i = 0; i < 5; i++) rb.store(rec(i));
    const seq = rb.storePartial(rec(5));
    rb.store(rec(6));
    const log = decodeKernelLog(...(Object.values(lockless(rb)) as [KernelVirtReader, ReturnType<typeof parseVmcoreinfo>]));
    expect(seq).toBe(5);
    expect(log.records.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 6]);
    expect(log.skipped.map((s) => [s.seq, s.reason])).toEqual([[5, 'reserved']]);
    expect(log.overwritten).toBe(0);
  });

  it('recycled descriptors inside the window, data-less, empty, impossible and overwritten blocks', () => {
    const { rb } = wrapped();
    const lpos = (seq: number, begin: bigint, next: bigint) => {
      const o = slotOfSeq(seq) * L.sizeDesc + L.descTextBlkLpos;
      rb.descs.writeBigUInt64LE(begin, o);
      rb.descs.writeBigUInt64LE(next, o + 8);
    };
    setState(rb, slotOfSeq(38), DESC_STATE.reusable);
    lpos(37, FAILED_LPOS, FAILED_LPOS);
    lpos(36, NO_LPOS, NO_LPOS);
    const o35 = slotOfSeq(35) * L.sizeDesc + L.descTextBlkLpos;
    lpos(35, rb.descs.readBigUInt64LE(o35) + 3n, rb.descs.readBigUInt64LE(o35 + 8));
    // seq 34's block now names another descriptor
    const b34 = Number(rb.descs.readBigUInt64LE(slotOfSeq(34) * L.sizeDesc + L.descTextBlkLpos) & 511n);
    rb.data.writeBigUInt64LE(12345n, b34);
    const { mem, vi } = lockless(rb);
    const log = decodeKernelLog(mem, vi);
    const bySeq = new Map(log.records.map((r) => [r.seq, r]));
    expect(bySeq.get(36)!.text.length).toBe(0);
    expect(formatRecord(bySeq.get(36)!)).toMatch(/^\[ {3}44\.\d{6}\] \n$/);
    expect(log.skipped.map((s) => [s.seq, s.reason]).sort()).toEqual(
      [
        [34, 'data_overwritten'],
        [35, 'bad_lpos'],
        [37, 'no_data'],
        [38, 'reusable'],
      ].sort(),
    );
  });

  it('a text_len beyond its block is cut to the block and flagged', () => {
    const { rb } = wrapped();
    rb.infos.writeUInt16LE(4000, slotOfSeq(39) * L.sizeInfo + L.infoTextLen);
    const log = decodeKernelLog(...(Object.values(lockless(rb)) as [KernelVirtReader, ReturnType<typeof parseVmcoreinfo>]));
    const last = log.records.at(-1)!;
    expect(last.truncated).toBe(true);
    expect(Buffer.from(last.text).toString('latin1')).toMatch(/^message number 39/);
  });

  it('renders embedded newlines indented and non-printable bytes as \\xNN, like makedumpfile', () => {
    const r = { seq: 1, tsNsec: 12_345_678_901n, level: 6, facility: 0, callerId: 1, text: Buffer.from('first\nsecond\x01\tend\xff', 'latin1') };
    expect(formatRecord(r)).toBe('[   12.345678] first\n               second\\x01\tend\\xff\n');
    expect(formatRecord({ ...r, tsNsec: 123456_000_001_000n })).toBe('[123456.000001] first\n                second\\x01\tend\\xff\n');
  });

  it('bad pointers: one error naming the address', () => {
    const { rb } = wrapped();
    const { mem, vi } = lockless(rb, 0xffffffffdead0000n);
    expect(() => decodeKernelLog(mem, vi)).toThrow(/dmesg: reading the printk_ringbuffer prb points to at 0xffffffffdead0000: 0xffffffffdead0000: not mapped/);
    const hdr = rb.encodeHeader(0xffffc90000000000n, INFOS, TEXT);
    const ptr = Buffer.alloc(8);
    ptr.writeBigUInt64LE(RB);
    const mem2 = fakeMemory([
      [PRB, ptr],
      [RB, hdr],
      [INFOS, rb.infos],
      [TEXT, rb.data],
    ]);
    let err: VmcoreError | undefined;
    try {
      decodeKernelLog(mem2, vi);
    } catch (e) {
      err = e as VmcoreError;
    }
    expect(err).toBeInstanceOf(VmcoreError);
    expect(err!.message).toMatch(/^dmesg: reading prb->desc_ring\.descs at 0xffffc90000000000: /);
    expect(err!.message).not.toContain('\n');
  });

  it('sizes read from the dump are bounded', () => {
    const { rb } = wrapped();
    const { mem, vi } = lockless(rb);
    const hdr = mem.readVirt(RB, L.sizePrintkRingbuffer);
    Buffer.from(hdr.buffer, hdr.byteOffset).writeUInt32LE(40, L.rbDescRing + L.drCountBits);
    const ptr = Buffer.alloc(8);
    ptr.writeBigUInt64LE(RB);
    const bad = fakeMemory([
      [PRB, ptr],
      [RB, hdr],
    ]);
    expect(() => decodeKernelLog(bad, vi)).toThrow(/count_bits 40 is more than 22/);
  });

  it('a kernel exporting SYMBOL(prb) without the ring keys, or neither buffer: E_VMCOREINFO', () => {
    const { rb } = wrapped();
    const { mem } = lockless(rb);
    const partial = parseVmcoreinfo(`SYMBOL(prb)=${PRB.toString(16)}\nSIZE(printk_ringbuffer)=88\n`);
    expect(() => decodeKernelLog(mem, partial)).toThrow(expect.objectContaining({ code: 'E_VMCOREINFO', message: expect.stringContaining('lacks OFFSET(printk_ringbuffer.desc_ring)') }));
    expect(() => decodeKernelLog(mem, parseVmcoreinfo('OSRELEASE=6.0.0\n'))).toThrow(/neither SYMBOL\(prb\).*nor SYMBOL\(log_buf\)/);
  });

  it('JSON form: caller ids as T/C, tsNsec exact, lost = overwritten + skipped', () => {
    const { rb } = wrapped();
    setState(rb, slotOfSeq(38), DESC_STATE.reserved);
    const log = decodeKernelLog(...(Object.values(lockless(rb)) as [KernelVirtReader, ReturnType<typeof parseVmcoreinfo>]));
    const j = kernelLogJson(log, { path: 'x', format: 'elf', osrelease: '6.0.0' }) as any;
    expect(j.summary.lost).toBe(log.overwritten! + 1);
    expect(j.records.find((r: any) => r.seq === 39)).toMatchObject({ caller: 'C3', tsNsec: (39n * 1_234_567_891n).toString(), text: 'message number 39' });
    expect(j.records.find((r: any) => r.seq === 37)).toMatchObject({ caller: 'T137' });
  });
});

describe('log_buf (3.5–5.9)', () => {
  const LOG_BUF = 0xffffffff82100000n;
  const SYMS = { log_buf: 0xffffffff82000000n, log_buf_len: 0xffffffff82000008n, log_first_idx: 0xffffffff82000010n, log_next_idx: 0xffffffff82000014n };
  function oldRing(lb: LogBufSim) {
    const vars = Buffer.alloc(0x18);
    vars.writeBigUInt64LE(LOG_BUF, 0);
    vars.writeUInt32LE(lb.len, 8);
    vars.writeUInt32LE(lb.firstIdx, 0x10);
    vars.writeUInt32LE(lb.nextIdx, 0x14);
    const mem = fakeMemory([
      [SYMS.log_buf, vars],
      [LOG_BUF, lb.buf],
    ]);
    const vi = parseVmcoreinfo(
      [
        ...Object.entries(SYMS).map(([k, v]) => `SYMBOL(${k})=${v.toString(16)}`),
        `SIZE(printk_log)=${PL.size}`,
        `OFFSET(printk_log.ts_nsec)=${PL.tsNsec}`,
        `OFFSET(printk_log.len)=${PL.len}`,
        `OFFSET(printk_log.text_len)=${PL.textLen}`,
        `OFFSET(printk_log.dict_len)=${PL.dictLen}`,
      ].join('\n') + '\n',
    );
    return { mem, vi };
  }

  it('walks first..next across the wrap marker', () => {
    const lb = new LogBufSim(512);
    const recs = Array.from({ length: 40 }, (_, i) => rec(i));
    recs.forEach((r) => lb.store(r));
    expect(lb.firstSeq).toBeGreaterThan(0);
    const { mem, vi } = oldRing(lb);
    const log = decodeKernelLog(mem, vi);
    expect(log.format).toBe('log_buf');
    expect(log.overwritten).toBeNull();
    expect(log.records.map((r) => Buffer.from(r.text).toString('latin1'))).toEqual(recs.slice(lb.firstSeq).map((r) => r.text));
    expect(log.records.map((r) => r.level)).toEqual(recs.slice(lb.firstSeq).map((r) => r.level));
    expect(formatKernelLog(log).split('\n').length).toBe(40 - lb.firstSeq + 1);
  });

  it('a corrupt record length stops the walk with a warning', () => {
    const lb = new LogBufSim(512);
    for (let i = 0; i < 40; i++) lb.store(rec(i));
    lb.buf.writeUInt16LE(3, lb.firstIdx + PL.len);
    const log = decodeKernelLog(...(Object.values(oldRing(lb)) as [KernelVirtReader, ReturnType<typeof parseVmcoreinfo>]));
    expect(log.records).toEqual([]);
    expect(log.warnings[0]).toMatch(/log_buf is corrupt at index \d+ \(len 3/);
  });
});
