#!/usr/bin/python3
"""Check a kdump-compressed (or ELF) dump against the ELF image it was made from, with libkdumpfile.

usage: dumpcheck.py DUMP IMAGE BITMAP_OUT
Writes the dump's page bitmap (file.pagemap, LSB first, max_pfn bits) to BITMAP_OUT and prints
JSON: {"max_pfn", "dumpable", "identical", "mismatches": [first 10 pfns], "unreadable": [...]}.
Every page the bitmap marks is read through libkdumpfile and compared with the image's bytes.
"""
import json
import struct
import sys

import kdumpfile

dump, image, bitmap_out = sys.argv[1], sys.argv[2], sys.argv[3]

f = open(image, 'rb')
eh = f.read(64)
phoff = struct.unpack_from('<Q', eh, 32)[0]
phnum = struct.unpack_from('<H', eh, 56)[0]
f.seek(phoff)
ph = f.read(56 * phnum)
loads = []
for i in range(phnum):
    t, fl, off, va, pa, fsz, msz, al = struct.unpack_from('<IIQQQQQQ', ph, 56 * i)
    if t == 1:
        loads.append((pa, fsz, off))


def image_page(pfn):
    pa = pfn * PAGE
    for (p, fsz, off) in loads:  # first PT_LOAD in header order wins, like makedumpfile
        if p <= pa and pa + PAGE <= p + fsz:
            f.seek(off + pa - p)
            return f.read(PAGE)
    return None


k = kdumpfile.kdumpfile(dump)
max_pfn = k.attr['max_pfn']
# The dump's own page size (16/64 KiB on arm64), as libkdumpfile reads it from the dump.
PAGE = k.attr['arch.page_size']
if open(dump, 'rb').read(4) == b'\x7fELF':
    # libkdumpfile 0.5.1's ELF pagemap drops pages where PT_LOADs overlap (the kernel-text
    # segment) and its reads return zeros for the last page of a filesz < memsz tail (seen with
    # makedumpfile's -E output too), so the page set comes from the program headers, read here
    # independently (first PT_LOAD containing [pa, pa+4096) within p_filesz), and every page in
    # it must read back through libkdumpfile identical to the image.
    g = open(dump, 'rb')
    eh2 = g.read(64)
    phoff2 = struct.unpack_from('<Q', eh2, 32)[0]
    phnum2 = struct.unpack_from('<H', eh2, 56)[0]
    if phnum2 == 0xffff:
        shoff = struct.unpack_from('<Q', eh2, 40)[0]
        g.seek(shoff)
        phnum2 = struct.unpack_from('<I', g.read(64), 44)[0]
    g.seek(phoff2)
    ph2 = g.read(56 * phnum2)
    bm = bytearray((max_pfn + 7) // 8)
    for i in range(phnum2):
        t, fl, off, va, pa, fsz, msz, al = struct.unpack_from('<IIQQQQQQ', ph2, 56 * i)
        if t != 1:
            continue
        first = (pa + PAGE - 1) // PAGE
        last = (pa + fsz) // PAGE
        for pfn in range(first, min(last, max_pfn)):
            bm[pfn >> 3] |= 1 << (pfn & 7)
    raw = bytes(bm)
else:
    raw = bytes(k.attr['file.pagemap'].get_bits(0, max_pfn - 1))
open(bitmap_out, 'wb').write(raw)
dumpable = identical = 0
mismatches = []
unreadable = []
for byte_i, b in enumerate(raw):
    if not b:
        continue
    for bit in range(8):
        if not b & (1 << bit):
            continue
        pfn = byte_i * 8 + bit
        if pfn >= max_pfn:
            continue
        dumpable += 1
        try:
            data = k.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn * PAGE, PAGE)
        except Exception as e:
            if len(unreadable) < 10:
                unreadable.append([pfn, str(e)])
            continue
        if data == image_page(pfn):
            identical += 1
        elif len(mismatches) < 10:
            mismatches.append(pfn)
print(json.dumps({'max_pfn': max_pfn, 'dumpable': dumpable, 'identical': identical,
                  'mismatches': mismatches, 'unreadable': unreadable}))
