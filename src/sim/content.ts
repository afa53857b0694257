/**
 * Page contents. Every non-zero page is a copy of one of a small pool of templates (text-like,
 * sparse, code-like, random: varied compressibility), stamped with its pfn as a u64 LE in its
 * first 8 bytes and a per-page hash at bytes 8..11, so a misplaced page is caught and no two
 * pages are identical. Deterministic from the seed; fast (one 4 KiB copy per page).
 */
import { Rng, hash32 } from './rng.js';

export const TEMPLATE_STYLES = ['text', 'sparse', 'code', 'random'] as const;
export type TemplateStyle = (typeof TEMPLATE_STYLES)[number];

const PER_STYLE = 4;
const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you ' +
  'kernel page memory dump free buddy zone node section struct list head order cache slab anon file inode dentry ' +
  'mapping private reserved offline hwpoison vmcore crash kexec pfn vmemmap direct map table entry flags lock'
).split(' ');

/** The template pool of one seed. */
export class ContentPool {
  private readonly templates: Buffer[] = [];
  constructor(
    readonly seed: number,
    /** Page size: pages above 4 KiB are 4 KiB template pieces, each stamped and styled on its own. */
    readonly pageSize = 4096,
  ) {
    const rng = new Rng(seed ^ 0x5eed1e55);
    for (const style of TEMPLATE_STYLES) {
      for (let i = 0; i < PER_STYLE; i++) this.templates.push(makeTemplate(style, rng));
    }
  }

  /**
   * Write page `pfn`'s content into `buf` at `off`. `styles` is a bit set over
   * TEMPLATE_STYLES (1 text, 2 sparse, 4 code, 8 random) the page class allows.
   */
  fill(pfn: number, styles: number, buf: Buffer, off: number): void {
    this.fillPiece(pfn, hash32(this.seed, pfn), styles, buf, off);
    for (let sub = 1; sub < this.pageSize / 4096; sub++) this.fillPiece(pfn, hash32(this.seed ^ (sub * 0x9e3779b1), pfn), styles, buf, off + sub * 4096);
  }

  private fillPiece(pfn: number, h: number, styles: number, buf: Buffer, off: number): void {
    let choices = 0;
    for (let s = 0; s < 4; s++) if (styles & (1 << s)) choices++;
    let pick = h % choices;
    let style = 0;
    for (let s = 0; s < 4; s++) {
      if (!(styles & (1 << s))) continue;
      if (pick-- === 0) {
        style = s;
        break;
      }
    }
    const t = this.templates[style * PER_STYLE + ((h >>> 8) % PER_STYLE)]!;
    t.copy(buf, off);
    buf.writeUInt32LE(pfn % 4294967296, off);
    buf.writeUInt32LE(Math.floor(pfn / 4294967296), off + 4);
    buf.writeUInt32LE(h, off + 8);
  }
}

/** Style masks by page class. */
export const STYLES = {
  any: 0xf,
  kernelText: 4 | 8,
  kernelData: 1 | 2 | 4,
  cache: 1 | 2 | 8,
  anon: 2 | 4 | 8,
  slab: 1 | 2,
  stale: 1 | 2 | 4 | 8,
} as const;

function makeTemplate(style: TemplateStyle, rng: Rng): Buffer {
  const b = Buffer.alloc(4096);
  switch (style) {
    case 'text': {
      let p = 16;
      while (p < 4096) {
        const w = WORDS[rng.int(WORDS.length)]!;
        const s = (rng.chance(0.08) ? '\n' : ' ') + w;
        p += b.write(s, p, 'latin1');
      }
      break;
    }
    case 'sparse': {
      const n = 4 + rng.int(24);
      for (let i = 0; i < n; i++) b.writeUInt32LE((rng.u32() | 1) >>> 0, 16 + 4 * rng.int(1020));
      break;
    }
    case 'code': {
      // short random "instructions" repeated with variation: compresses moderately
      const motifs = Array.from({ length: 16 }, () => Buffer.from(Array.from({ length: 3 + rng.int(8) }, () => rng.int(256))));
      let p = 16;
      while (p < 4096) {
        const m = motifs[rng.int(motifs.length)]!;
        p += m.copy(b, p);
        if (rng.chance(0.3) && p < 4096) b[p++] = rng.int(256);
      }
      break;
    }
    case 'random':
      for (let p = 16; p < 4096; p += 4) b.writeUInt32LE(rng.u32(), p);
      break;
  }
  b[4095] |= 0x80; // never all zero past the stamp
  return b;
}
