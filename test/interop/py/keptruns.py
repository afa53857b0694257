#!/usr/bin/python3
"""The pages a kdump-compressed dump keeps, as runs, read with libkdumpfile; each compared with the image.

usage: keptruns.py DUMP IMAGE
Prints JSON {"max_pfn", "runs": [[start, count], ...], "kept", "identical", "mismatches": [first
10 pfns], "unreadable": [first 10]}. The runs come from libkdumpfile's page bitmap (file.pagemap)
by find_set / find_clear, so a dump of 2^34 pfns with a few thousand kept pages costs no walk over
its bitmap in Python (dumpcheck.py reads the whole bitmap: 2 GiB at 2^34). Every kept page is
read through libkdumpfile and compared with the ELF image's bytes at its PT_LOAD.
"""
import bisect
import json
import struct
import sys

import kdumpfile

dump, image = sys.argv[1], sys.argv[2]


def elf_loads(path):
    """The open file and sorted (paddr, filesz, offset) of its PT_LOADs."""
    f = open(path, 'rb')
    eh = f.read(64)
    phoff = struct.unpack_from('<Q', eh, 32)[0]
    phnum = struct.unpack_from('<H', eh, 56)[0]
    f.seek(phoff)
    ph = f.read(56 * phnum)
    loads = []
    for i in range(phnum):
        t, _fl, off, _va, pa, fsz, _msz, _al = struct.unpack_from('<IIQQQQQQ', ph, 56 * i)
        if t == 1:
            loads.append((pa, fsz, off))
    return f, sorted(loads)


img, loads = elf_loads(image)
starts = [pa for pa, _, _ in loads]


def image_page(pa, size):
    i = bisect.bisect_right(starts, pa) - 1
    # the kernel-text PT_LOAD overlaps a RAM one: any load holding the page has the same bytes
    for j in range(max(0, i - 2), min(len(loads), i + 1)):
        lpa, fsz, off = loads[j]
        if lpa <= pa and pa + size <= lpa + fsz:
            img.seek(off + pa - lpa)
            return img.read(size)
    return None


k = kdumpfile.kdumpfile(dump)
max_pfn = k.attr['max_pfn']
PAGE = k.attr['arch.page_size']
bm = k.attr['file.pagemap']
runs = []
pfn = 0
while pfn < max_pfn:
    try:
        a = bm.find_set(pfn)
    except Exception:  # no set bit left
        break
    if a >= max_pfn:
        break
    try:
        b = bm.find_clear(a)
    except Exception:
        b = max_pfn
    b = min(b, max_pfn)
    runs.append([a, b - a])
    pfn = b
kept = identical = 0
mismatches = []
unreadable = []
for a, n in runs:
    for p in range(a, a + n):
        kept += 1
        try:
            data = k.read(kdumpfile.KDUMP_MACHPHYSADDR, p * PAGE, PAGE)
        except Exception as e:
            if len(unreadable) < 10:
                unreadable.append([p, str(e)])
            continue
        if data == image_page(p * PAGE, PAGE):
            identical += 1
        elif len(mismatches) < 10:
            mismatches.append(p)
print(json.dumps({'max_pfn': max_pfn, 'runs': runs, 'kept': kept, 'identical': identical,
                  'mismatches': mismatches, 'unreadable': unreadable}))
