/**
 * Where a recording's bytes go: a plain file, or an SASF file that encrypts them as they are
 * written (no plaintext ever touches the disk). Container writers (WAV, Ogg) write through this
 * one interface and never know which.
 *
 * Writes are positional so a container can rewrite its header, but only two kinds are allowed:
 * an append at the current end, or a rewrite of bytes already written (a header's sizes). An
 * SASF sink cannot change sealed ciphertext, so it keeps the latest rewrites and applies them in
 * the file's authenticated trailer at close (docs/sasf.md); a crash before close leaves the
 * header as first written.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import { CapstanError } from '../../core/errors.ts';
import { SasfWriter } from '../sasf/writer.ts';
import type { FilesystemSync } from './filesystem-sync.ts';
import type { SasfMetadata } from '../sasf/format.ts';

export interface FileSink {
  /** Appends at the current end, or rewrites bytes already written. */
  write(position: number, bytes: Uint8Array): Promise<void>;
  /** Makes everything written durable (fdatasync; for SASF, sealed complete chunks). */
  sync(): Promise<void>;
  /** Applies pending rewrites, syncs and closes. */
  close(): Promise<void>;
  /** Closes without finishing (the file stays as last synced, for repair). */
  abandon(): Promise<void>;
}

function outOfOrder(position: number, length: number, end: number): CapstanError {
  return new CapstanError('CAPSTAN_ERR_RECORDING_FAILED', `write at ${position} of ${length} bytes neither appends at ${end} nor rewrites written bytes`);
}

export interface PlainFileSinkOptions {
  /** Makes writes and syncs part of the folder's group jobs (batched pwrites, one syncfs for every file). Default: this file's own writes and fdatasync. */
  filesystemSync?: FilesystemSync | undefined;
}

/**
 * A plain file, created exclusively (never overwrites).
 *
 * Every write reaches the operating system when its promise resolves — a media server killed a
 * moment later loses nothing written — and a sync makes it durable. With a FilesystemSync the
 * writes of every recording that arrive in one turn of the event loop go out in one thread-pool
 * job, and the syncs share one syncfs: a media server recording hundreds of calls would
 * otherwise make four write jobs a second per recording and an fdatasync (a journal commit) each.
 */
export class PlainFileSink implements FileSink {
  #fh: FileHandle | undefined;
  readonly #group: FilesystemSync | undefined;
  #end = 0;

  private constructor(fh: FileHandle, options: PlainFileSinkOptions) {
    this.#fh = fh;
    this.#group = options.filesystemSync;
  }

  static async create(path: string, options: PlainFileSinkOptions = {}): Promise<PlainFileSink> {
    return new PlainFileSink(await open(path, 'wx'), options);
  }

  async write(position: number, bytes: Uint8Array): Promise<void> {
    if (position > this.#end) throw outOfOrder(position, bytes.length, this.#end);
    const fh = this.#handle();
    // The group reads the bytes when its job starts, and this promise settles after: the caller's buffer is untouched until then.
    if (this.#group) await this.#group.flush(fh.fd, [{ position, bytes }], false);
    else await fh.write(bytes, 0, bytes.length, position);
    this.#end = Math.max(this.#end, position + bytes.length);
  }

  async sync(): Promise<void> {
    const fh = this.#handle();
    await (this.#group ? this.#group.flush(fh.fd, [], true) : fh.datasync());
  }

  async close(): Promise<void> {
    const fh = this.#fh;
    if (!fh) return;
    await this.sync();
    this.#fh = undefined;
    await fh.close();
  }

  async abandon(): Promise<void> {
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close().catch(() => {});
  }

  #handle(): FileHandle {
    if (!this.#fh) throw new CapstanError('CAPSTAN_ERR_CLOSED', 'the file is closed');
    return this.#fh;
  }
}

export interface SasfSinkOptions {
  /** The Recorder's X25519 public key: media servers hold no private key. */
  publicKey: KeyObject;
  metadata: SasfMetadata;
}

/** An SASF file: bytes are encrypted in authenticated chunks as they are appended. */
export class SasfFileSink implements FileSink {
  readonly #writer: SasfWriter;
  #end = 0;
  /** Rewrites of written bytes by offset (the latest wins), applied in the trailer at close. */
  readonly #rewrites = new Map<number, Uint8Array>();
  #closed = false;

  private constructor(writer: SasfWriter) {
    this.#writer = writer;
  }

  static async create(path: string, options: SasfSinkOptions): Promise<SasfFileSink> {
    return new SasfFileSink(await SasfWriter.open(path, { publicKey: options.publicKey, metadata: options.metadata }));
  }

  async write(position: number, bytes: Uint8Array): Promise<void> {
    if (position === this.#end) {
      this.#writer.write(Buffer.from(bytes));
      this.#end += bytes.length;
    } else if (position + bytes.length <= this.#end) {
      this.#rewrites.set(position, Buffer.from(bytes));
    } else {
      throw outOfOrder(position, bytes.length, this.#end);
    }
  }

  async sync(): Promise<void> {
    await this.#writer.flush();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [offset, bytes] of [...this.#rewrites].sort((a, b) => a[0] - b[0])) this.#writer.rewrite(offset, bytes);
    await this.#writer.close();
  }

  async abandon(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writer.abort();
  }
}
