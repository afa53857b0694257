/**
 * A tiny fixed-layout struct codec: one table of (offset, kind) per struct, used both to decode
 * (reader) and to encode (writer), so that a field's place is written down once.
 */

export type FieldKind = 'u32' | 'i32' | 'u64' | 'i64' | 'str';
/** [offset, kind] for numbers; [offset, 'str', length] for NUL-padded latin1 strings. */
export type FieldDef = readonly [number, 'u32' | 'i32' | 'u64' | 'i64'] | readonly [number, 'str', number];
export type FieldDefs = Readonly<Record<string, FieldDef>>;

type ValueOf<F extends FieldDef> = F[1] extends 'u64' | 'i64' ? bigint : F[1] extends 'str' ? string : number;
/** The decoded form of a struct: bigint for 64-bit fields, number for 32-bit, string for strings. */
export type StructValue<D extends FieldDefs> = { -readonly [K in keyof D]: ValueOf<D[K]> };

export interface Struct<D extends FieldDefs> {
  readonly size: number;
  readonly fields: D;
  decode(b: Uint8Array, off?: number): StructValue<D>;
  /** Encode into `b` at `off` (bytes not covered by a field are left as they are). */
  encode(v: StructValue<D>, b: Uint8Array, off?: number): void;
}

/** Define a little-endian struct of `size` bytes. */
export function defineStruct<D extends FieldDefs>(size: number, fields: D): Struct<D> {
  const entries = Object.entries(fields) as [string, FieldDef][];
  return {
    size,
    fields,
    decode(b, off = 0) {
      const v = new DataView(b.buffer, b.byteOffset + off, size);
      const out: Record<string, unknown> = {};
      for (const [name, f] of entries) {
        const o = f[0];
        switch (f[1]) {
          case 'u32':
            out[name] = v.getUint32(o, true);
            break;
          case 'i32':
            out[name] = v.getInt32(o, true);
            break;
          case 'u64':
            out[name] = v.getBigUint64(o, true);
            break;
          case 'i64':
            out[name] = v.getBigInt64(o, true);
            break;
          case 'str': {
            const bytes = b.subarray(off + o, off + o + f[2]);
            const nul = bytes.indexOf(0);
            out[name] = Buffer.from(bytes.subarray(0, nul < 0 ? bytes.length : nul)).toString('latin1');
            break;
          }
        }
      }
      return out as StructValue<D>;
    },
    encode(val, b, off = 0) {
      const v = new DataView(b.buffer, b.byteOffset + off, size);
      const rec = val as Record<string, number | bigint | string>;
      for (const [name, f] of entries) {
        const o = f[0];
        const x = rec[name]!;
        switch (f[1]) {
          case 'u32':
            v.setUint32(o, x as number, true);
            break;
          case 'i32':
            v.setInt32(o, x as number, true);
            break;
          case 'u64':
            v.setBigUint64(o, x as bigint, true);
            break;
          case 'i64':
            v.setBigInt64(o, x as bigint, true);
            break;
          case 'str': {
            const s = Buffer.from(x as string, 'latin1');
            b.fill(0, off + o, off + o + f[2]);
            b.set(s.subarray(0, f[2]), off + o);
            break;
          }
        }
      }
    },
  };
}
