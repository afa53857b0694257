#!/usr/bin/python3
"""The peers' reading of an arm64 dump, for test/real/arm64.test.ts (page size from the dump).

usage:
  arm64.py check DUMP IMAGE BITMAP_OUT   libkdumpfile: DUMP's page bitmap (LSB first, max_pfn bits)
                                         to BITMAP_OUT; every page it marks read through
                                         libkdumpfile and compared with IMAGE (an ELF)
  arm64.py xlat DUMP VA...               libkdumpfile's addrxlat: each kernel VA (hex) to a physical
                                         address, by DUMP's own page tables
  arm64.py free DUMP VMLINUX             drgn with the debug vmlinux: every zone's
                                         free_area[order].nr_free and the blocks on its free lists,
                                         and the huge pages on the hstate's free and active lists
All print one JSON object.
"""
import json
import os
import sys

import addrxlat
import kdumpfile

# The page-by-page check is test/interop/py/dumpcheck.py's, with the Linux address translation on.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'interop', 'py'))
import dumpcheck  # noqa: E402


def open_dump(path):
    k = kdumpfile.kdumpfile(path)
    k.attr['addrxlat.ostype'] = 'linux'
    return k


def check(dump, image, bitmap_out):
    return dumpcheck.check(dump, image, bitmap_out, ostype='linux')


def xlat(dump, vas):
    k = open_dump(dump)
    ctx = k.get_addrxlat_ctx()
    system = k.get_addrxlat_sys()
    # python3-libkdumpfile 0.5.1: the context's default read-capabilities callback returns a
    # tuple, which the C side takes for "no capabilities" (every page-table read then fails with
    # "No suitable capabilities"); hand the underlying value through.
    ctx.cb_read_caps = lambda: ctx.next_read_caps()[0]
    out = []
    for va in vas:
        fa = addrxlat.FullAddress(addrxlat.KVADDR, int(va, 16))
        try:
            fa.conv(addrxlat.KPHYSADDR, ctx, system)
            out.append([va, hex(fa.addr), None])
        except Exception:
            out.append([va, None, ctx.get_err()])
            ctx.clear_err()
    pgt = system.get_meth(addrxlat.SYS_METH_PGT)
    return {'fields': list(pgt.fields), 'root': hex(pgt.root.addr), 'xlat': out}


def free(dump, vmlinux):
    # drgn 0.0.22's own arm64 page-table walk stops at the kernel image ("recursive address
    # translation") on these dumps; through libkdumpfile it reads them. What drgn adds is the
    # kernel's own types from DWARF: struct zone, free_area, the free lists.
    os.environ['DRGN_USE_LIBKDUMPFILE_FOR_ELF'] = '1'
    import drgn
    from drgn.helpers.linux.list import list_for_each_entry
    prog = drgn.Program()
    prog.set_core_dump(dump)
    prog.load_debug_info([vmlinux])
    # pfn of a struct page: arm64's vmemmap is VMEMMAP_START - (memstart_addr >> PAGE_SHIFT)
    # struct pages (arch/arm64/include/asm/pgtable.h), VMEMMAP_START and PAGESIZE from VMCOREINFO.
    vi = dict(l.split('=', 1) for l in bytes(open_dump(dump).attr['linux.vmcoreinfo.raw']).decode().splitlines() if '=' in l)
    shift = int(vi['PAGESIZE']).bit_length() - 1
    sizeof_page = prog.type('struct page').size
    memstart = int(prog['memstart_addr'])
    vmemmap = int(vi['NUMBER(VMEMMAP_START)'], 16) - (memstart >> shift) * sizeof_page
    zones = []
    blocks = []
    nodes = [prog['node_data'][0]]
    for nd in nodes:
        for z in nd.node_zones:
            if int(z.spanned_pages) == 0:
                continue
            nr_free = [int(fa.nr_free) for fa in z.free_area]
            zones.append({'name': z.name.string_().decode(), 'start_pfn': int(z.zone_start_pfn),
                          'spanned': int(z.spanned_pages), 'nr_free': nr_free})
            for order, fa in enumerate(z.free_area):
                for mt, head in enumerate(fa.free_list):
                    for page in list_for_each_entry('struct page', head.address_of_(), 'lru'):
                        off = page.value_() - vmemmap
                        blocks.append([off // sizeof_page, order, mt, off % sizeof_page])
    # The default hstate's huge pages: the pool's free lists and the active list (in use).
    h = prog['hstates'][int(prog['default_hstate_idx'])]
    huge = {'order': int(h.order), 'free': [], 'active': []}
    for head in h.hugepage_freelists:  # one per possible node, every one initialised
        huge['free'] += [(f.value_() - vmemmap) // sizeof_page for f in list_for_each_entry('struct folio', head.address_of_(), 'lru')]
    huge['active'] = [(f.value_() - vmemmap) // sizeof_page for f in list_for_each_entry('struct folio', h.hugepage_activelist.address_of_(), 'lru')]
    # Raw reads at addresses drgn finds from DWARF, to compare with ours byte for byte.
    reads = []
    uts = prog['init_uts_ns']
    reads.append(['init_uts_ns', hex(uts.address_), prog.read(uts.address_, drgn.sizeof(uts)).hex()])
    nd_addr = prog['node_data'][0].value_()
    reads.append(['*node_data[0]', hex(nd_addr), prog.read(nd_addr, 512).hex()])
    return {'sizeof_page': sizeof_page, 'memstart_addr': hex(memstart), 'vmemmap': hex(vmemmap),
            'zones': zones, 'blocks': blocks, 'hugetlb': huge, 'reads': reads}


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'check':
        res = check(*sys.argv[2:5])
    elif cmd == 'xlat':
        res = xlat(sys.argv[2], sys.argv[3:])
    elif cmd == 'free':
        res = free(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f'unknown command {cmd}')
    print(json.dumps(res))
