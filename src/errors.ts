/**
 * Typed errors. Every failure the tool can report has a string `code`, a payload naming
 * where it happened, and a documented process exit code (see README "Exit codes").
 * Messages gain context as they rise: wrap with {@link withContext}.
 */

/** The closed set of error codes. */
export type ErrorCode =
  | 'E_USAGE' // bad command-line arguments
  | 'E_INPUT_IO' // input cannot be opened or read
  | 'E_FORMAT' // input is not a dump we understand, or its headers are corrupt
  | 'E_TRUNCATED' // input ends before data its headers describe
  | 'E_LIMIT' // a size/count read from the input exceeds a hard limit
  | 'E_VMCOREINFO' // VMCOREINFO missing, malformed, or lacking a needed key
  | 'E_ADDRXLAT' // a virtual address could not be translated
  | 'E_MEMMAP' // mem_map could not be located or read
  | 'E_CORRUPT_PAGE' // stored page data does not decode to one page
  | 'E_OUTPUT_EXISTS' // output exists and -f was not given
  | 'E_OUTPUT_IS_INPUT' // output names the input file
  | 'E_OUTPUT_IO' // output cannot be written
  | 'E_NO_SPACE' // the output device is full
  | 'E_CODEC_UNAVAILABLE' // a compression codec could not be loaded
  | 'E_INTERNAL'; // a bug

/** Payload carried by an error: where it happened. */
export interface ErrorData {
  path?: string;
  offset?: number;
  address?: bigint;
  key?: string;
  line?: number;
  pfn?: number;
  option?: string;
  [k: string]: unknown;
}

/** Process exit codes, one per class of failure (documented in README). */
export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  INPUT: 3,
  FORMAT: 4,
  VMCOREINFO: 5,
  OUTPUT: 6,
  NO_SPACE: 7,
  PARTIAL: 8,
  SIGINT: 130,
  SIGTERM: 143,
} as const;

const EXIT_BY_CODE: Record<ErrorCode, number> = {
  E_USAGE: EXIT.USAGE,
  E_INPUT_IO: EXIT.INPUT,
  E_FORMAT: EXIT.FORMAT,
  E_TRUNCATED: EXIT.FORMAT,
  E_LIMIT: EXIT.FORMAT,
  E_VMCOREINFO: EXIT.VMCOREINFO,
  E_ADDRXLAT: EXIT.FORMAT,
  E_MEMMAP: EXIT.FORMAT,
  E_CORRUPT_PAGE: EXIT.FORMAT,
  E_OUTPUT_EXISTS: EXIT.OUTPUT,
  E_OUTPUT_IS_INPUT: EXIT.OUTPUT,
  E_OUTPUT_IO: EXIT.OUTPUT,
  E_NO_SPACE: EXIT.NO_SPACE,
  E_CODEC_UNAVAILABLE: EXIT.USAGE,
  E_INTERNAL: EXIT.INTERNAL,
};

/** The one error class of the library: a code, a message, and a payload. */
export class VmcoreError extends Error {
  readonly code: ErrorCode;
  readonly data: ErrorData;
  constructor(code: ErrorCode, message: string, data: ErrorData = {}) {
    super(message);
    this.name = 'VmcoreError';
    this.code = code;
    this.data = data;
  }
  /** Exit code the CLI uses for this error. */
  get exitCode(): number {
    return EXIT_BY_CODE[this.code];
  }
}

/** Run `fn`; if it throws a VmcoreError, prefix its message with `context`. */
export function withContext<T>(context: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof VmcoreError) {
      e.message = `${context}: ${e.message}`;
    }
    throw e;
  }
}

/** Hex formatting used in messages. */
export function hex(v: number | bigint): string {
  return '0x' + v.toString(16);
}
