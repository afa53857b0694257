import { PAGE_CLASSES } from '../writer/report.js';
/** The map's classes, colours, labels and legend order: one place for the renderer and the tests. */
import { CLASS_NAMES, NR_CLASSES, type PageClassName } from '../filter/classes.js';

/** Map classes: the classifier's, plus `zero` (pages found all-zero by content). */
export type MapClassName = PageClassName | 'zero';
export const MAP_CLASS_NAMES: readonly MapClassName[] = [...CLASS_NAMES, 'zero'];
/** Id of the `zero` map class (after the classifier's ids). */
export const ZERO_CLASS = NR_CLASSES;

/** Fill colours, one per class; distinct at a glance and exact in a screenshot. */
export const MAP_COLOURS: Record<MapClassName, string> = {
  hole: '#d9d9d9',
  free: '#a6d96a',
  hinted: '#1a9850',
  offline: '#6b6b6b',
  hwpoison: '#e31a1c',
  cache: '#9ecae1',
  cache_private: '#3182bd',
  user: '#fdae61',
  hugetlb: '#d95f0e',
  slab: '#c51b7d',
  kernel: '#762a83',
  unknown: '#ffd92f',
  no_struct_page: '#f0f0f0',
  zero: '#ffffff',
};

/** Legend labels. */
export const MAP_LABELS: Record<MapClassName, string> = {
  hole: 'hole (not in the dump)',
  free: 'free',
  hinted: 'hinted free (reported)',
  offline: 'offline (balloon, virtio-mem)',
  hwpoison: 'hwpoison',
  cache: 'page cache',
  cache_private: 'page cache + private',
  user: 'user data (anon)',
  hugetlb: 'hugetlb',
  slab: 'slab',
  kernel: 'kernel',
  unknown: 'undecided (kept)',
  no_struct_page: 'no struct page (not RAM)',
  zero: 'zero-filled',
};

/** Legend order: what is dropped first, then what is kept. */
export const MAP_LEGEND_ORDER: readonly MapClassName[] = [...PAGE_CLASSES, 'hole'];

