/** Reading makedumpfile's output in tests. */

/** The statistics report of makedumpfile (FORMATS.md §7.3), hex values. */
export function parseReport(text: string): Record<string, number> {
  const keys: Record<string, string> = {
    'Original pages': 'original',
    'Excluded pages': 'excluded',
    'Pages filled with zero': 'zero',
    'Non-private cache pages': 'cache',
    'Private cache pages': 'cachePrivate',
    'User process data pages': 'user',
    'Free pages': 'free',
    'Hwpoison pages': 'hwpoison',
    'Offline pages': 'offline',
    'Remaining pages': 'remaining',
    'Memory Hole': 'memoryHole',
    'Total pages': 'total',
  };
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z -]+?)\s*: 0x([0-9a-f]{16})\s*$/.exec(line);
    // u64 values; makedumpfile's memory-hole counter can wrap below zero (its double count of the text PT_LOAD)
    if (m && keys[m[1]!] && !(keys[m[1]!]! in out)) out[keys[m[1]!]!] = Number(BigInt.asIntN(64, BigInt('0x' + m[2]!)));
  }
  return out;
}
