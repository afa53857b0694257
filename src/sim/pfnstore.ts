/**
 * Per-pfn state of the simulator, stored per present section: one typed array per section that
 * has memory, none for the holes between them. A machine with RAM at 60 TiB (max_mapnr about
 * 2^34) then costs memory for its present sections only. Pfns go past 2^32, so indexes are
 * computed with division, never with 32-bit shifts.
 */
import { VmcoreError } from '../errors.js';

type Bytes = Uint8Array | Int8Array;

/** A byte per pfn (or per pageblock) over the present sections; `dflt` elsewhere. */
export class SectionArray<T extends Bytes = Uint8Array> {
  /** Present section numbers, ascending. */
  readonly sections: readonly number[];
  /** One past the last index covered (the end of the last section). */
  readonly length: number;
  private readonly chunks = new Map<number, T>();
  private lastSection = -1;
  private lastChunk: T | undefined;

  constructor(
    sections: readonly number[],
    /** Indexes per section (a power of two). */
    readonly perSection: number,
    make: (n: number) => T,
    readonly dflt = 0,
  ) {
    this.sections = [...sections].sort((a, b) => a - b);
    for (const s of this.sections) this.chunks.set(s, make(perSection).fill(dflt) as T);
    const last = this.sections[this.sections.length - 1];
    this.length = last === undefined ? 0 : (last + 1) * perSection;
  }

  private chunk(i: number): T | undefined {
    const s = Math.floor(i / this.perSection);
    if (s !== this.lastSection) {
      this.lastSection = s;
      this.lastChunk = this.chunks.get(s);
    }
    return this.lastChunk;
  }

  get(i: number): number {
    const c = this.chunk(i);
    return c ? c[i - this.lastSection * this.perSection]! : this.dflt;
  }

  set(i: number, v: number): void {
    const c = this.chunk(i);
    if (!c) throw new VmcoreError('E_INTERNAL', `simulator: pfn ${i} is in no present section`);
    c[i - this.lastSection * this.perSection] = v;
  }

  /** Set [start, end) to v; the range must lie in present sections. */
  fill(v: number, start: number, end: number): void {
    let i = start;
    while (i < end) {
      const c = this.chunk(i);
      const base = this.lastSection * this.perSection;
      const stop = Math.min(end, base + this.perSection);
      if (!c) throw new VmcoreError('E_INTERNAL', `simulator: pfns ${i}..${stop} are in no present section`);
      c.fill(v, i - base, stop - base);
      i = stop;
    }
  }

  /** Present index ranges [start, end) in ascending order (adjacent sections merged). */
  *ranges(): Generator<[number, number]> {
    let a = -1;
    let b = -1;
    for (const s of this.sections) {
      const start = s * this.perSection;
      if (start === b) {
        b += this.perSection;
        continue;
      }
      if (a >= 0) yield [a, b];
      a = start;
      b = start + this.perSection;
    }
    if (a >= 0) yield [a, b];
  }

  /** Present indexes, ascending. */
  *indexes(): Generator<number> {
    for (const [a, b] of this.ranges()) for (let i = a; i < b; i++) yield i;
  }
}

/** A byte per pfn over the present sections. */
export function pfnBytes(sections: readonly number[], pagesPerSection: number, dflt = 0): SectionArray<Uint8Array> {
  return new SectionArray(sections, pagesPerSection, (n) => new Uint8Array(n), dflt);
}

/** A signed byte per pfn over the present sections. */
export function pfnInt8(sections: readonly number[], pagesPerSection: number, dflt = 0): SectionArray<Int8Array> {
  return new SectionArray(sections, pagesPerSection, (n) => new Int8Array(n), dflt);
}

/** Runs [start, count, value] of equal values over [0, end): absent sections read as `dflt`. */
export function* valueRuns(a: SectionArray<Bytes>, end: number): Generator<[number, number, number]> {
  let runStart = 0;
  let runValue = a.dflt;
  let pos = 0; // everything below pos is accounted for
  const emit = function* (v: number, upTo: number): Generator<[number, number, number]> {
    if (v !== runValue) {
      if (pos > runStart) yield [runStart, pos - runStart, runValue];
      runStart = pos;
      runValue = v;
    }
    pos = upTo;
  };
  for (const [ra, rb] of a.ranges()) {
    if (ra >= end) break;
    if (ra > pos) yield* emit(a.dflt, ra);
    const stop = Math.min(rb, end);
    for (let i = ra; i < stop; ) {
      const v = a.get(i);
      let j = i + 1;
      while (j < stop && a.get(j) === v) j++;
      yield* emit(v, j);
      i = j;
    }
  }
  if (end > pos) yield* emit(a.dflt, end);
  if (pos > runStart) yield [runStart, pos - runStart, runValue];
}
