#!/usr/bin/python3
"""The pages a kdump-compressed dump keeps, as runs, read with libkdumpfile; each compared with the image.

usage: keptruns.py DUMP IMAGE
Prints JSON {"max_pfn", "runs": [[start, count], ...], "kept", "identical", "mismatches": [first
10 pfns], "unreadable": [first 10]}. The runs come from libkdumpfile's page bitmap (file.pagemap)
by find_set / find_clear, so a dump of 2^34 pfns with a few thousand kept pages costs no walk over
its bitmap in Python (dumpcheck.py reads the whole bitmap: 2 GiB at 2^34). Every kept page is
read through libkdumpfile and compared with the ELF image's bytes at its PT_LOAD.
"""
import json
import os
import sys

import kdumpfile

# elf_loads (PT_LOADs in header order, PN_XNUM handled) is shared with the real-dump checks.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'real', 'py'))
from arm64 import elf_loads  # noqa: E402

dump, image = sys.argv[1], sys.argv[2]


img, loads = elf_loads(image)


def image_page(pa, size):
    """The image's bytes at physical pa (first PT_LOAD holding them, as makedumpfile reads)."""
    hit = next(((lpa, off) for lpa, fsz, off in loads if lpa <= pa and pa + size <= lpa + fsz), None)
    if hit is None:
        return None
    img.seek(hit[1] + pa - hit[0])
    return img.read(size)


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
