/**
 * SasfWriter: writes a SASF file as the media server records, with no plaintext on disk.
 * A file adapter around SasfEncoder: `write()` buffers and queues completed chunks for an ordered
 * background append; `flush()` makes everything written so far durable; `close()` writes the final
 * chunk. A process killed at any point leaves a file that decrypts up to its last complete chunk
 * and says it is incomplete.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { CapstanError, toCapstanError } from '../../core/errors.ts';
import { SasfEncoder, type SasfEncoderOptions } from './encoder.ts';
import type { SasfHeader } from './format.ts';

export interface SasfWriterOptions extends SasfEncoderOptions {
  /** Mode of the new file. Default 0o600: the file is ciphertext, but its header names the recording. */
  mode?: number;
  /** fdatasync on flush() and close() so that "durable" survives a power cut, not only a crash. Default true. */
  sync?: boolean;
}

export interface SasfWriteResult {
  path: string;
  header: SasfHeader;
  /** Plaintext bytes written (before rewrites, which do not change the length). */
  bodyLength: number;
  /** Chunks in the file, the final one included. */
  chunkCount: number;
  /** Size of the SASF file. */
  fileLength: number;
}

/** Writes all of `buffer` at `position` (FileHandle.write may write less than asked). */
export async function writeFully(fh: FileHandle, buffer: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesWritten } = await fh.write(buffer, done, buffer.length - done, position + done);
    if (bytesWritten <= 0) throw new Error('write made no progress');
    done += bytesWritten;
  }
}

export class SasfWriter {
  readonly path: string;
  readonly #fh: FileHandle;
  readonly #encoder: SasfEncoder;
  readonly #sync: boolean;
  #position: number;
  /** Ordered chain of appends; never rejects (the first error is kept in #error). */
  #tail: Promise<void> = Promise.resolve();
  #error: CapstanError | undefined;
  #closing: Promise<SasfWriteResult> | undefined;
  #state: 'open' | 'closed' | 'aborted' = 'open';

  private constructor(path: string, fh: FileHandle, encoder: SasfEncoder, sync: boolean) {
    this.path = path;
    this.#fh = fh;
    this.#encoder = encoder;
    this.#sync = sync;
    this.#position = encoder.headerBytes.length;
  }

  /** Creates `path` (which must not exist: recording names are unique) and writes the header. */
  static async open(path: string, options: SasfWriterOptions): Promise<SasfWriter> {
    const encoder = new SasfEncoder(options); // validates metadata and key before touching the disk
    let fh: FileHandle;
    try {
      fh = await open(path, 'wx', options.mode ?? 0o600);
    } catch (cause) {
      throw new CapstanError('CAPSTAN_ERR_SASF_WRITE', `Cannot create ${path}: ${(cause as Error).message}`, { cause, details: { path } });
    }
    try {
      await writeFully(fh, encoder.headerBytes, 0);
    } catch (cause) {
      await fh.close().catch(() => {});
      throw new CapstanError('CAPSTAN_ERR_SASF_WRITE', `Cannot write ${path}: ${(cause as Error).message}`, { cause, details: { path } });
    }
    return new SasfWriter(path, fh, encoder, options.sync ?? true);
  }

  get header(): SasfHeader {
    return this.#encoder.header;
  }

  /** Plaintext bytes accepted so far. */
  get bodyLength(): number {
    return this.#encoder.bodyLength;
  }

  /**
   * Accepts plaintext. Complete chunks are encrypted now and appended in the background, in order.
   * Throws the first background write error, if any, and CAPSTAN_ERR_CLOSED after close().
   */
  write(data: Uint8Array): void {
    this.#assertWritable();
    this.#append(this.#encoder.push(data));
  }

  /** Replaces already-written plaintext in what readers return (the WAV header at the end). See SasfEncoder.rewrite. */
  rewrite(offset: number, data: Uint8Array): void {
    this.#assertWritable();
    this.#encoder.rewrite(offset, data);
  }

  /**
   * Makes everything written so far durable as complete (non-final) chunks: seals the pending
   * plaintext as a short chunk, waits for the appends, and fdatasyncs (option `sync`).
   */
  async flush(): Promise<void> {
    this.#assertWritable();
    this.#append(this.#encoder.flush());
    await this.#drain();
    if (this.#sync) await this.#guard(() => this.#fh.datasync());
  }

  /** Writes the final chunk, syncs and closes. Idempotent: later calls return the same result. */
  close(): Promise<SasfWriteResult> {
    if (this.#closing !== undefined) return this.#closing;
    if (this.#state === 'aborted') return Promise.reject(new CapstanError('CAPSTAN_ERR_CLOSED', 'The SASF writer was aborted'));
    this.#closing = (async () => {
      try {
        if (this.#error !== undefined) throw this.#error;
        this.#append(this.#encoder.finish());
        this.#state = 'closed';
        await this.#drain();
        if (this.#sync) await this.#guard(() => this.#fh.datasync());
        return {
          path: this.path,
          header: this.#encoder.header,
          bodyLength: this.#encoder.bodyLength,
          chunkCount: this.#encoder.chunkCount,
          fileLength: this.#position,
        };
      } finally {
        this.#state = 'closed';
        await this.#fh.close().catch(() => {});
      }
    })();
    return this.#closing;
  }

  /**
   * Closes without the final chunk (the recording failed): what was flushed stays readable as an
   * incomplete file. Idempotent; a no-op after close().
   */
  async abort(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'aborted';
    await this.#tail;
    await this.#fh.close().catch(() => {});
  }

  #append(chunks: Buffer[]): void {
    if (chunks.length === 0) return;
    const buffer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const position = this.#position;
    this.#position += buffer.length;
    this.#tail = this.#tail.then(() => (this.#error === undefined ? this.#guard(() => writeFully(this.#fh, buffer, position)) : undefined)).catch(() => {});
  }

  async #drain(): Promise<void> {
    await this.#tail;
    if (this.#error !== undefined) throw this.#error;
  }

  async #guard(op: () => Promise<void>): Promise<void> {
    try {
      await op();
    } catch (cause) {
      this.#error ??= new CapstanError('CAPSTAN_ERR_SASF_WRITE', `Writing ${this.path} failed: ${toCapstanError(cause).message}`, {
        cause,
        details: { path: this.path },
      });
      throw this.#error;
    }
  }

  #assertWritable(): void {
    if (this.#state !== 'open') throw new CapstanError('CAPSTAN_ERR_CLOSED', 'The SASF writer is closed');
    if (this.#error !== undefined) throw this.#error;
  }
}
