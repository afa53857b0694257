/**
 * Codec registry: load a codec by name, or list which codecs work on this machine and why not.
 */
import { VmcoreError } from '../errors.js';
import { CODEC_FLAGS, CODEC_NAMES, CODEC_OPTIONS, codecNameForFlag, type CodecName, type PageCodec } from './codec.js';
import { createLzoCodec } from './lzo.js';
import { createSnappyCodec } from './snappy.js';
import { createZlibCodec } from './zlib.js';
import { createZstdCodec } from './zstd.js';

export { CODEC_FLAGS, CODEC_NAMES, CODEC_OPTIONS, codecNameForFlag };
export type { CodecName, PageCodec };
export { compressBatch, type CompressedBatch } from './batch.js';

/** Where each codec comes from, and the npm package a native one needs. */
const SOURCES: Record<CodecName, { pkg: string | null; create: () => PageCodec }> = {
  zlib: { pkg: null, create: createZlibCodec },
  lzo: { pkg: 'lzo', create: createLzoCodec },
  snappy: { pkg: 'snappy', create: createSnappyCodec },
  zstd: { pkg: 'zstd-napi', create: createZstdCodec },
};

const cache = new Map<CodecName, PageCodec | VmcoreError>();

/**
 * The codec `name`, loaded once per process. A codec whose package cannot be loaded throws
 * `VmcoreError('E_CODEC_UNAVAILABLE')` naming the option, the package and the cause.
 */
export function loadCodec(name: CodecName): PageCodec {
  let c = cache.get(name);
  if (c === undefined) {
    const src = SOURCES[name];
    if (!src) throw new VmcoreError('E_CODEC_UNAVAILABLE', `unknown codec ${String(name)}`, { option: String(name) });
    try {
      c = src.create();
    } catch (e) {
      c = codecLoadError(name, e);
    }
    cache.set(name, c);
  }
  if (c instanceof VmcoreError) throw c;
  return c;
}

/** The error for a codec whose package failed to load (first line of the cause). */
export function codecLoadError(name: CodecName, cause: unknown): VmcoreError {
  // Already one line naming the codec and the file (the single executable's addon loader).
  if (cause instanceof VmcoreError && cause.code === 'E_CODEC_UNAVAILABLE') return cause;
  const pkg = SOURCES[name].pkg ?? name;
  const why = (cause instanceof Error ? cause.message : String(cause)).split('\n')[0];
  return new VmcoreError('E_CODEC_UNAVAILABLE', `option ${CODEC_OPTIONS[name]} needs package ${pkg}, which failed to load: ${why}`, {
    option: CODEC_OPTIONS[name],
    key: pkg,
  });
}

/** The codec for a page_desc flag (1, 2, 4, 0x20); an unknown bit throws E_FORMAT. */
export function loadCodecForFlag(flag: number): PageCodec {
  const name = codecNameForFlag(flag);
  if (!name) throw new VmcoreError('E_FORMAT', `unknown compression flag ${'0x' + flag.toString(16)}`);
  return loadCodec(name);
}

/** What one codec can do on this machine. */
export interface CodecCapability {
  name: CodecName;
  flag: number;
  option: string;
  available: boolean;
  /** Implementation (package and version) when available. */
  implementation?: string;
  /** Why it is not available. */
  reason?: string;
}

/** Try to load every codec; report which work here and why the others do not. */
export function codecCapabilities(): CodecCapability[] {
  return CODEC_NAMES.map((name) => {
    const base = { name, flag: CODEC_FLAGS[name], option: CODEC_OPTIONS[name] };
    try {
      const c = loadCodec(name);
      return { ...base, available: true, implementation: c.implementation };
    } catch (e) {
      return { ...base, available: false, reason: (e as Error).message };
    }
  });
}
