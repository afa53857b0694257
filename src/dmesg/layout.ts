/**
 * The printk buffers' layouts: the 5.10+ lockless ring buffer (kernel/printk/printk_ringbuffer.h)
 * and the 3.5–5.9 variable-length `log_buf`. One definition, used both by the decoder (which
 * takes every offset from VMCOREINFO and falls back to nothing) and by the simulator (which
 * writes these values into its VMCOREINFO, FORMATS.md §2.3 item 20 and Appendix A).
 */
import { VmcoreError } from '../errors.js';
import type { Vmcoreinfo } from '../vmcoreinfo/parse.js';

/** Sizes and offsets of the lockless ring buffer's structures, as VMCOREINFO exports them. */
export interface PrbLayout {
  sizePrintkRingbuffer: number;
  rbDescRing: number;
  rbTextDataRing: number;
  rbFail: number;
  sizeDescRing: number;
  drCountBits: number;
  drDescs: number;
  drInfos: number;
  drHeadId: number;
  drTailId: number;
  sizeDesc: number;
  descStateVar: number;
  descTextBlkLpos: number;
  sizeBlkLpos: number;
  lposBegin: number;
  lposNext: number;
  sizeInfo: number;
  infoSeq: number;
  infoTsNsec: number;
  infoTextLen: number;
  infoCallerId: number;
  infoDevInfo: number;
  sizeDevInfo: number;
  devSubsystem: number;
  lenSubsystem: number;
  devDevice: number;
  lenDevice: number;
  sizeDataRing: number;
  dataSizeBits: number;
  dataData: number;
  dataHeadLpos: number;
  dataTailLpos: number;
  sizeAtomicLong: number;
  atomicCounter: number;
  sizeLatchedSeq: number;
  latchedSeqVal: number;
}

/** The x86_64 values of 5.10 … 6.x (identical in the 6.2.15 sample, FORMATS.md Appendix A). */
export const PRB_LAYOUT_X86_64: PrbLayout = {
  sizePrintkRingbuffer: 88,
  rbDescRing: 0,
  rbTextDataRing: 48,
  rbFail: 80,
  sizeDescRing: 48,
  drCountBits: 0,
  drDescs: 8,
  drInfos: 16,
  drHeadId: 24,
  drTailId: 32,
  sizeDesc: 24,
  descStateVar: 0,
  descTextBlkLpos: 8,
  sizeBlkLpos: 16,
  lposBegin: 0,
  lposNext: 8,
  sizeInfo: 88,
  infoSeq: 0,
  infoTsNsec: 8,
  infoTextLen: 16,
  infoCallerId: 20,
  infoDevInfo: 24,
  sizeDevInfo: 64,
  devSubsystem: 0,
  lenSubsystem: 16,
  devDevice: 16,
  lenDevice: 48,
  sizeDataRing: 32,
  dataSizeBits: 0,
  dataData: 8,
  dataHeadLpos: 16,
  dataTailLpos: 24,
  sizeAtomicLong: 8,
  atomicCounter: 0,
  sizeLatchedSeq: 24,
  latchedSeqVal: 8,
};

/** VMCOREINFO key of every {@link PrbLayout} field, in the kernel's emission order (log_buf_vmcoreinfo_setup). */
export const PRB_KEYS: ReadonlyArray<readonly [keyof PrbLayout, string]> = [
  ['sizePrintkRingbuffer', 'SIZE(printk_ringbuffer)'],
  ['rbDescRing', 'OFFSET(printk_ringbuffer.desc_ring)'],
  ['rbTextDataRing', 'OFFSET(printk_ringbuffer.text_data_ring)'],
  ['rbFail', 'OFFSET(printk_ringbuffer.fail)'],
  ['sizeDescRing', 'SIZE(prb_desc_ring)'],
  ['drCountBits', 'OFFSET(prb_desc_ring.count_bits)'],
  ['drDescs', 'OFFSET(prb_desc_ring.descs)'],
  ['drInfos', 'OFFSET(prb_desc_ring.infos)'],
  ['drHeadId', 'OFFSET(prb_desc_ring.head_id)'],
  ['drTailId', 'OFFSET(prb_desc_ring.tail_id)'],
  ['sizeDesc', 'SIZE(prb_desc)'],
  ['descStateVar', 'OFFSET(prb_desc.state_var)'],
  ['descTextBlkLpos', 'OFFSET(prb_desc.text_blk_lpos)'],
  ['sizeBlkLpos', 'SIZE(prb_data_blk_lpos)'],
  ['lposBegin', 'OFFSET(prb_data_blk_lpos.begin)'],
  ['lposNext', 'OFFSET(prb_data_blk_lpos.next)'],
  ['sizeInfo', 'SIZE(printk_info)'],
  ['infoSeq', 'OFFSET(printk_info.seq)'],
  ['infoTsNsec', 'OFFSET(printk_info.ts_nsec)'],
  ['infoTextLen', 'OFFSET(printk_info.text_len)'],
  ['infoCallerId', 'OFFSET(printk_info.caller_id)'],
  ['infoDevInfo', 'OFFSET(printk_info.dev_info)'],
  ['sizeDevInfo', 'SIZE(dev_printk_info)'],
  ['devSubsystem', 'OFFSET(dev_printk_info.subsystem)'],
  ['lenSubsystem', 'LENGTH(printk_info_subsystem)'],
  ['devDevice', 'OFFSET(dev_printk_info.device)'],
  ['lenDevice', 'LENGTH(printk_info_device)'],
  ['sizeDataRing', 'SIZE(prb_data_ring)'],
  ['dataSizeBits', 'OFFSET(prb_data_ring.size_bits)'],
  ['dataData', 'OFFSET(prb_data_ring.data)'],
  ['dataHeadLpos', 'OFFSET(prb_data_ring.head_lpos)'],
  ['dataTailLpos', 'OFFSET(prb_data_ring.tail_lpos)'],
  ['sizeAtomicLong', 'SIZE(atomic_long_t)'],
  ['atomicCounter', 'OFFSET(atomic_long_t.counter)'],
  ['sizeLatchedSeq', 'SIZE(latched_seq)'],
  ['latchedSeqVal', 'OFFSET(latched_seq.val)'],
];

