/**
 * What the x86_64 and arm64 page-table builders share: table pages kept in a pfn → bytes map
 * (allocated on first use by a caller-supplied allocator), and one step of a walk that makes
 * the next-level table where the entry is empty. The entry formats stay with each architecture.
 */
import { VmcoreError, hex } from '../errors.js';

export abstract class TablePages {
  /** Table pages allocated (not counting the top one). */
  tablePages = 0;
  constructor(
    protected readonly tableBytes: number,
    readonly topPfn: number,
    private readonly allocTable: () => number,
    protected readonly pages: Map<number, Buffer>,
    /** Names the builder in errors ("page tables", "arm64 page tables"). */
    private readonly what: string,
  ) {
    this.page(topPfn);
  }

  /** The entry pointing at a table page. */
  protected abstract tableEntry(pfn: number): bigint;
  /** Whether a non-empty entry points at a table (not a large page / block). */
  protected abstract isTable(e: bigint): boolean;
  /** The table page a table entry points at. */
  protected abstract tablePfn(e: bigint): number;

  protected page(pfn: number): Buffer {
    let b = this.pages.get(pfn);
    if (!b) {
      b = Buffer.alloc(this.tableBytes);
      this.pages.set(pfn, b);
    }
    return b;
  }

  /** Write leaf entry `e` at index idx of table page b (mapping `va`); a second mapping is an error. */
  protected setLeaf(b: Buffer, idx: number, e: bigint, va: bigint): void {
    if (b.readBigUInt64LE(idx * 8) !== 0n) throw new VmcoreError('E_INTERNAL', `${this.what}: ${hex(va)} mapped twice`);
    b.writeBigUInt64LE(e, idx * 8);
  }

  /** The table under entry idx of b on the way to `va`, made when the entry is empty. */
  protected childTable(b: Buffer, idx: number, va: bigint, leafName: string): number {
    let e = b.readBigUInt64LE(idx * 8);
    if (e === 0n) {
      const pfn = this.allocTable();
      this.page(pfn);
      this.tablePages++;
      e = this.tableEntry(pfn);
      b.writeBigUInt64LE(e, idx * 8);
    } else if (!this.isTable(e)) {
      throw new VmcoreError('E_INTERNAL', `${this.what}: ${hex(va)} lies under a ${leafName}`);
    }
    return this.tablePfn(e);
  }
}
