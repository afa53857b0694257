/** What the kernel-log decoders return: records in sequence order and what could not be read. */

/** Kernel virtual memory as the decoders need it (implemented by `KernelMemory`; faked in tests). */
export interface KernelVirtReader {
  /** Read `len` bytes at kernel virtual `va`; throws a VmcoreError naming the address when it cannot. */
  readVirt(va: bigint, len: number): Uint8Array;
}

/** One message of the kernel log. */
export interface LogRecord {
  /** printk sequence number (lockless ring buffer); null for the old log_buf, which has none. */
  seq: number | null;
  /** Timestamp, nanoseconds since boot (local_clock). */
  tsNsec: bigint;
  /** Syslog level 0–7, null when the layout does not say where it is. */
  level: number | null;
  /** Syslog facility (0 = kernel), null when unknown. */
  facility: number | null;
  /** printk caller id: a pid (T…), or 0x80000000 | cpu (C…) in interrupt context; null when not recorded. */
  callerId: number | null;
  /** The text bytes as stored (may hold embedded newlines). */
  text: Uint8Array;
  /** dev_printk context (subsystem, device), when the record has one. */
  dev?: { subsystem: string; device: string };
  /** Descriptor state of a lockless record: `committed` ones could still have been extended. */
  state?: 'committed' | 'finalized';
  /** text_len claimed more than the data block holds: the text was cut to the block. */
  truncated?: boolean;
}

/** Why a record in the readable window was not printed. */
export type SkipReason =
  /** a writer had reserved the descriptor and not committed it (CPU stopped mid-printk) */
  | 'reserved'
  /** the descriptor was recycled: its data is gone */
  | 'reusable'
  /** the slot holds a different id (overwritten while the ring advanced) */
  | 'id_mismatch'
  /** the record has no text block (allocation failed: FAILED_LPOS) */
  | 'no_data'
  /** the text block's positions are impossible */
  | 'bad_lpos'
  /** the text block has been overwritten by a newer record */
  | 'data_overwritten'
  /** the descriptor, its info or its text lies in a page the dump does not hold */
  | 'not_in_dump';

export interface SkippedRecord {
  /** Sequence number, when the descriptor's info still tells it. */
  seq: number | null;
  /** Descriptor id (hex). */
  id: string;
  reason: SkipReason;
}

/** The decoded log. */
export interface KernelLog {
  format: 'lockless' | 'log_buf';
  records: LogRecord[];
  /**
   * Records written before the oldest readable one and overwritten since (lockless: the
   * oldest readable record's sequence number); null when the format cannot tell (log_buf).
   */
  overwritten: number | null;
  /** Records inside the readable window that could not be printed. */
  skipped: SkippedRecord[];
  /** printk calls that found no room even for a descriptor (`prb->fail`); null for log_buf. */
  dropped: number | null;
  /** Where the buffer is and how big it is. */
  buffer: {
    /** Address of the printk_ringbuffer (or of the log_buf text). */
    address: bigint;
    /** Text bytes. */
    textBytes: number;
    /** Descriptors (lockless only). */
    descriptors: number | null;
  };
  warnings: string[];
}
