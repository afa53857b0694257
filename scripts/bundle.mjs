// Bundle the command-line program (after tsc) into dist/bundle: one file per entry plus shared
// chunks, each command's code in its own chunk loaded only when that command runs.
//
// Why: Node's ESM loader resolves, reads and compiles each of ~90 modules on every start; the
// bundle starts the filter path about 2-3x sooner (measured with `vmcore-filter filter --help`),
// and start-up is part of every dump's downtime. The library (dist/index.js) and the tests use
// tsc's output unbundled; the bundle is only what bin/vmcore-filter.js runs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

// Chunk names carry content hashes: clear the old ones.
fs.rmSync(path.join(dist, 'bundle'), { recursive: true, force: true });
await build({
  entryPoints: {
    main: path.join(dist, 'cli', 'main.js'),
    // The worker pool starts `./compress-worker.js` next to the code that holds it.
    'compress-worker': path.join(dist, 'writer', 'workers', 'compress-worker.js'),
  },
  outdir: path.join(dist, 'bundle'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Native codec bindings load their .node files relative to their own package.
  external: ['snappy', 'lzo', 'zstd-napi'],
  // Bundled CommonJS dependencies (commander) call require() for Node built-ins.
  banner: { js: "import { createRequire as __vfCreateRequire } from 'node:module'; const require = __vfCreateRequire(import.meta.url);" },
  sourcemap: 'linked',
  logLevel: 'warning',
});
