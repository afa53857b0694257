#!/usr/bin/python3
"""Check a kdump-compressed (or ELF) dump against the ELF image it was made from, with libkdumpfile.

usage: dumpcheck.py DUMP IMAGE BITMAP_OUT
Writes the dump's page bitmap (file.pagemap, LSB first, max_pfn bits) to BITMAP_OUT and prints
JSON: {"max_pfn", "dumpable", "identical", "mismatches": [first 10 pfns], "unreadable": [...],
"page_size", "arch", "format"}. Every page the bitmap marks is read through libkdumpfile and
compared with the image's bytes. Also a module: test/real/py/arm64.py imports check(),
keptruns.py the page comparison.
"""
import json
import struct
import sys

import kdumpfile


def elf_loads(path):
    """The open file and (paddr, filesz, offset) of each PT_LOAD, in header order (PN_XNUM handled)."""
    f = open(path, 'rb')
    eh = f.read(64)
    phoff = struct.unpack_from('<Q', eh, 32)[0]
    shoff = struct.unpack_from('<Q', eh, 40)[0]
    phnum = struct.unpack_from('<H', eh, 56)[0]
    if phnum == 0xffff:
        f.seek(shoff)
        phnum = struct.unpack_from('<I', f.read(64), 44)[0]
    f.seek(phoff)
    ph = f.read(56 * phnum)
    loads = []
    for i in range(phnum):
        t, _fl, off, _va, pa, fsz, _msz, _al = struct.unpack_from('<IIQQQQQQ', ph, 56 * i)
        if t == 1:
            loads.append((pa, fsz, off))
    return f, loads


def page_bitmap(k, dump, psize, max_pfn):
    """The dump's pages, LSB first: libkdumpfile's pagemap, or for an ELF its program headers."""
    if open(dump, 'rb').read(4) != b'\x7fELF':
        return bytes(k.attr['file.pagemap'].get_bits(0, max_pfn - 1))
    # libkdumpfile 0.5.1's ELF pagemap drops pages where PT_LOADs overlap (the kernel-text
    # segment) and its reads return zeros for the last page of a filesz < memsz tail (seen with
    # makedumpfile's -E output too), so the page set comes from the program headers, read here
    # independently (first PT_LOAD containing the page within p_filesz), and every page in it
    # must read back through libkdumpfile identical to the image.
    _, loads = elf_loads(dump)
    bm = bytearray((max_pfn + 7) // 8)
    for (pa, fsz, _off) in loads:
        for pfn in range((pa + psize - 1) // psize, min((pa + fsz) // psize, max_pfn)):
            bm[pfn >> 3] |= 1 << (pfn & 7)
    return bytes(bm)


def image_pages(image):
    """page(pfn, psize): the image's bytes of that page (first PT_LOAD holding it, as makedumpfile reads), or None."""
    img, loads = elf_loads(image)

    def page(pfn, psize):
        pa = pfn * psize
        for (p, fsz, off) in loads:
            if p <= pa and pa + psize <= p + fsz:
                img.seek(off + pa - p)
                return img.read(psize)
        return None
    return page


def compare_pages(k, pfns, psize, image_page):
    """Each pfn read through libkdumpfile against the image: (count, identical, first 10
    mismatching pfns, first 10 [pfn, error] that would not read)."""
    count = identical = 0
    mismatches, unreadable = [], []
    for pfn in pfns:
        count += 1
        try:
            data = k.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn * psize, psize)
        except Exception as e:
            if len(unreadable) < 10:
                unreadable.append([pfn, str(e)])
            continue
        if data == image_page(pfn, psize):
            identical += 1
        elif len(mismatches) < 10:
            mismatches.append(pfn)
    return count, identical, mismatches, unreadable


def bitmap_pfns(raw, max_pfn):
    """The set bits of an LSB-first bitmap below max_pfn."""
    for byte_i, b in enumerate(raw):
        for bit in range(8) if b else ():
            pfn = byte_i * 8 + bit
            if b & (1 << bit) and pfn < max_pfn:
                yield pfn


def check(dump, image, bitmap_out, ostype=None):
    k = kdumpfile.kdumpfile(dump)
    if ostype:
        k.attr['addrxlat.ostype'] = ostype
    max_pfn = k.attr['max_pfn']
    # The dump's own page size (16/64 KiB on arm64), as libkdumpfile reads it from the dump.
    psize = k.attr['arch.page_size']
    raw = page_bitmap(k, dump, psize, max_pfn)
    open(bitmap_out, 'wb').write(raw)
    dumpable, identical, mismatches, unreadable = compare_pages(k, bitmap_pfns(raw, max_pfn), psize, image_pages(image))
    return {'max_pfn': max_pfn, 'dumpable': dumpable, 'identical': identical,
            'mismatches': mismatches, 'unreadable': unreadable, 'page_size': psize,
            'arch': k.attr['arch.name'] if 'arch.name' in k.attr else None, 'format': k.attr['file.format']}


if __name__ == '__main__':
    print(json.dumps(check(sys.argv[1], sys.argv[2], sys.argv[3])))
