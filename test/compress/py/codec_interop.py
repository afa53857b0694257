#!/usr/bin/python3
"""Page codecs through the real C libraries (zlib, liblzo2, libsnappy, libzstd) via ctypes.

usage: codec_interop.py decode DIR   -- for each DIR/NAME.CODEC, decode with the C library and
                                        compare with DIR/NAME.raw; prints {"NAME.CODEC": "ok"|error}
       codec_interop.py encode DIR   -- for each DIR/NAME.raw, write DIR/NAME.CODEC.c compressed by
                                        the C library the way makedumpfile calls it
"""
import ctypes
import glob
import json
import os
import sys
import zlib

lzo = ctypes.CDLL('liblzo2.so.2')
snappy = ctypes.CDLL('libsnappy.so.1')
zstd = ctypes.CDLL('libzstd.so.1')
zstd.ZSTD_compress.restype = ctypes.c_size_t
zstd.ZSTD_decompress.restype = ctypes.c_size_t
zstd.ZSTD_isError.restype = ctypes.c_uint
zstd.ZSTD_getErrorName.restype = ctypes.c_char_p


def dec(codec, data, size):
    if codec == 'zlib':
        return zlib.decompress(data)
    out = ctypes.create_string_buffer(size + 64)
    if codec == 'lzo':
        olen = ctypes.c_ulong(size + 64)
        r = lzo.lzo1x_decompress_safe(data, ctypes.c_ulong(len(data)), out, ctypes.byref(olen), None)
        if r != 0:
            raise ValueError('lzo1x_decompress_safe returned %d' % r)
        return out.raw[:olen.value]
    if codec == 'snappy':
        olen = ctypes.c_size_t(size + 64)
        r = snappy.snappy_uncompress(data, ctypes.c_size_t(len(data)), out, ctypes.byref(olen))
        if r != 0:
            raise ValueError('snappy_uncompress returned %d' % r)
        return out.raw[:olen.value]
    if codec == 'zstd':
        r = zstd.ZSTD_decompress(out, ctypes.c_size_t(size + 64), data, ctypes.c_size_t(len(data)))
        if zstd.ZSTD_isError(ctypes.c_size_t(r)):
            raise ValueError(zstd.ZSTD_getErrorName(ctypes.c_size_t(r)).decode())
        return out.raw[:r]
    raise ValueError('unknown codec ' + codec)


def enc(codec, raw):
    n = len(raw)
    if codec == 'zlib':
        return zlib.compress(raw, 1)
    out = ctypes.create_string_buffer(n * 2 + 1024)
    if codec == 'lzo':
        wrk = ctypes.create_string_buffer(1 << 17)
        olen = ctypes.c_ulong(0)
        assert lzo.lzo1x_1_compress(raw, ctypes.c_ulong(n), out, ctypes.byref(olen), wrk) == 0
        return out.raw[:olen.value]
    if codec == 'snappy':
        olen = ctypes.c_size_t(n * 2 + 1024)
        assert snappy.snappy_compress(raw, ctypes.c_size_t(n), out, ctypes.byref(olen)) == 0
        return out.raw[:olen.value]
    if codec == 'zstd':
        r = zstd.ZSTD_compress(out, ctypes.c_size_t(n * 2 + 1024), raw, ctypes.c_size_t(n), 1)
        assert not zstd.ZSTD_isError(ctypes.c_size_t(r))
        return out.raw[:r]
    raise ValueError('unknown codec ' + codec)


mode, d = sys.argv[1], sys.argv[2]
res = {}
if mode == 'decode':
    for f in sorted(glob.glob(os.path.join(d, '*.*'))):
        base, codec = os.path.basename(f).rsplit('.', 1)
        if codec in ('raw', 'c'):
            continue
        raw = open(os.path.join(d, base + '.raw'), 'rb').read()
        try:
            got = dec(codec, open(f, 'rb').read(), len(raw))
            res[os.path.basename(f)] = 'ok' if got == raw else 'mismatch (%d bytes)' % len(got)
        except Exception as e:
            res[os.path.basename(f)] = 'error: %s' % e
elif mode == 'encode':
    for f in sorted(glob.glob(os.path.join(d, '*.raw'))):
        raw = open(f, 'rb').read()
        for codec in sys.argv[3].split(','):
            open(f[:-4] + '.' + codec + '.c', 'wb').write(enc(codec, raw))
            res[os.path.basename(f)[:-4] + '.' + codec + '.c'] = 'written'
json.dump(res, sys.stdout)
