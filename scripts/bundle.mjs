// Bundle the command-line program (after tsc) into dist/bundle, and give it a V8 code cache.
//
// Why: start-up is part of every dump's downtime, and on a small dump it is most of our run.
// Node's ESM loader resolves, reads and compiles each of ~90 modules on every start; one bundle
// avoids that. The bundle is CommonJS (dist/bundle/package.json says so) because only a script
// can be compiled from a V8 code cache on Node 20 (vm.Script cachedData; there is no cache for
// ES modules there): bin/vmcore-filter.js compiles dist/bundle/main.js with the bytecode that a
// training run below left in main.js.cache, so neither the bundle nor the functions a filter run
// calls are compiled again (measured: `filter --help` 57 → 41 ms, `node -e 0` being 23 ms).
// Each command's code is still evaluated only when that command runs (esbuild turns the dynamic
// imports of src/cli/main.ts into lazy module initialisers). A cache that does not fit the node
// binary (another version or flags) is rejected by V8 and the bundle is compiled as before.
//
// The library (dist/index.js) and the tests use tsc's output unbundled; the bundle is only what
// bin/vmcore-filter.js runs.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const out = path.join(dist, 'bundle');

fs.rmSync(out, { recursive: true, force: true });
const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // Native codec bindings load their .node files relative to their own package.
  external: ['snappy', 'lzo', 'zstd-napi'],
  // The codec loader (createRequire) and the worker pool (the worker file beside the bundle)
  // ask where their code is.
  define: { 'import.meta.url': '__vfImportMetaUrl' },
  banner: { js: "const __vfImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  sourcemap: 'linked',
  logLevel: 'warning',
};
await build({ ...common, entryPoints: [path.join(dist, 'cli', 'main.js')], outfile: path.join(out, 'main.js') });
// The worker pool starts `./compress-worker.js` next to the code that holds it.
await build({ ...common, entryPoints: [path.join(dist, 'writer', 'workers', 'compress-worker.js')], outfile: path.join(out, 'compress-worker.js') });
fs.writeFileSync(path.join(out, 'package.json'), '{ "type": "commonjs" }\n');

// Training run: a small simulated dump filtered once through the launcher, which writes the
// bytecode of everything that run compiled (module set-up, option parsing, reader, classifier,
// writer, the lzo codec) to main.js.cache.
// Without a cache the program runs as well, only slower to start: a failed training run (say, a
// codec package that did not install) is reported, not fatal.
const bin = path.join(root, 'bin', 'vmcore-filter.js');
const cacheFile = path.join(out, 'main.js.cache');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vmcf-cache-'));
try {
  const run = (args, env = {}) => {
    const r = spawnSync(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`code cache training: vmcore-filter ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  };
  const img = path.join(tmp, 'train.elf');
  run(['sim', '--mem', '64M', img]);
  run(['filter', '-d', '31', '-l', '--num-threads', '1', img, path.join(tmp, 'train.kdump')], { VMCORE_FILTER_CODE_CACHE_OUT: cacheFile });
} catch (e) {
  fs.rmSync(cacheFile, { force: true });
  console.warn(`scripts/bundle.mjs: no code cache (start-up will be slower): ${e.message.split('\n')[0]}`);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
