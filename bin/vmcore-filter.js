#!/usr/bin/env node
// Launcher only: the program is dist/bundle/main.js, built by `npm run build` (tsc, then
// scripts/bundle.mjs) and by `prepare` on install.
import { main } from '../dist/bundle/main.js';
main(process.argv).then((code) => { process.exitCode = code; });
