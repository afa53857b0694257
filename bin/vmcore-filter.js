#!/usr/bin/env node
// Launcher only: the program is dist/bundle/main.js (CommonJS, like this file: bin/package.json),
// built by `npm run build` (tsc, then scripts/bundle.mjs) and by `prepare` on install. It is
// compiled from the V8 code cache beside it, main.js.cache, when the cache fits this node
// (scripts/bundle.mjs says why); otherwise compiled as usual.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const file = path.join(__dirname, '..', 'dist', 'bundle', 'main.js');
const cacheFile = file + '.cache';
let cachedData;
try {
  // V8 checks a cache against the source's length only: one older than the bundle (an edited
  // bundle) is not used.
  if (fs.statSync(cacheFile).mtimeMs >= fs.statSync(file).mtimeMs) cachedData = fs.readFileSync(cacheFile);
} catch {
  // no cache (not built yet, or removed): compile from source
}
let source;
try {
  source = fs.readFileSync(file, 'utf8');
} catch {
  // A clone installed with --omit=dev has no TypeScript, hence no build: one line, not a stack.
  process.stderr.write('vmcore-filter: error: dist/ is not built (in a clone: npm install, then npm run build)\n');
  process.exit(1);
}
const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
const mod = new Module(file, module);
mod.filename = file;
mod.paths = Module._nodeModulePaths(path.dirname(file));
script.runInThisContext()(mod.exports, Module.createRequire(file), mod, file, path.dirname(file));

// The build's training run (scripts/bundle.mjs) asks for the bytecode compiled so far.
const cacheOut = process.env.VMCORE_FILTER_CODE_CACHE_OUT;
if (cacheOut) process.on('exit', () => fs.writeFileSync(cacheOut, script.createCachedData()));

mod.exports.main(process.argv).then((code) => {
  process.exitCode = code;
});
