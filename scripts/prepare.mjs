// npm's `prepare` (on `npm install` in a clone, and before `npm pack`): build when the dev
// dependencies are there. `npm ci --omit=dev` in a clone has no TypeScript: say so and succeed,
// instead of failing the install with tsc's exit 127 (the tarball ships dist/ already built).
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';

const require = createRequire(import.meta.url);
try {
  require.resolve('typescript/package.json');
} catch {
  console.error('vmcore-filter: devDependencies not installed: not building dist/ (npm install, then npm run build)');
  process.exit(0);
}
execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { stdio: 'inherit' });
