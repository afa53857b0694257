/** Messages between the {@link CompressPool} and its workers (structured-clone shapes). */

/** Main → worker: compress `count` pages of `pages` into `out` (both transferred). */
export interface WorkerRequest {
  seq: number;
  pages: ArrayBuffer;
  out: ArrayBuffer;
  count: number;
  maxPages: number;
  pageSize: number;
  detectZero: boolean;
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
  | { type: 'done'; seq: number; pages: ArrayBuffer; out: ArrayBuffer; count: number; dataLen: number }
  | { type: 'error'; seq: number; error: WorkerError };
