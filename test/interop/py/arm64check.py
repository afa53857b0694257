#!/usr/bin/python3
"""Read an arm64 image's struct pages and linear map with the peers, for test/interop/arm64-peers.

usage: arm64check.py IMAGE VMEMMAP SIZE(page) OUT START-END...
drgn (its own aarch64 page-table walk: the vmemmap is in no PT_LOAD) reads the struct pages of
every pfn range into OUT, back to back. libkdumpfile's addrxlat translates the linear-map
address of the first pfn of every range and of one pfn in 64 (PAGE_OFFSET + pa - PHYS_OFFSET,
decided by libkdumpfile from VMCOREINFO), printed as JSON [[va, pa], ...] with the page size
libkdumpfile reads from the dump and the first failure of a kernel-image address, if any.
"""
import json
import sys

import addrxlat
import drgn
import kdumpfile

image, vmemmap, size, out = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3]), sys.argv[4]
ranges = [tuple(int(x) for x in r.split('-')) for r in sys.argv[5:]]

prog = drgn.Program()
prog.set_core_dump(image)
with open(out, 'wb') as o:
    for s, e in ranges:
        o.write(prog.read(vmemmap + s * size, (e - s) * size, False))

k = kdumpfile.kdumpfile(image)
k.attr['addrxlat.ostype'] = 'linux'
ps = k.attr['arch.page_size']
ctx = k.get_addrxlat_ctx()
system = k.get_addrxlat_sys()
vi = dict(l.split('=', 1) for l in bytes(k.attr['linux.vmcoreinfo.raw']).decode('latin1').splitlines() if '=' in l)
phys_offset = int(vi['NUMBER(PHYS_OFFSET)'], 16)
page_offset = (1 << 64) - (1 << int(vi['NUMBER(VA_BITS)']))
pairs = []
for s, e in ranges:
    for pfn in list(range(s, e, 64)) + [e - 1]:
        va = page_offset + pfn * ps - phys_offset
        a = addrxlat.FullAddress(addrxlat.KVADDR, va)
        a.conv(addrxlat.MACHPHYSADDR, ctx, system)
        pairs.append([va, a.addr])
kimage_failure = None
a = addrxlat.FullAddress(addrxlat.KVADDR, int(vi['SYMBOL(init_uts_ns)'], 16))
try:
    a.conv(addrxlat.MACHPHYSADDR, ctx, system)
except Exception:
    kimage_failure = ctx.get_err()
print(json.dumps({'page_size': ps, 'linear': [[hex(v), hex(p)] for v, p in pairs], 'kimage_failure': kimage_failure}))
