#!/usr/bin/python3
"""Read a dump with libkdumpfile (and optionally drgn) and print what it sees, as JSON.

usage: read_dump.py DUMP [--drgn] [--pfns N]

Output: {"format", "attrs": {...}, "pagemap": [pfns with data], "pages": {pfn: sha1 | "excluded" |
"error:<msg>"}, "drgn": {pfn: sha1 | "fault"}} for pfns 0..max_pfn-1 (or 0..N-1).
"""
import hashlib
import json
import sys

import kdumpfile

path = sys.argv[1]
use_drgn = '--drgn' in sys.argv
limit = None
if '--pfns' in sys.argv:
    limit = int(sys.argv[sys.argv.index('--pfns') + 1])

k = kdumpfile.kdumpfile(path)
attrs = {}
for key in ('file.format', 'arch.name', 'arch.page_size', 'max_pfn', 'linux.uts.release',
            'linux.uts.sysname', 'linux.uts.nodename', 'linux.uts.machine', 'cpu.number',
            'linux.vmcoreinfo.lines.OSRELEASE', 'linux.vmcoreinfo.lines.CRASHTIME'):
    try:
        v = k.attr[key]
        attrs[key] = v if isinstance(v, (int, str)) else str(v)
    except Exception as e:  # attribute absent in this format
        attrs[key] = None
try:
    raw = k.attr['linux.vmcoreinfo.raw']
    attrs['linux.vmcoreinfo.raw'] = raw if isinstance(raw, str) else bytes(raw).decode('latin1')
except Exception:
    attrs['linux.vmcoreinfo.raw'] = None

max_pfn = k.attr['max_pfn']
n = max_pfn if limit is None else min(limit, max_pfn)
pagemap = []
try:
    bm = k.attr['file.pagemap']
    raw = bm.get_bits(0, n - 1)
    for p in range(n):
        if raw[p >> 3] & (1 << (p & 7)):
            pagemap.append(p)
except Exception as e:
    pagemap = 'error:' + str(e)

pages = {}
for p in range(n):
    try:
        data = k.read(kdumpfile.KDUMP_MACHPHYSADDR, p << 12, 4096)
        pages[p] = hashlib.sha1(data).hexdigest()
    except kdumpfile.exceptions.NoDataException as e:
        pages[p] = 'excluded' if 'xcluded' in str(e) else 'nodata:' + str(e)
    except Exception as e:
        pages[p] = 'error:' + type(e).__name__ + ':' + str(e)

out = {'attrs': attrs, 'max_pfn': max_pfn, 'pagemap': pagemap, 'pages': pages}

if use_drgn:
    import drgn
    prog = drgn.Program()
    prog.set_core_dump(path)
    d = {}
    for p in range(n):
        try:
            d[p] = hashlib.sha1(prog.read(p << 12, 4096, True)).hexdigest()
        except drgn.FaultError:
            d[p] = 'fault'
        except Exception as e:
            d[p] = 'error:' + type(e).__name__ + ':' + str(e)
    out['drgn'] = d

json.dump(out, sys.stdout)
