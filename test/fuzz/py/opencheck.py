#!/usr/bin/python3
"""Open each dump with libkdumpfile and read a sample of its stored pages.

usage: opencheck.py [--incomplete] DUMP...
Prints JSON {path: null | "problem"}. A dump passes when libkdumpfile opens it, its page
bitmap is readable, and the first and last 64 pages the bitmap marks (and 64 spread between)
read back as 4096 bytes each. With --incomplete (a dump cut short by a full disk, header flag
DUMP_DH_COMPRESSED_INCOMPLETE) only the first 64 pages must read: pages are written in pfn
order, and the descriptors of those never written are empty, as in makedumpfile's.
"""
import json
import sys

import kdumpfile

out = {}
args = sys.argv[1:]
incomplete = bool(args) and args[0] == '--incomplete'
if incomplete:
    args = args[1:]
for path in args:
    try:
        k = kdumpfile.kdumpfile(path)
        max_pfn = k.attr['max_pfn']
        raw = bytes(k.attr['file.pagemap'].get_bits(0, max_pfn - 1))
        pfns = []
        for i, b in enumerate(raw):
            if b:
                for bit in range(8):
                    if b & (1 << bit) and i * 8 + bit < max_pfn:
                        pfns.append(i * 8 + bit)
        step = max(1, len(pfns) // 64)
        sample = pfns[:64] if incomplete else sorted(set(pfns[:64] + pfns[-64:] + pfns[::step]))
        if not sample:
            raise Exception('no stored pages')
        for pfn in sample:
            data = k.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn << 12, 4096)
            if len(data) != 4096:
                raise Exception('pfn %#x read %d bytes' % (pfn, len(data)))
        out[path] = None
    except Exception as e:  # noqa: BLE001 - every failure is reported by path
        out[path] = '%s: %s' % (type(e).__name__, e)
print(json.dumps(out))