/** Keys without which the lockless ring cannot be walked (the dev_info and latched_seq keys are optional). */
const PRB_REQUIRED = new Set<keyof PrbLayout>([
  'sizePrintkRingbuffer',
  'rbDescRing',
  'rbTextDataRing',
  'drCountBits',
  'drDescs',
  'drInfos',
  'drHeadId',
  'drTailId',
  'sizeDesc',
  'descStateVar',
  'descTextBlkLpos',
  'lposBegin',
  'lposNext',
  'sizeInfo',
  'infoSeq',
  'infoTsNsec',
  'infoTextLen',
  'dataSizeBits',
  'dataData',
  'dataHeadLpos',
  'dataTailLpos',
]);

/** State of a descriptor: the top two bits of `state_var` (DESC_FLAGS_SHIFT = 62). */
export const DESC_STATE = { reserved: 0, committed: 1, finalized: 2, reusable: 3 } as const;
export const DESC_FLAGS_SHIFT = 62n;
export const DESC_ID_MASK = (1n << 62n) - 1n;
/** Data-less block lpos values: FAILED_LPOS (allocation failed), NO_LPOS / EMPTY_LINE_LPOS (empty text). */
export const FAILED_LPOS = 0x1n;
export const NO_LPOS = 0x3n;
/** An 8-byte block id precedes each text block (struct prb_data_block). */
export const DATA_BLOCK_ID_SIZE = 8;
/** CONFIG_LOG_BUF_SHIFT − PRB_AVGBITS: the static ring has 2^(shift−5) descriptors. */
export const PRB_AVGBITS = 5;

/**
 * Decode the lockless layout from VMCOREINFO. Returns null when the kernel does not export
 * `SYMBOL(prb)` (not a lockless kernel); throws E_VMCOREINFO naming the first missing key when
 * it does but a key the walk needs is absent.
 */
export function prbLayoutFromVmcoreinfo(vi: Vmcoreinfo): PrbLayout | null {
  if (vi.symbol('prb') === undefined) return null;
  const out = {} as PrbLayout;
  for (const [field, key] of PRB_KEYS) {
    const v = vmcoreinfoNumber(vi, key);
    if (v === undefined) {
      if (PRB_REQUIRED.has(field)) throw new VmcoreError('E_VMCOREINFO', `VMCOREINFO exports SYMBOL(prb) but lacks ${key}`, { key });
      out[field] = -1;
    } else {
      out[field] = v;
    }
  }
  if (out.atomicCounter < 0) out.atomicCounter = 0;
  return out;
}

function vmcoreinfoNumber(vi: Vmcoreinfo, key: string): number | undefined {
  const m = /^(SIZE|OFFSET|LENGTH)\((.+)\)$/.exec(key)!;
  const name = m[2]!;
  return m[1] === 'SIZE' ? vi.size(name) : m[1] === 'OFFSET' ? vi.offset(name) : vi.length(name);
}

/** struct printk_log (3.5–5.9) on x86_64: packed, aligned to 4 (CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS). */
export interface PrintkLogLayout {
  size: number;
  tsNsec: number;
  len: number;
  textLen: number;
  /** OFFSET(printk_log.dict_len), -1 when not exported; facility and flags:5/level:3 follow it. */
  dictLen: number;
}

/** Without CONFIG_PRINTK_CALLER: u64 ts_nsec; u16 len, text_len, dict_len; u8 facility; u8 flags:5, level:3. */
export const PRINTK_LOG_X86_64: PrintkLogLayout = { size: 16, tsNsec: 0, len: 8, textLen: 10, dictLen: 12 };
/** Records are padded to LOG_ALIGN (4 where unaligned access is efficient, as on x86_64). */
export const LOG_ALIGN_X86_64 = 4;

/**
 * The old `log_buf` layout from VMCOREINFO, or null when `SYMBOL(log_buf)` is absent. Throws
 * E_VMCOREINFO naming the missing key when the variable-length record keys are incomplete.
 */
export function printkLogLayoutFromVmcoreinfo(vi: Vmcoreinfo): PrintkLogLayout | null {
  if (vi.symbol('log_buf') === undefined) return null;
  for (const s of ['log_buf_len', 'log_first_idx', 'log_next_idx']) vi.require(`SYMBOL(${s})`, vi.symbol(s));
  // Kernels 3.5–3.10 called the struct "log" (makedumpfile accepts both names).
  const name = vi.size('printk_log') !== undefined ? 'printk_log' : vi.size('log') !== undefined ? 'log' : 'printk_log';
  return {
    size: vi.require(`SIZE(${name})`, vi.size(name)),
    tsNsec: vi.require(`OFFSET(${name}.ts_nsec)`, vi.offset(`${name}.ts_nsec`)),
    len: vi.require(`OFFSET(${name}.len)`, vi.offset(`${name}.len`)),
    textLen: vi.require(`OFFSET(${name}.text_len)`, vi.offset(`${name}.text_len`)),
    dictLen: vi.offset(`${name}.dict_len`) ?? -1,
  };
}
