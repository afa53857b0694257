#!/usr/bin/env node
// Longer hostile-input run: `npm run fuzz -- --minutes N [--seed S]`. Runs the property suite of
// test/fuzz with a time budget and a random seed (printed); every distinct failure is written as
// a regression fixture under fixtures/regressions/, which test/fuzz/regressions.test.ts replays.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : def;
};
const minutes = Number(opt('minutes', '5'));
const seed = Number(opt('seed', String(Math.floor(Math.random() * 2 ** 31))));
if (!(minutes > 0) || !Number.isInteger(seed)) {
  console.error('usage: npm run fuzz -- [--minutes N] [--seed S]');
  process.exit(2);
}
console.log(`fuzz: ${minutes} min, seed ${seed} (replay with --seed ${seed})`);
const r = spawnSync('npx', ['vitest', 'run', 'test/fuzz/hostile.property.test.ts'], {
  stdio: 'inherit',
  env: { ...process.env, VF_FUZZ_MS: String(minutes * 60_000), VF_FUZZ_SEED: String(seed), VF_FUZZ_RECORD: '1' },
});
if (r.status !== 0) console.log('fuzz: failures were found; new fixtures are in fixtures/regressions/ (review and commit them)');
process.exit(r.status ?? 1);
