import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { simulate, type SimOptions } from '../../src/sim/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-det-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function sha(p: string): string {
  return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

async function run(name: string, o: Partial<SimOptions>) {
  const out = path.join(dir, name);
  const r = await simulate(out, o);
  return { image: sha(out), truth: sha(r.truthPath), r };
}

describe('determinism', () => {
  it('same options give a byte-identical image and truth', async () => {
    for (const o of [
      { seed: 7, memBytes: 96 << 20 },
      { seed: 11, memBytes: 160 << 20, kaslr: true, l5: true, hintedStyle: 'pg-reported' as const, freeContent: 'zero' as const },
    ]) {
      const a = await run('a.img', o);
      const b = await run('b.img', o);
      expect(b.image).toBe(a.image);
      expect(b.truth).toBe(a.truth);
      expect(JSON.stringify(b.r.truth)).toBe(JSON.stringify(a.r.truth));
    }
  });

  it('a different seed gives a different image and truth', async () => {
    const a = await run('c.img', { seed: 1, memBytes: 96 << 20 });
    const b = await run('d.img', { seed: 2, memBytes: 96 << 20 });
    expect(b.image).not.toBe(a.image);
    expect(b.truth).not.toBe(a.truth);
  });

  it('kaslr moves the bases, deterministically per seed', async () => {
    const a = await run('e.img', { seed: 3, memBytes: 256 << 20, kaslr: true });
    const b = await run('f.img', { seed: 4, memBytes: 256 << 20, kaslr: true });
    const la = a.r.truth.layout;
    const lb = b.r.truth.layout;
    expect([la.pageOffset, la.vmemmap, la.kernelOffset, la.physBase].join()).not.toBe([lb.pageOffset, lb.vmemmap, lb.kernelOffset, lb.physBase].join());
    expect(BigInt(la.physBase) >= 0n).toBe(true);
  });
});
