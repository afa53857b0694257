/**
 * What a simulated kernel generation can express, derived from its profile: how reported free
 * blocks are marked, which page types it writes (exported or not), and its unaccepted memory.
 * Shared by the machine builder, the struct page encoder and the ground truth, so the three
 * agree on what each generation can encode.
 */
import type { KernelProfile } from '../mm/profiles.js';
import type { PageTypeName } from '../mm/pagetype.js';
import { MAX_ORDER, MIGRATE, type BuddyAllocator } from './buddy.js';
import type { HintedStyle, SimOptions } from './options.js';
import type { Rng } from './rng.js';

/**
 * How reported (hinted) free blocks are marked on this generation: the requested style where
 * the kernel can encode it, else the one it can ('pg-reported' in the top-byte scheme), or
 * 'none' when the kernel has no free page reporting at all (before 5.7: such blocks are free).
 */
export function hintingOf(profile: KernelProfile, opts: Pick<SimOptions, 'hintedStyle'>): HintedStyle | 'none' {
  if (profile.hinting === 'none') return 'none';
  if (profile.hinting === 'pg-reported') return 'pg-reported';
  return opts.hintedStyle;
}

/** The value the kernel writes for page type `t` (exported or not), if it has the type. */
export function pageTypeValue(profile: KernelProfile, t: PageTypeName): number | undefined {
  return profile.pageTypes[t] ?? profile.hiddenPageTypes?.[t];
}

/** Whether a dump of this generation says which pages are offline (NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)). */
export function exportsOffline(profile: KernelProfile): boolean {
  return profile.pageTypes.offline !== undefined;
}

/** Fraction of managed memory left unaccepted at boot on generations with lazy acceptance. */
export const UNACCEPTED_FRACTION = 0.08;

/**
 * Lazy memory acceptance (6.5+ confidential guests): memory not yet accepted never reaches the
 * buddy allocator; it waits in MAX_ORDER blocks on zone->unaccepted_pages, the first page of
 * each block typed PageUnaccepted. Takes those blocks out of the allocator before the workload
 * runs; returns their head pfns.
 */
export function takeUnacceptedBlocks(profile: KernelProfile, buddy: BuddyAllocator, rng: Rng): number[] {
  if (!profile.unaccepted) return [];
  const order = MAX_ORDER - 1;
  const managed = buddy.managed.reduce((a, b) => a + b, 0);
  const want = Math.max(1, Math.floor((managed * UNACCEPTED_FRACTION) / 2 ** order));
  const heads: number[] = [];
  for (let i = 0; i < want; i++) {
    // not every eligible block: leave a seeded few accepted
    if (i > 0 && rng.chance(0.25)) continue;
    const pfn = buddy.alloc(order, MIGRATE.MOVABLE);
    if (pfn < 0) break;
    heads.push(pfn);
  }
  return heads;
}
