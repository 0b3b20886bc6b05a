/**
 * Streaming writer of an append-only container (Ogg) for recordings in progress: the bytes go to
 * `<name>.part` through a FileSink (plain or SASF) strictly by appending — nothing is ever
 * rewritten, so an SASF sink has no rewrites to carry and a crash leaves every page written
 * before it intact (`repairOgg` recovers them). `finalize()` syncs, closes and renames the file
 * to its final name, atomically, like WavWriter.
 *
 * Operations are queued like WavWriter's: callers may fire `append`s without awaiting; after a
 * failure every later operation rejects with the same error.
 */
import { rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CapstanError } from '../../core/errors.ts';
import { PART_SUFFIX, syncDirectory } from '../wav/wav-writer.ts';
import { PlainFileSink, type FileSink } from './file-sink.ts';

export class AppendOnlyFileWriter {
  readonly finalPath: string;
  readonly partPath: string;
  private fh: FileSink | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: unknown;
  private written = 0;
  private finalized = false;
  private finalizing: Promise<{ path: string; bytes: number }> | undefined;

  private constructor(finalPath: string) {
    this.finalPath = finalPath;
    this.partPath = finalPath + PART_SUFFIX;
  }

  /** Creates `<finalPath>.part` (failing if it exists). */
  static async create(finalPath: string, openSink: (path: string) => Promise<FileSink> = PlainFileSink.create): Promise<AppendOnlyFileWriter> {
    const w = new AppendOnlyFileWriter(finalPath);
    try {
      w.fh = await openSink(w.partPath);
    } catch (e) {
      throw new CapstanError('CAPSTAN_ERR_RECORDING_FAILED', `cannot create ${w.partPath}: ${(e as Error).message}`, { cause: e });
    }
    return w;
  }

  /** Bytes appended so far (queued ones included). */
  get bytes(): number {
    return this.written;
  }

  /** Appends bytes at the end. */
  append(bytes: Uint8Array): Promise<void> {
    if (this.finalized) return Promise.reject(new CapstanError('CAPSTAN_ERR_CLOSED', `${this.finalPath} is finalized`));
    if (bytes.length === 0) return this.enqueue(async () => {});
    const position = this.written;
    this.written += bytes.length;
    return this.enqueue(async (fh) => fh.write(position, bytes));
  }

  /** Makes everything appended so far durable. */
  sync(): Promise<void> {
    return this.enqueue(async (fh) => fh.sync());
  }

  /** Syncs, closes and renames to the final name. Idempotent. */
  finalize(): Promise<{ path: string; bytes: number }> {
    if (this.finalizing) return this.finalizing;
    this.finalized = true;
    const total = this.written;
    this.finalizing = this.enqueue(async (fh) => {
      await fh.close();
      this.fh = undefined;
      await rename(this.partPath, this.finalPath);
      await syncDirectory(dirname(this.finalPath));
      return { path: this.finalPath, bytes: total };
    });
    return this.finalizing;
  }

  /** Closes without finalizing, leaving `.part` for repair. Idempotent. */
  async abandon(): Promise<void> {
    this.finalized = true;
    await this.queue.catch(() => {});
    await this.fh?.abandon().catch(() => {});
    this.fh = undefined;
  }

  private enqueue<T>(op: (fh: FileSink) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.failure !== undefined) throw this.failure;
      const fh = this.fh;
      if (!fh) throw new CapstanError('CAPSTAN_ERR_CLOSED', `${this.partPath} is closed`);
      try {
        return await op(fh);
      } catch (e) {
        this.failure = e instanceof CapstanError ? e : new CapstanError('CAPSTAN_ERR_RECORDING_FAILED', `writing ${this.partPath} failed: ${(e as Error).message}`, { cause: e });
        throw this.failure;
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }
}
