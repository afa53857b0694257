/** Hard limits on sizes read from untrusted input, checked before they are used. */
export const LIMITS = {
  /** ELF program headers: PN_XNUM allows more, but no real vmcore has this many. */
  maxPhdrs: 1 << 20,
  /** Note segment bytes (per-CPU notes + VMCOREINFO + device dumps). */
  maxNoteBytes: 64 << 20,
  /** One note's descriptor. */
  maxNoteDesc: 16 << 20,
  /** VMCOREINFO text (the kernel caps it at one page; be generous). */
  maxVmcoreinfo: 1 << 20,
  /** Largest physical address we accept (52 bits, x86_64 5-level). */
  maxPhysAddrBits: 52,
  /** Largest max_mapnr (pfns): 2^40 = 4 PiB of 4 KiB pages. */
  maxMapnr: 2 ** 40,
  /** Page-table walk depth, to refuse loops. */
  maxPageTableLevels: 5,
} as const;
