/**
 * zstd without a native addon: libzstd compiled to WebAssembly, from npm `@bokuweb/zstd-wasm`
 * (its `zstd.wasm`, 250 KB, MIT). The package's own loader is asynchronous; our codecs are
 * synchronous (a batch of pages is compressed in one call, here or in a worker), so the module is
 * compiled and instantiated here with `new WebAssembly.Module` / `Instance`, which Node allows
 * synchronously, against the five functions the Emscripten build imports.
 *
 * The export names are the build's minified ones, so the package is pinned to one version in
 * package.json and the codec self-tests at load ({@link createZstdWasmCodec}): another build
 * fails there, with a message, and never writes a wrong page.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

/** The libzstd functions we call, by the minified export names of @bokuweb/zstd-wasm 0.0.27. */
interface ZstdWasmExports {
  memory: WebAssembly.Memory;
  ctors(): void;
  isError(code: number): number;
  compressBound(n: number): number;
  compress(dst: number, cap: number, src: number, n: number, level: number): number;
  decompress(dst: number, cap: number, src: number, n: number): number;
  malloc(n: number): number;
}

const EXPORTS_0_0_27 = { memory: 'f', ctors: 'g', isError: 'h', compressBound: 'i', compress: 'm', decompress: 'r', malloc: 's' } as const;

/** The package's version and its wasm file, from node_modules. */
function locate(): { version: string; file: string } {
  const require = createRequire(import.meta.url);
  // The package exports only its entry (dist/common/index.node.js); zstd.wasm sits beside it.
  const dir = path.dirname(require.resolve('@bokuweb/zstd-wasm'));
  const version = (JSON.parse(fs.readFileSync(path.join(dir, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  return { version, file: path.join(dir, 'zstd.wasm') };
}

function instantiate(bytes: Uint8Array<ArrayBuffer>): ZstdWasmExports {
  let memory: WebAssembly.Memory | undefined;
  const fail = (what: string) => () => {
    throw new Error(`zstd wasm: ${what}`);
  };
  const imports = {
    a: {
      a: fail('proc_exit'), // _proc_exit
      b: () => {}, // _emscripten_runtime_keepalive_clear
      c: fail('abort'), // _abort_js
      d: () => 0, // _setitimer_js: no timers are used by compress/decompress
      e: (requested: number) => {
        // _emscripten_resize_heap: grow to the requested size (page-granular), at most 2 GiB.
        const m = memory!;
        const want = requested >>> 0;
        if (want > 2 ** 31) return 0;
        try {
          m.grow(Math.ceil((want - m.buffer.byteLength) / 65536));
          return 1;
        } catch {
          return 0;
        }
      },
    },
  };
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports);
  const x = inst.exports as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(EXPORTS_0_0_27)) {
    if (x[v] === undefined) throw new Error(`zstd wasm: export ${v} (${k}) missing: not the build this code knows`);
    out[k] = x[v];
  }
  memory = out.memory as WebAssembly.Memory;
  (out.ctors as () => void)();
  return out as unknown as ZstdWasmExports;
}

/** A synchronous zstd compressor/decompressor over one wasm instance and fixed scratch buffers. */
export interface ZstdWasm {
  version: string;
  /** Compress `src` at `level`; a view into wasm memory, valid until the next call. */
  compress(src: Uint8Array, level: number): Uint8Array;
  /** Decompress one frame into at most `cap` bytes; a view valid until the next call; throws on bad data. */
  decompress(src: Uint8Array, cap: number): Uint8Array;
}

/** Load the wasm build (throws if the package is missing or is another build). */
export function loadZstdWasm(): ZstdWasm {
  const { version, file } = locate();
  const w = instantiate(new Uint8Array(fs.readFileSync(file)));
  let cap = 0;
  let srcPtr = 0;
  let dstPtr = 0;
  // One pair of buffers, grown to the largest block seen: pages are all one size.
  const ensure = (n: number): void => {
    if (n <= cap) return;
    cap = Math.max(n, 65536);
    srcPtr = w.malloc(cap);
    dstPtr = w.malloc(w.compressBound(cap));
    if (!srcPtr || !dstPtr) throw new Error('zstd wasm: out of memory');
  };
  const check = (r: number, what: string): number => {
    // size_t results are unsigned: negative i32s are error codes.
    const u = r >>> 0;
    if (w.isError(u)) throw new Error(`zstd wasm: ${what} failed (code ${-(r | 0)})`);
    return u;
  };
  return {
    version,
    compress(src, level) {
      ensure(src.length);
      new Uint8Array(w.memory.buffer, srcPtr, src.length).set(src);
      const n = check(w.compress(dstPtr, w.compressBound(src.length), srcPtr, src.length, level), 'compress');
      return new Uint8Array(w.memory.buffer, dstPtr, n);
    },
    decompress(src, outCap) {
      ensure(Math.max(src.length, outCap));
      new Uint8Array(w.memory.buffer, srcPtr, src.length).set(src);
      const n = check(w.decompress(dstPtr, outCap, srcPtr, src.length), 'decompress');
      return new Uint8Array(w.memory.buffer, dstPtr, n);
    },
  };
}
