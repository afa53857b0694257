/**
 * Where the native codec packages come from. By default they are resolved in node_modules, as
 * npm installed them; the single executable (src/sea) installs a loader that takes each addon from
 * the executable's own assets instead ({@link setCodecPackageLoader}). The codecs ask only for a
 * package's module and version, so they are the same code in both.
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The codecs whose implementation is a native addon. */
export type AddonCodec = 'lzo' | 'snappy' | 'zstd';

/**
 * One loaded codec package: for `lzo` the addon itself (node_lzo.node: `compress(in, out)`), for
 * `snappy` the package's exports (its index.js re-exports the addon), for `zstd` zstd-napi's
 * JavaScript API over its addon.
 */
export interface CodecPackage {
  mod: unknown;
  version: string;
}

/** Loads a codec package or throws; a VmcoreError('E_CODEC_UNAVAILABLE') is reported as it is. */
export type CodecPackageLoader = (codec: AddonCodec) => CodecPackage;

function fromNodeModules(codec: AddonCodec): CodecPackage {
  const require = createRequire(import.meta.url);
  switch (codec) {
    case 'lzo': {
      // The package's own index.js wraps the addon in an API we do not use; load the addon.
      const dir = path.dirname(require.resolve('lzo/package.json'));
      const version = (require('lzo/package.json') as { version: string }).version;
      return { mod: require(path.join(dir, 'build', 'Release', 'node_lzo.node')), version };
    }
    case 'snappy':
      return { mod: require('snappy'), version: (require('snappy/package.json') as { version: string }).version };
    case 'zstd':
      return { mod: require('zstd-napi'), version: (require('zstd-napi/package.json') as { version: string }).version };
  }
}

/** The default loader: the packages npm installed (to restore it after {@link setCodecPackageLoader}). */
export const loadFromNodeModules: CodecPackageLoader = fromNodeModules;

let loader: CodecPackageLoader = fromNodeModules;

/** Replace where codec packages come from (the single executable's embedded addons). */
export function setCodecPackageLoader(l: CodecPackageLoader): void {
  loader = l;
}

/** The package of `codec`, from the current loader; throws if it cannot be loaded. */
export function loadCodecPackage(codec: AddonCodec): CodecPackage {
  return loader(codec);
}

/** Each optional package's addon file, relative to its package directory. */
const ADDON_FILES: Partial<Record<AddonCodec, string>> = {
  lzo: path.join('build', 'Release', 'node_lzo.node'),
  zstd: path.join('build', 'Release', 'binding.node'),
};

/**
 * Whether `codec`'s optional native package (lzo, zstd-napi) is absent from node_modules, so its
 * fallback serves: a file check, without loading anything (for `--version`). False under another
 * loader (the single executable's embedded addons) and for snappy (a required dependency).
 */
export function nativePackageMissing(codec: AddonCodec): boolean {
  const file = ADDON_FILES[codec];
  if (loader !== fromNodeModules || file === undefined) return false;
  const require = createRequire(import.meta.url);
  try {
    const dir = path.dirname(require.resolve(`${codec === 'zstd' ? 'zstd-napi' : codec}/package.json`));
    return !fs.existsSync(path.join(dir, file));
  } catch {
    return true;
  }
}
