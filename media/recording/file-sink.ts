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
import type { FilesystemSync, PositionedWrite } from './filesystem-sync.ts';
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

/** Appends held in memory before they are written out, at most (a sync writes them sooner). Default 64 KiB: two seconds of the largest 8 kHz recording (dual-channel 16-bit). */
const PLAIN_BUFFER_BYTES = 64 * 1024;

export interface PlainFileSinkOptions {
  /** Makes `sync()` one flush of a group job shared with the folder's other files (writes and one syncfs). Default: this file's own writes and fdatasync. */
  filesystemSync?: FilesystemSync | undefined;
}

/**
 * A plain file, created exclusively (never overwrites).
 *
 * Appends are gathered in memory and written with one system call at the next `sync()` (or when
 * the buffer fills): a media server writing hundreds of recordings would otherwise make one
 * thread-pool job per write — the recording's four writes a second cost more than the bytes.
 * With a FilesystemSync, rewrites of bytes on disk (a header's sizes) wait for the sync too, and
 * the sync hands everything to the folder's group job. What a crash can lose is unchanged: only
 * what a `sync()` has made durable was ever promised.
 */
export class PlainFileSink implements FileSink {
  #fh: FileHandle | undefined;
  readonly #group: FilesystemSync | undefined;
  #end = 0;
  /** Bytes [#diskEnd, #end) are in #buffer, not yet written. */
  #diskEnd = 0;
  #buffer: Buffer | undefined;
  /** Group mode: rewrites of bytes before #diskEnd, in order, written at the next sync. */
  #rewrites: PositionedWrite[] = [];

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
    // The part before the buffer is on disk: rewritten there (a header's sizes).
    const onDisk = Math.max(0, Math.min(bytes.length, this.#diskEnd - position));
    if (onDisk > 0) {
      if (this.#group) this.#rewrites.push({ position, bytes: Buffer.from(bytes.subarray(0, onDisk)) });
      else await fh.write(bytes, 0, onDisk, position);
    }
    if (onDisk === bytes.length) return;
    const rest = bytes.subarray(onDisk);
    const at = position + onDisk - this.#diskEnd;
    if (at + rest.length > PLAIN_BUFFER_BYTES) {
      await this.#writeBuffered();
      await fh.write(rest, 0, rest.length, position + onDisk);
      this.#end = this.#diskEnd = Math.max(this.#end, position + bytes.length);
      return;
    }
    this.#buffer ??= Buffer.allocUnsafe(PLAIN_BUFFER_BYTES);
    this.#buffer.set(rest, at);
    this.#end = Math.max(this.#end, position + bytes.length);
  }

  async sync(): Promise<void> {
    const fh = this.#handle();
    if (this.#group) {
      const writes = this.#rewrites;
      const length = this.#end - this.#diskEnd;
      if (length > 0) writes.push({ position: this.#diskEnd, bytes: this.#buffer!.subarray(0, length) });
      // Nothing else touches this file until the flush settles (the part file's queue), so the buffer stays as handed over.
      await this.#group.flush(fh.fd, writes);
      this.#rewrites = [];
      this.#diskEnd = this.#end;
      return;
    }
    await this.#writeBuffered();
    await fh.datasync();
  }

  async close(): Promise<void> {
    const fh = this.#fh;
    if (!fh) return;
    if (this.#group) await this.sync();
    else {
      await this.#writeBuffered();
      await fh.datasync();
    }
    this.#fh = undefined;
    await fh.close();
  }

  async abandon(): Promise<void> {
    // What was written still goes out (the repair at the next start keeps it), if it can.
    if (this.#fh) await (this.#group ? this.sync() : this.#writeBuffered()).catch(() => {});
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close().catch(() => {});
  }

  async #writeBuffered(): Promise<void> {
    const length = this.#end - this.#diskEnd;
    if (length === 0 || !this.#fh) return;
    await this.#fh.write(this.#buffer!, 0, length, this.#diskEnd);
    this.#diskEnd = this.#end;
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
