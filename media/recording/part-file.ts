/**
 * A recording file being written: `<name>.part` behind a FileSink (plain or SASF), with its
 * operations queued in order, renamed atomically to its final name when finished — so a file
 * under its final name is always complete — or left as `.part` for repair when abandoned.
 * WavWriter and AppendOnlyFileWriter (Ogg) put their container logic on top of it.
 *
 * Callers may fire operations without awaiting each; every returned promise settles when that
 * operation is done. After a failure every later operation rejects with the same error.
 */
import { open, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CapstanError } from '../../core/errors.ts';
import { PlainFileSink, type FileSink } from './file-sink.ts';

export const PART_SUFFIX = '.part';

export class PartFile {
  readonly finalPath: string;
  readonly partPath: string;
  #sink: FileSink | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #failure: unknown;
  #finishing: Promise<void> | undefined;

  private constructor(finalPath: string, sink: FileSink) {
    this.finalPath = finalPath;
    this.partPath = finalPath + PART_SUFFIX;
    this.#sink = sink;
  }

  /** Creates `<finalPath>.part` through `openSink` (default: a plain file, failing if it exists). */
  static async create(finalPath: string, openSink: (path: string) => Promise<FileSink> = PlainFileSink.create): Promise<PartFile> {
    try {
      return new PartFile(finalPath, await openSink(finalPath + PART_SUFFIX));
    } catch (e) {
      throw new CapstanError('CAPSTAN_ERR_RECORDING_FAILED', `cannot create ${finalPath + PART_SUFFIX}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Runs `op` on the sink after every operation queued before it. */
  enqueue<T>(op: (sink: FileSink) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.#failure !== undefined) throw this.#failure;
      const sink = this.#sink;
      if (!sink) throw new CapstanError('CAPSTAN_ERR_CLOSED', `${this.partPath} is closed`);
      try {
        return await op(sink);
      } catch (e) {
        this.#failure = e instanceof CapstanError ? e : new CapstanError('CAPSTAN_ERR_RECORDING_FAILED', `writing ${this.partPath} failed: ${(e as Error).message}`, { cause: e });
        throw this.#failure;
      }
    };
    const p = this.#queue.then(run, run);
    // The queue itself never rejects, so one failure does not skip the rest silently: each
    // operation sees the failure and rejects on its own promise.
    this.#queue = p.catch(() => {});
    return p;
  }

  /** Queues `last` (final header writes...), then closes, renames to the final name and syncs the folder. Idempotent. */
  finish(last: (sink: FileSink) => Promise<void> = async () => {}): Promise<void> {
    this.#finishing ??= this.enqueue(async (sink) => {
      await last(sink);
      await sink.close();
      this.#sink = undefined;
      await rename(this.partPath, this.finalPath);
      await syncDirectory(dirname(this.finalPath));
    });
    return this.#finishing;
  }

  /** Closes without finishing, leaving `.part` for repair. Idempotent. */
  async abandon(): Promise<void> {
    await this.#queue.catch(() => {});
    await this.#sink?.abandon().catch(() => {});
    this.#sink = undefined;
  }
}

/** Makes a rename durable (the directory entry) where the platform allows opening folders. */
export async function syncDirectory(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Not supported everywhere (e.g. Windows); the rename itself is still atomic.
  } finally {
    await fh?.close().catch(() => {});
  }
}
