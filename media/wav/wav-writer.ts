/**
 * Streaming WAV writer for recordings in progress.
 *
 * The file is written as `<name>.part` next to its final name: a header with sizes, then samples
 * appended. `flush()` rewrites the header sizes and syncs the data, so after a crash the file is
 * valid up to its last flush (and `repairWav` recovers whatever whole blocks follow). `finalize()`
 * writes the final sizes and renames `.part` to the final name in the same folder, which is atomic:
 * a file under its final name is always complete.
 *
 * Operations are queued, so callers may fire `write`s without awaiting each one; every returned
 * promise settles when that operation is on disk (or failed). After a failure every later
 * operation rejects with the same error.
 */
import { PlainFileSink, type FileSink } from '../recording/file-sink.ts';
import { PartFile } from '../recording/part-file.ts';
import { bytePool } from '../recording/byte-pool.ts';
import { CapstanError } from '../../core/errors.ts';
import { buildWavHeader, writeWavSizes, type WavHeaderLayout, type WavSpec } from './wav-format.ts';


/** RIFF sizes are 32-bit; stop well before the wrap (about 37 h of 8 kHz stereo PCM). */
const MAX_DATA_BYTES = 0xffff_0000;

export class WavWriter {
  readonly finalPath: string;
  readonly partPath: string;
  readonly spec: WavSpec;
  private readonly layout: WavHeaderLayout;
  private readonly file: PartFile;
  private written = 0;
  /** Samples per channel written (for `fact`): differs from whole blocks only after a padded last block. */
  private samplesWritten = 0;
  private finalized = false;
  private finalizing: Promise<{ path: string; dataBytes: number }> | undefined;

  private constructor(file: PartFile, spec: WavSpec, layout: WavHeaderLayout) {
    this.file = file;
    this.finalPath = file.finalPath;
    this.partPath = file.partPath;
    this.spec = spec;
    this.layout = layout;
  }

  /**
   * Creates `<finalPath>.part` (failing if it exists) with an empty-data header, synced.
   * `openSink` chooses where the bytes go (default: a plain file; an SASF sink encrypts them).
   */
  static async create(finalPath: string, spec: WavSpec, openSink: (path: string) => Promise<FileSink> = PlainFileSink.create): Promise<WavWriter> {
    const layout = buildWavHeader(spec, 0);
    const file = await PartFile.create(finalPath, openSink);
    try {
      await file.enqueue(async (sink) => {
        await sink.write(0, layout.header);
        await sink.sync();
      });
    } catch (e) {
      await file.abandon();
      throw e;
    }
    return new WavWriter(file, spec, layout);
  }

  /** Bytes of sample data written so far (queued writes included). */
  get dataBytes(): number {
    return this.written;
  }

  /** Frames (samples per channel) written so far. */
  get frames(): number {
    return this.samplesWritten;
  }

  /**
   * Appends encoded samples; the length must be whole blocks (`blockAlign`). `samples` (per
   * channel) is what the blocks hold for the `fact` chunk: by default all of them; less for a
   * last block padded with silence. The bytes are written as they are when the queued write
   * runs: leave them unchanged until the promise settles.
   */
  write(bytes: Uint8Array, samples = (bytes.length / this.layout.blockAlign) * this.layout.samplesPerBlock): Promise<void> {
    if (bytes.length % this.layout.blockAlign !== 0) {
      return Promise.reject(new RangeError(`write of ${bytes.length} bytes is not whole ${this.layout.blockAlign}-byte blocks`));
    }
    if (this.finalized) return Promise.reject(new CapstanError('CAPSTAN_ERR_CLOSED', `${this.finalPath} is finalized`));
    if (this.written + bytes.length > MAX_DATA_BYTES) {
      return Promise.reject(new CapstanError('CAPSTAN_ERR_RECORDING_FAILED', `${this.finalPath} would exceed the 4 GiB WAV limit`));
    }
    return this.append(bytes, samples, undefined);
  }

  /**
   * `write` for bytes only valid during the call (an encoder's `pushTransient` output): copies
   * them into a buffer of the process's byte pool, given back once the write has settled, so a
   * recording's steady writes allocate no memory (byte-pool.ts says why that matters).
   */
  writeCopy(bytes: Uint8Array, samples = (bytes.length / this.layout.blockAlign) * this.layout.samplesPerBlock): Promise<void> {
    if (bytes.length === 0) return this.write(bytes, samples);
    const buffer = bytePool.take(bytes.length);
    buffer.set(bytes);
    return this.append(buffer.subarray(0, bytes.length), samples, buffer);
  }

  /** Queues the write of `bytes` at the end of the data; `pooled` goes back to the pool once it settles. */
  private append(bytes: Uint8Array, samples: number, pooled: Uint8Array | undefined): Promise<void> {
    if (bytes.length % this.layout.blockAlign !== 0) {
      return Promise.reject(new RangeError(`write of ${bytes.length} bytes is not whole ${this.layout.blockAlign}-byte blocks`));
    }
    if (this.finalized) return Promise.reject(new CapstanError('CAPSTAN_ERR_CLOSED', `${this.finalPath} is finalized`));
    if (this.written + bytes.length > MAX_DATA_BYTES) {
      return Promise.reject(new CapstanError('CAPSTAN_ERR_RECORDING_FAILED', `${this.finalPath} would exceed the 4 GiB WAV limit`));
    }
    const position = this.layout.dataOffset + this.written;
    this.written += bytes.length;
    this.samplesWritten += samples;
    if (bytes.length === 0) return this.file.enqueue(async () => {});
    // Not copied here (as fs writes, the caller leaves the bytes alone until the promise settles):
    // a copy per write was half the memory a thousand recordings churned through per second.
    return this.file.enqueue(async (sink) => {
      try {
        await sink.write(position, bytes);
      } finally {
        // Settled: the sink has read the bytes (or failed to).
        if (pooled) bytePool.give(pooled);
      }
    });
  }

  /** Rewrites the header sizes for everything written so far and syncs data and header. */
  flush(): Promise<void> {
    // Sizes as of this call: writes queued after it are not on disk when it runs.
    const total = this.written;
    const samples = this.samplesWritten;
    return this.file.enqueue(async (sink) => this.syncHeader(sink, total, samples));
  }

  /**
   * Writes final sizes (and the RIFF pad byte when the data size is odd), syncs, closes and
   * renames to the final name. Idempotent: later calls return the first call's outcome.
   */
  finalize(): Promise<{ path: string; dataBytes: number }> {
    if (this.finalizing) return this.finalizing;
    this.finalized = true;
    const total = this.written;
    const samples = this.samplesWritten;
    this.finalizing = this.file
      .finish(async (sink) => {
        if (total % 2 === 1) await sink.write(this.layout.dataOffset + total, Buffer.alloc(1));
        await this.syncHeader(sink, total, samples);
      })
      .then(() => ({ path: this.finalPath, dataBytes: total }));
    return this.finalizing;
  }
  /**
   * Closes the file without finalizing, leaving `.part` for `repairWav` (used when a recording
   * is abandoned by a failure). Idempotent.
   */
  async abandon(): Promise<void> {
    this.finalized = true;
    await this.file.abandon();
  }

  private async syncHeader(sink: FileSink, dataBytes: number, samples: number): Promise<void> {
    writeWavSizes(this.layout, dataBytes, samples);
    await sink.write(0, this.layout.header.subarray(0, this.layout.dataOffset));
    await sink.sync();
  }
}
