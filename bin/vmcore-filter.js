#!/usr/bin/env node
// Launcher only: the program lives in dist/cli (built by `npm run build` / `prepare`).
import { main } from '../dist/cli/main.js';
main(process.argv).then((code) => { process.exitCode = code; });
