/** Messages between the {@link CompressPool} and its workers (structured-clone shapes). */

/**
 * Main → worker: compress `count` pages into `out` (transferred): the pages themselves
 * (`pages`, transferred), or the pfn runs to read from the worker's own reader of the input
 * (`runs`: pfn, count pairs).
 */
export interface WorkerRequest {
  seq: number;
  pages?: ArrayBuffer;
  runs?: number[];
  out: ArrayBuffer;
  count: number;
  maxPages: number;
  pageSize: number;
  detectZero: boolean;
}

/** What a worker is started with. */
export interface WorkerSetup {
  codec: string;
  /** The dump to read pages from (for `runs` requests); opened once, as the main thread opened it. */
  source?: { path: string; vmcoreinfo?: string };
}

/** An error crossing the thread boundary: enough to rebuild the same VmcoreError. */
export interface WorkerError {
  code: string;
  message: string;
  data: Record<string, unknown>;
}

/** Worker → main. */
export type WorkerReply =
  | { type: 'ready'; implementation: string }
  | { type: 'failed'; error: WorkerError }
  | { type: 'done'; seq: number; pages?: ArrayBuffer; out: ArrayBuffer; count: number; dataLen: number }
  | { type: 'error'; seq: number; error: WorkerError };
