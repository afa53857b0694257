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
import struct
import sys

import addrxlat
import kdumpfile


def open_dump(path):
    k = kdumpfile.kdumpfile(path)
    k.attr['addrxlat.ostype'] = 'linux'
    return k


def elf_loads(path):
    """(paddr, filesz, offset) of each PT_LOAD, in header order (PN_XNUM handled)."""
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


def check(dump, image, bitmap_out):
    k = open_dump(dump)
    psize = k.attr['arch.page_size']
    shift = psize.bit_length() - 1
    max_pfn = k.attr['max_pfn']
    img, img_loads = elf_loads(image)

    def image_page(pfn):
        pa = pfn << shift
        for (p, fsz, off) in img_loads:
            if p <= pa and pa + psize <= p + fsz:
                img.seek(off + pa - p)
                return img.read(psize)
        return None

    if open(dump, 'rb').read(4) == b'\x7fELF':
        # libkdumpfile 0.5.1's ELF pagemap is not to be trusted where PT_LOADs overlap or end in
        # a filesz < memsz tail (test/interop/py/dumpcheck.py): the page set is read from the
        # program headers here, and every page in it must read back through libkdumpfile.
        _, loads = elf_loads(dump)
        bm = bytearray((max_pfn + 7) // 8)
        for (pa, fsz, _off) in loads:
            for pfn in range((pa + psize - 1) >> shift, min((pa + fsz) >> shift, max_pfn)):
                bm[pfn >> 3] |= 1 << (pfn & 7)
        raw = bytes(bm)
    else:
        raw = bytes(k.attr['file.pagemap'].get_bits(0, max_pfn - 1))
    open(bitmap_out, 'wb').write(raw)
    dumpable = identical = 0
    mismatches, unreadable = [], []
    for byte_i, b in enumerate(raw):
        for bit in range(8) if b else ():
            pfn = byte_i * 8 + bit
            if not b & (1 << bit) or pfn >= max_pfn:
                continue
            dumpable += 1
            try:
                data = k.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn << shift, psize)
            except Exception as e:
                if len(unreadable) < 10:
                    unreadable.append([pfn, str(e)])
                continue
            if data == image_page(pfn):
                identical += 1
            elif len(mismatches) < 10:
                mismatches.append(pfn)
    return {'page_size': psize, 'arch': k.attr['arch.name'] if 'arch.name' in k.attr else None, 'format': k.attr['file.format'],
            'max_pfn': max_pfn, 'dumpable': dumpable, 'identical': identical,
            'mismatches': mismatches, 'unreadable': unreadable}


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
