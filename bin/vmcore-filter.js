#!/usr/bin/env node
// Launcher only: the program is dist/bundle/main.js, built by `npm run build` (tsc, then
// scripts/bundle.mjs) and by `prepare` on install (when the devDependencies are there).
import('../dist/bundle/main.js').then(
  ({ main }) => main(process.argv).then((code) => { process.exitCode = code; }),
  (e) => {
    if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes('dist/bundle/main.js')) throw e;
    // A clone installed with --omit=dev has no TypeScript, hence no build: one line, not a stack.
    process.stderr.write('vmcore-filter: error: dist/ is not built (in a clone: npm install, then npm run build)\n');
    process.exitCode = 1;
  },
);
