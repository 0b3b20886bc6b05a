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
import { CapstanError } from '../../core/errors.ts';
import { PlainFileSink, type FileSink } from './file-sink.ts';
import { PartFile } from './part-file.ts';

export class AppendOnlyFileWriter {
  readonly finalPath: string;
  readonly partPath: string;
  private readonly file: PartFile;
  private written = 0;
  private finalized = false;
  private finalizing: Promise<{ path: string; bytes: number }> | undefined;

  private constructor(file: PartFile) {
    this.file = file;
    this.finalPath = file.finalPath;
    this.partPath = file.partPath;
  }

  /** Creates `<finalPath>.part` (failing if it exists). */
  static async create(finalPath: string, openSink: (path: string) => Promise<FileSink> = PlainFileSink.create): Promise<AppendOnlyFileWriter> {
    return new AppendOnlyFileWriter(await PartFile.create(finalPath, openSink));
  }

  /** Bytes appended so far (queued ones included). */
  get bytes(): number {
    return this.written;
  }

  /** Appends bytes at the end. */
  append(bytes: Uint8Array): Promise<void> {
    if (this.finalized) return Promise.reject(new CapstanError('CAPSTAN_ERR_CLOSED', `${this.finalPath} is finalized`));
    if (bytes.length === 0) return this.file.enqueue(async () => {});
    const position = this.written;
    this.written += bytes.length;
    return this.file.enqueue(async (sink) => sink.write(position, bytes));
  }

  /** Makes everything appended so far durable. */
  sync(): Promise<void> {
    return this.file.enqueue(async (sink) => sink.sync());
  }

  /** Syncs, closes and renames to the final name. Idempotent. */
  finalize(): Promise<{ path: string; bytes: number }> {
    if (this.finalizing) return this.finalizing;
    this.finalized = true;
    const total = this.written;
    this.finalizing = this.file.finish().then(() => ({ path: this.finalPath, bytes: total }));
    return this.finalizing;
  }

  /** Closes without finalizing, leaving `.part` for repair. Idempotent. */
  async abandon(): Promise<void> {
    this.finalized = true;
    await this.file.abandon();
  }
}
