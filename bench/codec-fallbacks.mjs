// The codecs a machine without a compiler gets, against the native ones (after `npm run build`):
// µs per 4 KiB page to compress and decompress 20,000 pages of text (node_modules/typescript's
// lib/typescript.js, its whole pages repeated), and whether the outputs are the same bytes.
//   node bench/codec-fallbacks.mjs
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const { createZstdCodec } = await import(path.join(root, 'dist/compress/zstd.js'));
const { createLzoCodec } = await import(path.join(root, 'dist/compress/lzo.js'));
const native = await import(path.join(root, 'dist/compress/native.js'));

const text = fs.readFileSync(require.resolve('typescript/lib/typescript.js'));
const PAGE = 4096;
const whole = Math.floor(text.length / PAGE);
const pages = Array.from({ length: 20000 }, (_, i) => text.subarray((i % whole) * PAGE, ((i % whole) + 1) * PAGE));

function measure(codec) {
  const out = new Uint8Array(PAGE);
  const stored = [];
  let t = performance.now();
  for (const p of pages) {
    const n = codec.compress(p, out);
    stored.push(n ? out.slice(0, n) : null);
  }
  const c = ((performance.now() - t) * 1000) / pages.length;
  const back = new Uint8Array(PAGE);
  t = performance.now();
  for (const s of stored) if (s) codec.decompress(s, back);
  const d = ((performance.now() - t) * 1000) / pages.length;
  const bytes = stored.reduce((a, s) => a + (s ? s.length : PAGE), 0);
  return { c, d, bytes, stored };
}

const real = native.loadFromNodeModules;
const rows = [];
for (const [name, create] of [['zstd', createZstdCodec], ['lzo', createLzoCodec]]) {
  native.setCodecPackageLoader(real);
  const n = create();
  native.setCodecPackageLoader(() => {
    throw new Error('not installed');
  });
  const f = create();
  native.setCodecPackageLoader(real);
  const a = measure(n);
  const b = measure(f);
  const same = a.stored.filter((s, i) => (s === null ? b.stored[i] === null : b.stored[i] && Buffer.from(s).equals(Buffer.from(b.stored[i])))).length;
  rows.push([name, n.implementation, a], [name, f.implementation, b]);
  console.log(`${name}: ${same} of ${pages.length} stored pages identical`);
}
for (const [name, impl, r] of rows) console.log(`${name.padEnd(5)} ${r.c.toFixed(1).padStart(6)} µs/page compress ${r.d.toFixed(1).padStart(6)} µs/page decompress ${String(r.bytes).padStart(9)} bytes  ${impl}`);
