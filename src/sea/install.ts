/**
 * Side effect, first import of both single-executable entries: codecs load their addons from the
 * executable's assets, and compression workers start from the embedded worker bundle.
 */
import { getAsset } from 'node:sea';
import { setCodecPackageLoader } from '../compress/native.js';
import { setWorkerSource } from '../writer/workers/pool.js';
import { loadEmbeddedPackage } from './addons.js';

/** The asset holding the worker bundle (scripts/sea.mjs). */
export const WORKER_ASSET = 'worker.cjs';

setCodecPackageLoader(loadEmbeddedPackage);
let workerCode: string | undefined;
setWorkerSource(() => (workerCode ??= getAsset(WORKER_ASSET, 'utf8')));
