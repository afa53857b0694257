/**
 * Decode the 3.5–5.9 variable-length `log_buf`: records of struct printk_log + text (+ dict),
 * padded to LOG_ALIGN, from `log_first_idx` to `log_next_idx`; a record of length 0 marks the
 * end of the used buffer and the walk continues at index 0 (kernel/printk/printk.c log_next()).
 */
import { VmcoreError, hex, withContext } from '../errors.js';
import type { Vmcoreinfo } from '../vmcoreinfo/parse.js';
import type { PrintkLogLayout } from './layout.js';
import type { KernelLog, KernelVirtReader, LogRecord } from './types.js';

/** log_buf_len= accepts large buffers; beyond this it is corrupt. */
export const MAX_LOG_BUF_LEN = 1 << 28;

export function decodeLogBuf(mem: KernelVirtReader, vi: Vmcoreinfo, L: PrintkLogLayout): KernelLog {
  const read = (what: string, va: bigint, len: number) => withContext(`dmesg: reading ${what} at ${hex(va)}`, () => mem.readVirt(va, len));
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const sym = (s: string) => vi.require(`SYMBOL(${s})`, vi.symbol(s));
  const logBuf = dv(read('log_buf (SYMBOL(log_buf))', sym('log_buf'), 8)).getBigUint64(0, true);
  const len = dv(read('log_buf_len', sym('log_buf_len'), 4)).getUint32(0, true);
  const firstIdx = dv(read('log_first_idx', sym('log_first_idx'), 4)).getUint32(0, true);
  const nextIdx = dv(read('log_next_idx', sym('log_next_idx'), 4)).getUint32(0, true);
  if (len < L.size || len > MAX_LOG_BUF_LEN) {
    throw new VmcoreError('E_FORMAT', `dmesg: log_buf_len ${len} is outside ${L.size}..${MAX_LOG_BUF_LEN}`, { address: sym('log_buf_len') });
  }
  if (firstIdx >= len || nextIdx >= len) {
    throw new VmcoreError('E_FORMAT', `dmesg: log_first_idx ${firstIdx} or log_next_idx ${nextIdx} is outside log_buf (${len} bytes at ${hex(logBuf)})`, {
      address: logBuf,
    });
  }
  const buf = read('the log_buf text', logBuf, len);
  const v = dv(buf);
  const records: LogRecord[] = [];
  const warnings: string[] = [];
  let idx = firstIdx;
  const maxRecords = Math.floor(len / L.size) + 1;
  while (idx !== nextIdx) {
    if (records.length > maxRecords || idx + L.size > len) {
      warnings.push(`log_buf is corrupt at index ${idx}: stopped after ${records.length} records`);
      break;
    }
    let recLen = v.getUint16(idx + L.len, true);
    if (recLen === 0) {
      // end-of-buffer marker: the next record is at the start
      if (idx === 0) {
        warnings.push('log_buf is corrupt: a zero-length record at index 0');
        break;
      }
      idx = 0;
      if (idx === nextIdx) break;
      recLen = v.getUint16(L.len, true);
    }
    const textLen = v.getUint16(idx + L.textLen, true);
    if (recLen < L.size || idx + recLen > len || L.size + textLen > recLen) {
      warnings.push(`log_buf is corrupt at index ${idx} (len ${recLen}, text_len ${textLen}): stopped after ${records.length} records`);
      break;
    }
    const flags = L.dictLen >= 0 ? buf[idx + L.dictLen + 3]! : null;
    records.push({
      seq: null,
      tsNsec: v.getBigUint64(idx + L.tsNsec, true),
      facility: L.dictLen >= 0 ? buf[idx + L.dictLen + 2]! : null,
      level: flags === null ? null : flags >> 5,
      callerId: null,
      text: buf.slice(idx + L.size, idx + L.size + textLen),
    });
    idx += recLen;
  }
  return {
    format: 'log_buf',
    records,
    overwritten: null,
    skipped: [],
    dropped: null,
    buffer: { address: logBuf, textBytes: len, descriptors: null },
    warnings,
  };
}
