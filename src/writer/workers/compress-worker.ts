/**
 * Worker-thread entry of the {@link CompressPool}: loads one codec by name, then compresses the
 * batches it is sent with the same {@link compressBatch} the main thread uses, so the output does
 * not depend on where a batch was compressed. Buffers travel both ways as transferables.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { VmcoreError } from '../../errors.js';
import { loadCodec } from '../../compress/index.js';
import { compressBatch, compressedBatchOver } from '../../compress/batch.js';
import type { CodecName, PageCodec } from '../../compress/codec.js';
import type { WorkerReply, WorkerRequest } from './protocol.js';

const port = parentPort!;
const { codec: name } = workerData as { codec: CodecName };

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
try {
  codec = loadCodec(name);
  port.postMessage({ type: 'ready', implementation: codec.implementation } satisfies WorkerReply);
} catch (e) {
  port.postMessage({ type: 'failed', error: describe(e) } satisfies WorkerReply);
  port.close();
}

port.on('message', (m: WorkerRequest) => {
  try {
    const pages = new Uint8Array(m.pages, 0, m.count * m.pageSize);
    const result = compressedBatchOver(m.out, m.maxPages, m.pageSize);
    compressBatch(pages, m.count, m.pageSize, codec, m.detectZero, result);
    const reply: WorkerReply = { type: 'done', seq: m.seq, pages: m.pages, out: m.out, count: result.count, dataLen: result.dataLen };
    port.postMessage(reply, [m.pages, m.out]);
  } catch (e) {
    port.postMessage({ type: 'error', seq: m.seq, error: describe(e) } satisfies WorkerReply);
  }
});
