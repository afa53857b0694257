/**
 * Worker-thread entry of the {@link CompressPool}: loads one codec by name, then compresses the
 * batches it is sent with the same {@link compressBatch} the main thread uses, so the output does
 * not depend on where a batch was compressed. A batch comes as page bytes (transferred both
 * ways), or as pfn runs that the worker reads itself from its own reader of the input, 128 KiB
 * at a time ({@link compressRunsInto}), compressing each piece while it is still in this core's cache.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { VmcoreError } from '../../errors.js';
import { loadCodec } from '../../compress/index.js';
import { compressBatch, compressedBatchOver } from '../../compress/batch.js';
import type { CodecName, PageCodec } from '../../compress/codec.js';
import { openDump } from '../../formats/probe.js';
import type { DumpReader } from '../../formats/dump.js';
import type { WorkerReply, WorkerRequest, WorkerSetup } from './protocol.js';
import { READ_PAGES, compressRunsInto } from './runs.js';

const port = parentPort!;
const setup = workerData as WorkerSetup;

function describe(e: unknown): { code: string; message: string; data: Record<string, unknown> } {
  if (e instanceof VmcoreError) {
    // Payload values that do not clone (bigint does; functions do not) are dropped.
    const data: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(e.data)) if (typeof v !== 'function' && typeof v !== 'object') data[k] = v;
    return { code: e.code, message: e.message, data };
  }
  return { code: 'E_INTERNAL', message: e instanceof Error ? e.message : String(e), data: {} };
}

let codec: PageCodec;
let reader: DumpReader | null = null;
let chunk: Uint8Array | null = null;
try {
  codec = loadCodec(setup.codec as CodecName);
  if (setup.source) reader = openDump(setup.source.path, { vmcoreinfo: setup.source.vmcoreinfo });
  port.postMessage({ type: 'ready', implementation: codec.implementation } satisfies WorkerReply);
} catch (e) {
  port.postMessage({ type: 'failed', error: describe(e) } satisfies WorkerReply);
  port.close();
}

port.on('message', (m: WorkerRequest) => {
  try {
    const result = compressedBatchOver(m.out, m.maxPages, m.pageSize);
    if (m.runs) {
      if (!reader) throw new VmcoreError('E_INTERNAL', 'a compression worker without a reader was sent pfn runs');
      chunk ??= new Uint8Array(READ_PAGES * m.pageSize);
      const r = reader;
      compressRunsInto((pfn, count, buf, off) => r.readPages(pfn, count, buf, off), m.runs, m.count, m.pageSize, codec, m.detectZero, result, chunk);
      const reply: WorkerReply = { type: 'done', seq: m.seq, out: m.out, count: result.count, dataLen: result.dataLen };
      port.postMessage(reply, [m.out]);
      return;
    }
    const pages = new Uint8Array(m.pages!, 0, m.count * m.pageSize);
    compressBatch(pages, m.count, m.pageSize, codec, m.detectZero, result);
    const reply: WorkerReply = { type: 'done', seq: m.seq, pages: m.pages, out: m.out, count: result.count, dataLen: result.dataLen };
    port.postMessage(reply, [m.pages!, m.out]);
  } catch (e) {
    port.postMessage({ type: 'error', seq: m.seq, error: describe(e) } satisfies WorkerReply);
  }
});
