/**
 * makedumpfile's flattened stream (`-F`), FORMATS.md §6.10: a 4096-byte header, then records
 * {int64 BE offset, int64 BE size} + size bytes to place at offset, then an end record of two −1s.
 */

export const FLAT_SIGNATURE = 'makedumpfile';
/** Header bytes: signature (16, NUL padded), type (int64 BE), version (int64 BE), zeros to 4096. */
export const FLAT_HEADER_SIZE = 4096;
export const FLAT_TYPE = 1n;
export const FLAT_VERSION = 1n;
export const FLAT_RECORD_HEADER_SIZE = 16;
/** Largest payload we put in one record (makedumpfile's readers accept any size). */
export const FLAT_MAX_RECORD = 1 << 20;

/** The 4096-byte stream header. */
export function encodeFlatHeader(): Uint8Array {
  const b = new Uint8Array(FLAT_HEADER_SIZE);
  b.set(Buffer.from(FLAT_SIGNATURE, 'latin1'), 0);
  const v = new DataView(b.buffer);
  v.setBigInt64(16, FLAT_TYPE, false);
  v.setBigInt64(24, FLAT_VERSION, false);
  return b;
}

/** True if `b` (≥ 16 bytes) starts with the flattened signature "makedumpfile\0". */
export function hasFlatSignature(b: Uint8Array): boolean {
  if (b.length < FLAT_SIGNATURE.length + 1) return false;
  for (let i = 0; i < FLAT_SIGNATURE.length; i++) if (b[i] !== FLAT_SIGNATURE.charCodeAt(i)) return false;
  return b[FLAT_SIGNATURE.length] === 0;
}

/** Encode one record header; `offset = size = -1` is the end marker. */
export function encodeRecordHeader(offset: number, size: number, out: Uint8Array = new Uint8Array(16)): Uint8Array {
  const v = new DataView(out.buffer, out.byteOffset, 16);
  v.setBigInt64(0, BigInt(offset), false);
  v.setBigInt64(8, BigInt(size), false);
  return out;
}
