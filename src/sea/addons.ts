/**
 * The single executable's codec addons. Each native addon (.node file) is an asset of the
 * executable (scripts/sea.mjs embeds them); loading one writes it to a file of its own — mode
 * 0600, in a fresh mkdtemp directory under TMPDIR — dlopens it and removes the file and the
 * directory at once (the mapping outlives the name), so nothing is left behind even if the
 * process is killed later. Each worker thread does the same for its own copy.
 *
 * `VMCORE_FILTER_ADDON_DIR=DIR` loads `DIR/lzo.node`, `DIR/snappy.node`, `DIR/zstd.node` instead
 * (an addon rebuilt for another C library, without rebuilding the executable).
 *
 * This module runs only inside the esbuild bundle scripts/sea.mjs builds: its `require` calls are
 * resolved by esbuild (package.json files, and zstd-napi's JavaScript with its `../binding` turned
 * into {@link dlopenAddon}`('zstd')`).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getAsset } from 'node:sea';
import { VmcoreError } from '../errors.js';
import { CODEC_OPTIONS } from '../compress/codec.js';
import type { AddonCodec, CodecPackage, CodecPackageLoader } from '../compress/native.js';


/** The asset key of a codec's addon. */
export function addonAsset(codec: AddonCodec): string {
  return `addons/${codec}.node`;
}

function unavailable(codec: AddonCodec, file: string, why: string): VmcoreError {
  const option = CODEC_OPTIONS[codec];
  // dlopen's message starts with the file name, which the line already gives.
  const reason = (why.startsWith(`${file}: `) ? why.slice(file.length + 2) : why).split('\n')[0];
  return new VmcoreError('E_CODEC_UNAVAILABLE', `codec ${codec} (${option}): cannot load its native addon ${file}: ${reason}`, {
    option,
    path: file,
  });
}

function dlopen(codec: AddonCodec, file: string): unknown {
  const m = { exports: {} as unknown };
  try {
    process.dlopen(m, file, os.constants.dlopen.RTLD_NOW);
  } catch (e) {
    throw unavailable(codec, file, (e as Error).message);
  }
  return m.exports;
}

/** Load `codec`'s addon: from VMCORE_FILTER_ADDON_DIR if set, else from the executable's asset. */
export function dlopenAddon(codec: AddonCodec): unknown {
  const dir = process.env.VMCORE_FILTER_ADDON_DIR;
  if (dir) {
    const file = path.resolve(dir, `${codec}.node`);
    if (!fs.existsSync(file)) throw unavailable(codec, file, 'no such file (VMCORE_FILTER_ADDON_DIR)');
    return dlopen(codec, file);
  }
  const key = addonAsset(codec);
  let bytes: ArrayBuffer;
  try {
    bytes = getAsset(key);
  } catch (e) {
    throw unavailable(codec, `${process.execPath} (asset ${key})`, `not embedded: ${(e as Error).message}`);
  }
  let tmp: string;
  try {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vmcore-filter-'));
  } catch (e) {
    throw unavailable(codec, path.join(os.tmpdir(), `vmcore-filter-XXXXXX/${codec}.node`), (e as Error).message);
  }
  const file = path.join(tmp, `${codec}.node`);
  try {
    try {
      fs.writeFileSync(file, new Uint8Array(bytes), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      throw unavailable(codec, file, (e as Error).message);
    }
    return dlopen(codec, file);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** A {@link CodecPackageLoader} over the embedded addons. */
export const loadEmbeddedPackage: CodecPackageLoader = (codec: AddonCodec): CodecPackage => {
  switch (codec) {
    case 'lzo':
      return { mod: dlopenAddon('lzo'), version: (require('lzo/package.json') as { version: string }).version };
    case 'snappy':
      // snappy's index.js only picks the platform's addon and re-exports it.
      return { mod: dlopenAddon('snappy'), version: (require('snappy/package.json') as { version: string }).version };
    case 'zstd':
      return { mod: require('zstd-napi'), version: (require('zstd-napi/package.json') as { version: string }).version };
  }
};
