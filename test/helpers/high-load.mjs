/**
 * Memory at a high physical address in a simulated ELF vmcore: a copy of the image with one more
 * PT_LOAD whose data is a sparse tail of the file (never read unless dumped). mem_section has no
 * section there, so the filter sees memory without struct pages. Plain JavaScript, so that both
 * the tests and bench/huge-pfn.mjs use it.
 */
import * as fs from 'node:fs';

const PHDR = 56;

/**
 * Copy `src` to `dst` with one more PT_LOAD [paddr, paddr + bytes). `paddr` and `bytes` are
 * bigints so that hostile values (past 2^53, wrapping 2^64) can be written as they are.
 * `directMap`: the kernel's direct-map base for p_vaddr (4-level x86_64's by default).
 *
 * @param {string} src
 * @param {string} dst
 * @param {bigint} paddr
 * @param {bigint} bytes
 * @param {bigint} [directMap]
 */
export function addHighLoad(src, dst, paddr, bytes, directMap = 0xffff888000000000n) {
  const buf = fs.readFileSync(src);
  const phoff = Number(buf.readBigUInt64LE(32));
  const phnum = buf.readUInt16LE(56);
  // The new table goes at the end of the file, page-aligned data after it.
  const tableAt = Math.ceil(buf.length / 8) * 8;
  const dataAt = Math.ceil((tableAt + (phnum + 1) * PHDR) / 4096) * 4096;
  const table = Buffer.alloc((phnum + 1) * PHDR);
  buf.copy(table, 0, phoff, phoff + phnum * PHDR);
  const p = phnum * PHDR;
  table.writeUInt32LE(1, p); // PT_LOAD
  table.writeUInt32LE(7, p + 4);
  table.writeBigUInt64LE(BigInt(dataAt), p + 8);
  table.writeBigUInt64LE(BigInt.asUintN(64, directMap + paddr), p + 16);
  table.writeBigUInt64LE(BigInt.asUintN(64, paddr), p + 24);
  // A hostile size is claimed in p_memsz only: the file holds at most 64 MiB of it.
  const filesz = bytes > 64n << 20n ? 0n : bytes;
  table.writeBigUInt64LE(BigInt.asUintN(64, filesz), p + 32);
  table.writeBigUInt64LE(BigInt.asUintN(64, bytes), p + 40);
  table.writeBigUInt64LE(0n, p + 48);
  const head = Buffer.from(buf);
  head.writeBigUInt64LE(BigInt(tableAt), 32);
  head.writeUInt16LE(phnum + 1, 56);
  const fd = fs.openSync(dst, 'w');
  fs.writeSync(fd, head, 0, head.length, 0);
  fs.writeSync(fd, table, 0, table.length, tableAt);
  fs.ftruncateSync(fd, dataAt + Number(filesz));
  fs.closeSync(fd);
}
