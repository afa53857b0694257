// QEMU 7.2's dump-guest-memory writes an ELF whose program headers follow a section header
// (e_phoff 128 or 192, not 64), and makedumpfile 1.7.2 then fails with "get_elf_info: Can't
// get the number of PT_LOAD." (it reads the program headers from just after the ELF header).
// For the comparison with makedumpfile, copy the file with its program headers moved to
// offset 64 and the section header dropped; every segment stays at its offset, so the page
// data are the same bytes at the same places.
import * as fs from 'node:fs';

export function movePhdrsTo64(src, dst) {
  const fd = fs.openSync(src, 'r');
  const eh = Buffer.alloc(64);
  fs.readSync(fd, eh, 0, 64, 0);
  if (eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2 || eh[5] !== 1) throw new Error(`${src}: not a little-endian ELF64 file`);
  const phoff = Number(eh.readBigUInt64LE(32));
  const phentsize = eh.readUInt16LE(54);
  const phnum = eh.readUInt16LE(56);
  if (phnum === 0xffff) throw new Error(`${src}: PN_XNUM program header count is not handled`);
  const ph = Buffer.alloc(phnum * phentsize);
  fs.readSync(fd, ph, 0, ph.length, phoff);
  fs.closeSync(fd);
  fs.rmSync(dst, { force: true });
  fs.copyFileSync(src, dst);
  if (phoff === 64) return false;
  const out = fs.openSync(dst, 'r+');
  try {
    eh.writeBigUInt64LE(64n, 32); // e_phoff
    eh.writeBigUInt64LE(0n, 40); // e_shoff
    eh.writeUInt16LE(0, 60); // e_shnum
    eh.writeUInt16LE(0, 62); // e_shstrndx
    fs.writeSync(out, eh, 0, 64, 0);
    fs.writeSync(out, ph, 0, ph.length, 64);
    const end = phoff + ph.length;
    const from = 64 + ph.length;
    if (end > from) fs.writeSync(out, Buffer.alloc(end - from), 0, end - from, from);
  } finally {
    fs.closeSync(out);
  }
  return true;
}
