#!/usr/bin/python3
"""Compare two dumps of the same memory through libkdumpfile.

usage: pair.py DUMP_A DUMP_B BITMAP_A_OUT BITMAP_B_OUT
Writes each dump's page bitmap (file.pagemap, LSB first) and prints JSON:
{"max_pfn_a", "max_pfn_b", "both", "identical", "mismatches": [first 10 pfns], "unreadable": [...]}:
every page both bitmaps mark is read from each and compared byte for byte.
"""
import json
import sys

import kdumpfile

a_path, b_path, a_out, b_out = sys.argv[1:5]
a = kdumpfile.kdumpfile(a_path)
b = kdumpfile.kdumpfile(b_path)
na, nb = a.attr['max_pfn'], b.attr['max_pfn']
ra = bytes(a.attr['file.pagemap'].get_bits(0, na - 1))
rb = bytes(b.attr['file.pagemap'].get_bits(0, nb - 1))
open(a_out, 'wb').write(ra)
open(b_out, 'wb').write(rb)
both = identical = 0
mismatches, unreadable = [], []
for i in range(min(len(ra), len(rb))):
    m = ra[i] & rb[i]
    if not m:
        continue
    for bit in range(8):
        if not m & (1 << bit):
            continue
        pfn = i * 8 + bit
        if pfn >= min(na, nb):
            continue
        both += 1
        try:
            pa = a.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn << 12, 4096)
            pb = b.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn << 12, 4096)
        except Exception as e:
            if len(unreadable) < 10:
                unreadable.append([pfn, str(e)])
            continue
        if pa == pb:
            identical += 1
        elif len(mismatches) < 10:
            mismatches.append(pfn)
print(json.dumps({'max_pfn_a': na, 'max_pfn_b': nb, 'both': both, 'identical': identical,
                  'mismatches': mismatches, 'unreadable': unreadable}))
