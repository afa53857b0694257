/**
 * A pool of worker threads compressing batches of pages (makedumpfile's `--num-threads`).
 *
 * Each worker loads the codec by name and runs the same {@link compressBatch} as the main thread,
 * so a dump is byte-identical whatever the thread count. A batch travels as two transferable
 * ArrayBuffers (its pages in, a result buffer out; both come back), so nothing is copied between
 * threads; or, given the dump's `source`, as a list of pfn runs that the worker reads itself,
 * so reading is spread over the workers and pages are compressed while still in that core's cache. The pool does not order results: the kdump writer awaits them in submission order and
 * bounds how many are outstanding ({@link CompressPool.capacity}, a few per worker), which keeps
 * memory flat whatever the dump size.
 *
 * With `local` (what filterDump passes) the calling thread is one of the `threads` compressors and
 * compresses its share of the batches itself, in submission order like the rest.
 *
 * Workers start when the pool is created, so their start-up (module loading, codec load) overlaps
 * the classification that precedes writing; {@link CompressPool.ready} settles when every worker
 * has loaded the codec, and rejects with the worker's own E_CODEC_UNAVAILABLE when one cannot.
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { VmcoreError, type ErrorCode } from '../../errors.js';
import { compressedBatchBytes, compressedBatchOver, type BatchCompressor, type CompressedBatch } from '../../compress/batch.js';
import type { CodecName, PageCodec } from '../../compress/codec.js';
import type { WorkerError, WorkerReply, WorkerRequest, WorkerSetup } from './protocol.js';
import { READ_PAGES, compressRunsInto, type ReadPages } from './runs.js';

export interface CompressPoolOptions {
  /** Compressing threads (≥ 1): workers, and with `local` this thread among them. */
  threads: number;
  /** Most pages in one batch. */
  maxPages: number;
  pageSize: number;
  /** Batches outstanding per worker (default 3: one compressing, one queued, one being written). */
  depth?: number;
  /**
   * The dump, for workers that read their own pages ({@link CompressPool.compressRuns}): each
   * opens it as the main thread did (same path, same VMCOREINFO override).
   */
  source?: { path: string; vmcoreinfo?: string };
  /**
   * The calling thread as one of the `threads` compressors (with `source`): it compresses a batch
   * of pfn runs itself, through `readPages` (its own reader of the dump), when the workers are all
   * `depth` batches deep, and
   * `threads - 1` workers start. On a machine with as many cores as threads the main thread is
   * otherwise mostly waiting, and one worker fewer is ~40 ms of start-up (isolate, bundle, codec,
   * reader) fewer: measured to matter on small dumps, where that start-up is a large part of the run.
   */
  local?: { codec: PageCodec; readPages: ReadPages };
}

interface Job {
  resolve: (v: { pages: Uint8Array | null; result: CompressedBatch }) => void;
  reject: (e: unknown) => void;
  worker: number;
}

/**
 * The worker's source text where there is no worker file (the single executable, which has no
 * file system of its own: src/sea sets its embedded worker bundle here); null to start the
 * compiled `compress-worker.js`.
 */
let workerSource: (() => string) | null = null;

/** Start workers from `source()` (evaluated as a CommonJS script) instead of the worker file. */
export function setWorkerSource(source: (() => string) | null): void {
  workerSource = source;
}

/** The compiled worker script; under a TypeScript test runner, its build in dist/. */
function workerUrl(): URL {
  const here = new URL('./compress-worker.js', import.meta.url);
  if (!import.meta.url.endsWith('.ts')) return here;
  const built = new URL('../../../dist/writer/workers/compress-worker.js', import.meta.url);
  if (!fs.existsSync(fileURLToPath(built))) {
    throw new VmcoreError('E_INTERNAL', `worker script ${fileURLToPath(built)} is missing: run npm run build first`);
  }
  return built;
}

function rebuild(e: WorkerError): VmcoreError {
  return new VmcoreError(e.code as ErrorCode, e.message, e.data);
}

/** Worker threads compressing page batches; see the module comment. */
export class CompressPool implements BatchCompressor {
  readonly capacity: number;
  /** Settles when every worker has loaded the codec (rejects with its error otherwise). */
  readonly ready: Promise<void>;
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly jobs = new Map<number, Job>();
  private readonly freeOut: ArrayBuffer[] = [];
  private readonly outBytes: number;
  private seq = 0;
  private broken: unknown = null;
  private closed = false;
  /** The main thread's read buffer for its share of the batches (`local`). */
  private localChunk: Uint8Array | null = null;

  /** Set when the workers read the dump themselves (the pool was given a source). */
  readonly compressRuns?: (runs: number[], count: number, detectZero: boolean) => Promise<CompressedBatch>;

