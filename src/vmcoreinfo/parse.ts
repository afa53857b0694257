import { VmcoreError } from '../errors.js';
import { LIMITS } from '../io/limits.js';

/** One parsed VMCOREINFO line, raw text kept. */
export interface VmcoreinfoLine {
  /** 1-based line number in the text. */
  line: number;
  raw: string;
  /** Full key as written, e.g. `OFFSET(page.flags)`. */
  key: string;
  /** Key kind: SYMBOL, SIZE, OFFSET, LENGTH, NUMBER, or the plain key (OSRELEASE, PAGESIZE, ...). */
  kind: string;
  /** The name inside the parentheses, e.g. `page.flags`; the key itself for plain keys. */
  name: string;
  value: string;
}

const PAREN_KINDS = new Set(['SYMBOL', 'SIZE', 'OFFSET', 'LENGTH', 'NUMBER', 'SRCFILE']);
const KEY_RE = /^([A-Z_]+)\(([^()=]+)\)$/;
const PLAIN_KEY_RE = /^[A-Za-z0-9_\-]+$/;

/**
 * The VMCOREINFO of one kernel: raw lines plus typed accessors. Values are decoded with the
 * base each kind uses (FORMATS.md §2.2): SYMBOL and KERNELOFFSET hex without 0x; SIZE, OFFSET,
 * LENGTH, NUMBER, PAGESIZE, CRASHTIME decimal (NUMBER signed), with a 0x-hex fallback for the
 * ad-hoc NUMBER lines the kernel writes by hand. The first line of a key wins, as makedumpfile.
 */
export class Vmcoreinfo {
  readonly lines: VmcoreinfoLine[];
  private readonly byKey = new Map<string, VmcoreinfoLine>();

  constructor(readonly text: string, lines: VmcoreinfoLine[]) {
    this.lines = lines;
    for (const l of lines) if (!this.byKey.has(l.key)) this.byKey.set(l.key, l);
  }

  /** Every key this kernel exports, in emission order. */
  get keys(): string[] {
    return [...this.byKey.keys()];
  }
  has(key: string): boolean {
    return this.byKey.has(key);
  }
  raw(key: string): string | undefined {
    return this.byKey.get(key)?.value;
  }
  get osrelease(): string | undefined {
    return this.raw('OSRELEASE');
  }
  get pageSize(): number | undefined {
    const v = this.decimal('PAGESIZE');
    return v === undefined ? undefined : Number(v);
  }
  get crashTime(): number | undefined {
    const v = this.decimal('CRASHTIME');
    return v === undefined ? undefined : Number(v);
  }
  get kernelOffset(): bigint | undefined {
    return this.hexValue('KERNELOFFSET');
  }
  symbol(name: string): bigint | undefined {
    return this.hexValue(`SYMBOL(${name})`);
  }
  size(name: string): number | undefined {
    return this.num(`SIZE(${name})`);
  }
  offset(name: string): number | undefined {
    return this.num(`OFFSET(${name})`);
  }
  length(name: string): number | undefined {
    return this.num(`LENGTH(${name})`);
  }
  /** A NUMBER(), signed, as bigint (some are full 64-bit addresses). */
  number(name: string): bigint | undefined {
    return this.decimal(`NUMBER(${name})`);
  }
  /** A NUMBER() that must fit in a JS number. */
  numberAsInt(name: string): number | undefined {
    const v = this.number(name);
    return v === undefined ? undefined : Number(v);
  }

  /** Like symbol/size/offset but throws E_VMCOREINFO naming the key when it is missing. */
  require<T>(key: string, v: T | undefined): T {
    if (v === undefined) throw new VmcoreError('E_VMCOREINFO', `VMCOREINFO lacks ${key}`, { key });
    return v;
  }

