/**
 * Byte buffers reused across a process's recordings for bytes that must outlive the call that
 * made them only until a write has read them (WavWriter.writeCopy). Buffers come in powers of
 * two, so one of any size is found again; what is kept spare is capped.
 *
 * Why a pool rather than a buffer per write or per recording: a fresh array per write (four a
 * second per recording) made V8 run a full collection every second or so at a thousand
 * recordings, and buffers kept per recording came to 160 KB each, 200 MB at 1 300 calls, whose
 * growth at start-up brought on a dozen full collections (docs/benchmarks.md). Shared, the pool
 * holds about what the writes in flight hold at once: a write job's worth.
 */

/** Smallest buffer handed out: 1 KiB. */
const MIN_BITS = 10;
/** Largest size class pooled: 16 MiB; larger requests get a buffer of their own. */
const MAX_BITS = 24;

export interface BytePoolOptions {
  /** Most bytes kept spare (buffers given back beyond it are left to the garbage collector). Default 32 MiB. */
  maxSpareBytes?: number;
}

export class BytePool {
  private readonly free: Uint8Array[][] = Array.from({ length: MAX_BITS + 1 }, () => []);
  private readonly maxSpareBytes: number;
  private spareBytes = 0;
  /** Buffers made because none was spare, and buffers handed out again. */
  readonly stats = { allocated: 0, reused: 0 };

  constructor(options: BytePoolOptions = {}) {
    this.maxSpareBytes = options.maxSpareBytes ?? 32 * 2 ** 20;
  }

  /** Bytes kept spare now. */
  get spare(): number {
    return this.spareBytes;
  }

  /** A buffer of at least `length` bytes (its contents are whatever was there): give it back once done. */
  take(length: number): Uint8Array {
    const bits = sizeClass(length);
    const list = bits <= MAX_BITS ? this.free[bits]! : undefined;
    const reused = list?.pop();
    if (reused) {
      this.spareBytes -= reused.length;
      this.stats.reused++;
      return reused;
    }
    this.stats.allocated++;
    return new Uint8Array(bits <= MAX_BITS ? 2 ** bits : length);
  }

  /** Returns a buffer `take` gave (once nothing reads it any more). */
  give(buffer: Uint8Array): void {
    const bits = Math.log2(buffer.length);
    if (!Number.isInteger(bits) || bits < MIN_BITS || bits > MAX_BITS) return;
    if (this.spareBytes + buffer.length > this.maxSpareBytes) return;
    this.free[bits]!.push(buffer);
    this.spareBytes += buffer.length;
  }
}

function sizeClass(length: number): number {
  return Math.max(MIN_BITS, Math.ceil(Math.log2(Math.max(1, length))));
}

/** The process's pool, shared by every recording's file. */
export const bytePool = new BytePool();
