/** The version, and what `--version` says about codecs served by a slower fallback. */
import { CODEC_OPTIONS } from '../compress/codec.js';
import { nativePackageMissing } from '../compress/native.js';

/** The package version (also in package.json; test/package checks they agree). */
export const VERSION = '0.1.0';

/**
 * `--version`: the version alone, then one line per codec whose optional native package is not
 * installed (a machine without a C compiler), so the slower fallback is said once, here and in
 * `info`, not on every run.
 */
export function versionText(): string {
  const lines = [VERSION];
  if (nativePackageMissing('lzo')) lines.push(`lzo (${CODEC_OPTIONS.lzo}): npm lzo is not installed; the built-in TypeScript LZO1X compressor serves (about 3x slower to compress)`);
  if (nativePackageMissing('zstd')) lines.push(`zstd (${CODEC_OPTIONS.zstd}): npm zstd-napi is not installed; libzstd in WebAssembly serves (about 3x slower to compress)`);
  return lines.join('\n') + '\n';
}