  private num(key: string): number | undefined {
    const v = this.decimal(key);
    if (v === undefined) return undefined;
    if (v < BigInt(Number.MIN_SAFE_INTEGER) || v > BigInt(Number.MAX_SAFE_INTEGER)) {
      const l = this.byKey.get(key)!;
      throw new VmcoreError('E_VMCOREINFO', `VMCOREINFO line ${l.line}: ${key} value out of range`, { key, line: l.line });
    }
    return Number(v);
  }
  private decimal(key: string): bigint | undefined {
    const l = this.byKey.get(key);
    if (!l) return undefined;
    const v = parseDecimalOrHex(l.value);
    if (v === undefined) {
      throw new VmcoreError('E_VMCOREINFO', `VMCOREINFO line ${l.line}: ${key} has a non-numeric value "${l.value}"`, {
        key,
        line: l.line,
      });
    }
    return v;
  }
  private hexValue(key: string): bigint | undefined {
    const l = this.byKey.get(key);
    if (!l) return undefined;
    if (!/^(0x)?[0-9a-fA-F]{1,16}$/.test(l.value)) {
      throw new VmcoreError('E_VMCOREINFO', `VMCOREINFO line ${l.line}: ${key} has a non-hex value "${l.value}"`, {
        key,
        line: l.line,
      });
    }
    return BigInt('0x' + l.value.replace(/^0x/, ''));
  }
}

/** strtol(…,10) then strtol(…,16) as makedumpfile does: "-129", "0xffff…" both accepted. */
export function parseDecimalOrHex(s: string): bigint | undefined {
  if (/^-?[0-9]+$/.test(s)) return BigInt(s);
  if (/^-?0x[0-9a-fA-F]+$/.test(s)) return s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s);
  return undefined;
}

/**
 * Parse VMCOREINFO text. A line that is not `KEY=VALUE` with a well-formed key is an error
 * naming the line; empty lines and trailing NULs are ignored.
 */
export function parseVmcoreinfo(text: string): Vmcoreinfo {
  if (text.length > LIMITS.maxVmcoreinfo) {
    throw new VmcoreError('E_LIMIT', `VMCOREINFO is ${text.length} bytes, more than ${LIMITS.maxVmcoreinfo}`);
  }
  const nul = text.indexOf('\0');
  if (nul >= 0) text = text.slice(0, nul);
  const out: VmcoreinfoLine[] = [];
  const rows = text.split('\n');
  for (let i = 0; i < rows.length; i++) {
    const raw = rows[i]!;
    if (raw === '') continue;
    const eq = raw.indexOf('=');
    const lineNo = i + 1;
    if (eq <= 0) {
      throw new VmcoreError('E_VMCOREINFO', `VMCOREINFO line ${lineNo} is malformed: "${truncate(raw)}" (no KEY=VALUE)`, {
        line: lineNo,
      });
    }
    const key = raw.slice(0, eq);
    const value = raw.slice(eq + 1);
    let kind: string;
    let name: string;
    const m = KEY_RE.exec(key);
    if (m) {
      kind = m[1]!;
      name = m[2]!;
      if (!PAREN_KINDS.has(kind)) {
        throw new VmcoreError('E_VMCOREINFO', `VMCOREINFO line ${lineNo} has an unknown key kind "${truncate(kind)}"`, {
          line: lineNo,
        });
      }
    } else if (PLAIN_KEY_RE.test(key)) {
      kind = key;
      name = key;
    } else {
      throw new VmcoreError('E_VMCOREINFO', `VMCOREINFO line ${lineNo} has a malformed key "${truncate(key)}"`, {
        line: lineNo,
      });
    }
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x08\x0b-\x1f\x7f-\xff]/.test(value)) {
      throw new VmcoreError('E_VMCOREINFO', `VMCOREINFO line ${lineNo} (${truncate(key)}) has non-text bytes`, { line: lineNo, key });
    }
    out.push({ line: lineNo, raw, key, kind, name, value });
  }
  return new Vmcoreinfo(text, out);
}

function truncate(s: string): string {
  const printable = s.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 40 ? printable.slice(0, 40) + '…' : printable;
}