  private constructor(
    readonly codec: CodecName,
    private readonly opts: Required<Omit<CompressPoolOptions, 'source' | 'local'>> & Pick<CompressPoolOptions, 'source' | 'local'>,
  ) {
    this.capacity = opts.threads * opts.depth;
    this.outBytes = compressedBatchBytes(opts.maxPages, opts.pageSize);
    if (opts.source) {
      this.compressRuns = (runs, count, detectZero) => this.submit({ runs }, count, opts.pageSize, detectZero).then((r) => r.result);
    }
    const code = workerSource?.();
    const url = code === undefined ? workerUrl() : null;
    const readies: Promise<void>[] = [];
    const setup: WorkerSetup = { codec, ...(opts.source ? { source: opts.source } : {}) };
    const workers = opts.local && opts.source ? opts.threads - 1 : opts.threads;
    for (let i = 0; i < workers; i++) {
      const w = url ? new Worker(url, { workerData: setup }) : new Worker(code!, { eval: true, workerData: setup });
      this.workers.push(w);
      this.load.push(0);
      readies.push(
        new Promise<void>((resolve, reject) => {
          w.on('message', (m: WorkerReply) => {
            if (m.type === 'ready') resolve();
            else if (m.type === 'failed') reject(rebuild(m.error));
            else this.onReply(m);
          });
          w.on('error', (e) => {
            reject(e);
            this.fail(i, new VmcoreError('E_INTERNAL', `compression worker ${i} failed: ${e.message}`));
          });
          w.on('exit', (code) => {
            const e = new VmcoreError('E_INTERNAL', `compression worker ${i} exited (code ${code})`);
            reject(e);
            if (!this.closed) this.fail(i, e);
          });
        }),
      );
    }
    this.ready = Promise.all(readies).then(() => undefined);
    // Nobody may be waiting yet (the pool starts before classification): avoid an unhandled rejection.
    this.ready.catch(() => {});
  }

  /** Start `opts.threads` workers loading `codec`. */
  static start(codec: CodecName, opts: CompressPoolOptions): CompressPool {
    if (!(opts.threads >= 1)) throw new VmcoreError('E_INTERNAL', `a compression pool needs at least one thread, not ${opts.threads}`);
    return new CompressPool(codec, { depth: 3, ...opts });
  }

  compress(pages: Uint8Array, count: number, pageSize: number, detectZero: boolean): Promise<{ pages: Uint8Array; result: CompressedBatch }> {
    if (pages.byteOffset !== 0) return Promise.reject(new VmcoreError('E_INTERNAL', 'a batch must start its buffer'));
    return this.submit({ pages: pages.buffer as ArrayBuffer }, count, pageSize, detectZero).then((r) => ({ pages: r.pages!, result: r.result }));
  }

  private submit(
    what: { pages: ArrayBuffer } | { runs: number[] },
    count: number,
    pageSize: number,
    detectZero: boolean,
  ): Promise<{ pages: Uint8Array | null; result: CompressedBatch }> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(new VmcoreError('E_INTERNAL', 'compression pool is closed'));
    if (count > this.opts.maxPages || pageSize !== this.opts.pageSize) {
      return Promise.reject(new VmcoreError('E_INTERNAL', `batch of ${count} pages of ${pageSize} bytes does not fit the pool`));
    }
    const seq = this.seq++;
    // The main thread's share: a batch whenever every worker already has `depth` queued. This
    // thread also writes every batch out, so a fixed share (every threads-th batch) left the
    // workers idle while it wrote: measured on 1 GiB `-d 1 -l`, the worker idle 63% of the run.
    const local = this.opts.local;
    if (local && 'runs' in what && (this.workers.length === 0 || Math.min(...this.load) >= this.opts.depth)) {
      try {
        const result = compressedBatchOver(this.freeOut.pop() ?? new ArrayBuffer(this.outBytes), this.opts.maxPages, pageSize);
        this.localChunk ??= new Uint8Array(READ_PAGES * pageSize);
        compressRunsInto(local.readPages, what.runs, count, pageSize, local.codec, detectZero, result, this.localChunk);
        return Promise.resolve({ pages: null, result });
      } catch (e) {
        return Promise.reject(e);
      }
    }
    // Least-loaded worker; ties go to the lowest index.
    let wi = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[wi]!) wi = i;
    const out = this.freeOut.pop() ?? new ArrayBuffer(this.outBytes);
    const req: WorkerRequest = { seq, ...what, out, count, maxPages: this.opts.maxPages, pageSize, detectZero };
    return new Promise((resolve, reject) => {
      this.jobs.set(seq, { resolve, reject, worker: wi });
      this.load[wi]!++;
      this.workers[wi]!.postMessage(req, 'pages' in what ? [what.pages, out] : [out]);
    });
  }

  release(result: CompressedBatch): void {
    const b = result.data.buffer as ArrayBuffer;
    if (b.byteLength === this.outBytes && this.freeOut.length < this.capacity) this.freeOut.push(b);
  }

  /** Stop the workers (outstanding batches are rejected). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const e = new VmcoreError('E_INTERNAL', 'compression pool closed');
    for (const j of this.jobs.values()) j.reject(e);
    this.jobs.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private onReply(m: WorkerReply): void {
    if (m.type !== 'done' && m.type !== 'error') return;
    const job = this.jobs.get(m.seq);
    if (!job) return;
    this.jobs.delete(m.seq);
    this.load[job.worker]!--;
    if (m.type === 'error') return job.reject(rebuild(m.error));
    const result = compressedBatchOver(m.out, this.opts.maxPages, this.opts.pageSize);
    result.count = m.count;
    result.dataLen = m.dataLen;
    job.resolve({ pages: m.pages ? new Uint8Array(m.pages) : null, result });
  }

  private fail(worker: number, e: unknown): void {
    this.broken ??= e;
    for (const [seq, j] of this.jobs) {
      if (j.worker !== worker) continue;
      this.jobs.delete(seq);
      j.reject(e);
    }
  }
}
