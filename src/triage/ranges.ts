/** Physical memory as runs of pfns, and the zones (x86_64 or arm64) they fall in. */
import type { PfnSet } from '../io/pfn-set.js';

/** A run of pfns [start, end). */
export interface PfnRange {
  start: number;
  end: number;
}

/** At most this many ranges are listed; the rest are folded into the last one reported. */
export const MAX_RANGES = 1024;

/**
 * Runs of members of `bm` (a Bitmap, or a reader's bounded pfn set), at most `max` of them
 * (`truncated` says whether more exist).
 */
export function bitmapRuns(bm: PfnSet, max = MAX_RANGES): { ranges: PfnRange[]; truncated: boolean } {
  const ranges: PfnRange[] = [];
  let p = bm.nextSet(0);
  while (p >= 0) {
    const e = bm.nextClear(p);
    if (ranges.length === max) return { ranges, truncated: true };
    ranges.push({ start: p, end: e });
    p = e >= bm.nbits ? -1 : bm.nextSet(e);
  }
  return { ranges, truncated: false };
}

/** x86_64 zones by physical address (ZONE_DMA below 16 MiB, ZONE_DMA32 below 4 GiB). */
export const ZONES = [
  { name: 'DMA', endBytes: 16 * 2 ** 20 },
  { name: 'DMA32', endBytes: 4 * 2 ** 30 },
  { name: 'Normal', endBytes: Number.POSITIVE_INFINITY },
] as const;
export type ZoneName = (typeof ZONES)[number]['name'];

/**
 * arm64 zones by physical address (6.12 without a firmware DMA limit): ZONE_DMA below 4 GiB
 * (zone_dma_limit of 32 bits), ZONE_DMA32 empty, then Normal.
 */
export const ARM64_ZONES: readonly { name: ZoneName; endBytes: number }[] = [
  { name: 'DMA', endBytes: 4 * 2 ** 30 },
  { name: 'Normal', endBytes: Number.POSITIVE_INFINITY },
];

/** The zones as pfn ranges for `pageSize`, clipped to [0, maxMapnr); empty zones are left out. */
export function zoneRanges(pageSize: number, maxMapnr: number, arch: 'x86_64' | 'arm64' = 'x86_64'): { name: ZoneName; start: number; end: number }[] {
  const out: { name: ZoneName; start: number; end: number }[] = [];
  let start = 0;
  for (const z of arch === 'arm64' ? ARM64_ZONES : ZONES) {
    const end = Math.min(maxMapnr, z.endBytes === Number.POSITIVE_INFINITY ? maxMapnr : Math.floor(z.endBytes / pageSize));
    if (end > start) out.push({ name: z.name, start, end });
    start = Math.max(start, end);
  }
  return out;
}

/** "0x1000000" for a pfn boundary's physical address (bigint-safe). */
export function physHex(pfn: number, pageSize: number): string {
  return '0x' + (BigInt(pfn) * BigInt(pageSize)).toString(16);
}
