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
import sys

import kdumpfile

from dumpcheck import compare_pages, image_pages

dump, image = sys.argv[1], sys.argv[2]
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
kept, identical, mismatches, unreadable = compare_pages(k, (p for a, n in runs for p in range(a, a + n)), PAGE, image_pages(image))
print(json.dumps({'max_pfn': max_pfn, 'runs': runs, 'kept': kept, 'identical': identical,
                  'mismatches': mismatches, 'unreadable': unreadable}))
