// Build the single executable dist/vmcore-filter-linux-x64 (after `npm run build`), with Node's
// single executable applications: one CommonJS bundle of the program (a SEA runs one script and
// can require only Node's built-ins), the compression worker's bundle and the three native codec
// addons as assets, injected by postject into a copy of this node binary.
//
// The addons are assets, not sibling files, so the executable can be copied alone into a capture
// kernel's initramfs; src/sea/addons.ts loads each from a private temporary file when its codec
// is first used. snappy's addon is loaded directly (its index.js only picks the platform's file);
// zstd-napi's JavaScript is bundled with its `../binding` require replaced by that loader.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const work = path.join(dist, 'sea');
const output = path.join(dist, `vmcore-filter-${process.platform}-${process.arch}`);
const require = createRequire(path.join(root, 'package.json'));
const t0 = Date.now();

if (!fs.existsSync(path.join(work, 'main.js'))) throw new Error('dist/sea/main.js is missing: run npm run build first');
if (process.platform !== 'linux') throw new Error(`the single executable is built for Linux only, not ${process.platform}`);

const addonModule = path.join(work, 'addons.js');
/** zstd-napi's dist/*.js require('../binding') (binding.js requires build/<type>/binding.node): the embedded addon instead. */
const embeddedAddons = {
  name: 'embedded-addons',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/binding(\.js)?$/ }, (args) =>
      args.importer.includes(`${path.sep}zstd-napi${path.sep}`) ? { path: 'zstd', namespace: 'embedded-addon' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'embedded-addon' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(addonModule)}).dlopenAddon(${JSON.stringify(args.path)});`,
      resolveDir: root,
      loader: 'js',
    }));
  },
};

const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  plugins: [embeddedAddons],
  // Only the node_modules paths (not taken inside the executable) read import.meta.url.
  define: { 'import.meta.url': '__vfImportMetaUrl' },
  banner: { js: "const __vfImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
  legalComments: 'none',
};
await build({ ...common, entryPoints: [path.join(work, 'main.js')], outfile: path.join(work, 'main.cjs') });
await build({ ...common, entryPoints: [path.join(work, 'worker.js')], outfile: path.join(work, 'worker.cjs') });

const snappyDir = path.dirname(require.resolve('snappy/package.json'));
const snappyAddon = createRequire(path.join(snappyDir, 'package.json')).resolve(`@napi-rs/snappy-${process.platform}-${process.arch}-gnu/package.json`);
const addons = {
  'addons/lzo.node': path.join(path.dirname(require.resolve('lzo/package.json')), 'build', 'Release', 'node_lzo.node'),
  'addons/snappy.node': path.join(path.dirname(snappyAddon), `snappy.${process.platform}-${process.arch}-gnu.node`),
  'addons/zstd.node': path.join(path.dirname(require.resolve('zstd-napi/package.json')), 'build', 'Release', 'binding.node'),
};
for (const [k, f] of Object.entries(addons)) if (!fs.existsSync(f)) throw new Error(`addon for ${k} not found at ${f} (npm install?)`);

const config = {
  main: path.join(work, 'main.cjs'),
  // Per-process names: two builds at once (parallel test runs) do not share a half-written file.
  output: path.join(work, `sea-prep.${process.pid}.blob`),
  disableExperimentalSEAWarning: true,
  useCodeCache: true,
  assets: { 'worker.cjs': path.join(work, 'worker.cjs'), ...addons },
};
const configFile = path.join(work, `sea-config.${process.pid}.json`);
fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
execFileSync(process.execPath, ['--experimental-sea-config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });

// A copy of this node without its static symbol table and debug info, when binutils is there:
// 10 MB less. The dynamic symbols the addons link against (napi_*) stay, and so does the fuse.
const tmp = `${output}.${process.pid}.tmp`;
fs.rmSync(tmp, { force: true });
fs.copyFileSync(process.execPath, tmp);
fs.chmodSync(tmp, 0o755);
let stripped = false;
try {
  execFileSync('objcopy', ['--strip-all', tmp], { stdio: 'ignore' });
  stripped = true;
} catch {
  // no binutils: the executable keeps node's debug info
}
const { inject } = require('postject');
// postject prints a warning per unnamed ELF note of node's binary; they are harmless.
const warn = console.warn;
console.warn = () => {};
try {
  await inject(tmp, 'NODE_SEA_BLOB', fs.readFileSync(config.output), { sentinelFuse: 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2' });
} finally {
  console.warn = warn;
}
fs.renameSync(tmp, output);
fs.rmSync(config.output, { force: true });
fs.rmSync(configFile, { force: true });
const mib = (fs.statSync(output).size / 2 ** 20).toFixed(1);
console.log(`${path.relative(root, output)}: ${mib} MiB (node ${process.version}${stripped ? ', stripped' : ''}), built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
