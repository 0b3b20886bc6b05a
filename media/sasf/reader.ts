/**
 * SasfReader: decrypts a SASF file with the Recorder's private key, verifying every chunk.
 *
 * Guarantees:
 * - Nothing it yields is unauthenticated: each chunk is yielded only after its tag verifies.
 * - A complete file is known complete before the first byte is yielded: `open()` verifies the
 *   final chunk (which also authenticates the header) first. A chunk altered further in is refused
 *   with CAPSTAN_ERR_SASF_TAMPERED when reached, so a streaming consumer must treat an error as
 *   "discard everything" (decryptSasf and decryptSasfFile do that for you).
 * - A file without its final chunk is refused with CAPSTAN_ERR_SASF_TRUNCATED unless
 *   `allowIncomplete` is set; then its complete chunks are yielded and `complete` is false.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { link, open, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CapstanError } from '../../core/errors.ts';
import { openSource, type ByteSource } from './byte-source.ts';
import { SasfChunkCipher } from './chunk-cipher.ts';
import { scanChunks, type ChunkFrame } from './chunk-scan.ts';
import { unwrapDataKey } from './envelope.ts';
import { writeFully } from './writer.ts';
import { SASF_CHUNK_PREFIX_BYTES, SASF_FIXED_PREFIX_BYTES, SasfHeader, SasfTrailer, applyRewrites, type SasfRewrite } from './format.ts';

/** The Recorder's private key, or a keyring lookup by key id (see core/keys privateKeyResolver). */
export type SasfPrivateKeySource = KeyObject | ((keyId: string) => KeyObject | Promise<KeyObject>);

export interface SasfReadOptions {
  privateKey: SasfPrivateKeySource;
  /**
   * Accept a file without its final chunk (a crash cut it, or it is still being written) and
   * return its verified complete chunks, with `complete: false`. Default false: such a file is
   * refused with CAPSTAN_ERR_SASF_TRUNCATED. Rewrites (the finished WAV header) live in the final
   * chunk, so an incomplete file's inner header is the provisional one its writer wrote first.
   */
  allowIncomplete?: boolean;
}

/** Reads the header of a SASF source (no key needed). */
export async function readSasfHeader(source: ByteSource): Promise<{ header: SasfHeader; headerBytes: Buffer }> {
  const prefix = await source.read(0, SASF_FIXED_PREFIX_BYTES);
  const length = SasfHeader.headerLength(prefix);
  return SasfHeader.parse(await source.read(0, length));
}

export class SasfReader {
  readonly header: SasfHeader;
  /** True when the file ends with its verified final chunk. */
  readonly complete: boolean;
  /** Data chunks that chunks() yields. */
  readonly chunkCount: number;
  /** Plaintext bytes that chunks() yields. */
  readonly bodyLength: number;
  readonly #source: ByteSource;
  readonly #cipher: SasfChunkCipher;
  readonly #frames: ChunkFrame[];
  readonly #rewrites: readonly SasfRewrite[];
  #closed = false;

  private constructor(source: ByteSource, header: SasfHeader, cipher: SasfChunkCipher, frames: ChunkFrame[], complete: boolean, rewrites: readonly SasfRewrite[]) {
    this.#source = source;
    this.header = header;
    this.#cipher = cipher;
    this.#frames = frames;
    this.complete = complete;
    this.#rewrites = rewrites;
    this.chunkCount = frames.length;
    this.bodyLength = frames.reduce((n, f) => n + f.length, 0);
  }

  /** Opens a SASF file (path) or buffer: parses the header, unwraps the data key, checks completeness. */
  static async open(input: string | Uint8Array, options: SasfReadOptions): Promise<SasfReader> {
    const source = await openSource(input);
    try {
      return await SasfReader.#open(source, options);
    } catch (e) {
      await source.close().catch(() => {});
      throw e;
    }
  }

  static async #open(source: ByteSource, options: SasfReadOptions): Promise<SasfReader> {
    const { header, headerBytes } = await readSasfHeader(source);
    const privateKey = typeof options.privateKey === 'function' ? await options.privateKey(header.keyId) : options.privateKey;
    const dataKey = unwrapDataKey(privateKey, header);
    const cipher = new SasfChunkCipher(header, headerBytes, dataKey);
    dataKey.fill(0);

    const scan = await scanChunks(source, headerBytes.length, header.chunkSize);
    if (scan.end === 'invalid') {
      throw new CapstanError('CAPSTAN_ERR_SASF_TAMPERED', 'A chunk length is out of range: the file was altered', {
        details: { chunk: scan.frames.length, offset: scan.stopOffset },
      });
    }
    if (scan.final !== undefined) {
      const final = scan.final;
      const plaintext = cipher.open(final.index, true, await readSealed(source, final));
      if (scan.trailingBytes > 0) {
        throw new CapstanError('CAPSTAN_ERR_SASF_TAMPERED', `${scan.trailingBytes} bytes were appended after the final chunk`, {
          details: { offset: scan.stopOffset, trailingBytes: scan.trailingBytes },
        });
      }
      const trailer = SasfTrailer.parse(plaintext);
      const bodyLength = scan.frames.reduce((n, f) => n + f.length, 0);
      if (trailer.bodyLength !== bodyLength) {
        throw new CapstanError('CAPSTAN_ERR_SASF_FORMAT', 'The trailer body length does not match the chunks', {
          details: { trailerBodyLength: trailer.bodyLength, bodyLength },
        });
      }
      return new SasfReader(source, header, cipher, scan.frames, true, trailer.rewrites);
    }
    if (options.allowIncomplete !== true) {
      throw new CapstanError(
        'CAPSTAN_ERR_SASF_TRUNCATED',
        `The file has no final chunk (${scan.end === 'cut' ? 'it ends inside a chunk' : 'it ends after a non-final chunk'}): it was cut short or is still being written`,
        { details: { completeChunks: scan.frames.length, offset: scan.stopOffset } },
      );
    }
    return new SasfReader(source, header, cipher, scan.frames, false, []);
  }

  /** Verified plaintext, chunk by chunk, rewrites applied. Throws CAPSTAN_ERR_SASF_TAMPERED at the first chunk that does not verify. */
  async *chunks(): AsyncGenerator<Buffer, void, undefined> {
    if (this.#closed) throw new CapstanError('CAPSTAN_ERR_CLOSED', 'The SASF reader is closed');
    let position = 0;
    for (const frame of this.#frames) {
      const chunk = this.#cipher.open(frame.index, false, await readSealed(this.#source, frame));
      if (this.#rewrites.length > 0) applyRewrites(chunk, position, this.#rewrites);
      position += chunk.length;
      yield chunk;
    }
  }

  /** The whole verified plaintext; nothing is returned unless every chunk verifies. */
  async readAll(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of this.chunks()) parts.push(chunk);
    return Buffer.concat(parts, this.bodyLength);
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#source.close();
  }
}

async function readSealed(source: ByteSource, frame: ChunkFrame): Promise<Buffer> {
  // The scan proved these bytes exist (for the size taken at open).
  return source.read(frame.offset + SASF_CHUNK_PREFIX_BYTES, frame.length + 16);
}

export interface SasfDecryptResult {
  header: SasfHeader;
  /** The inner file (WAV or Ogg), verified. */
  plaintext: Buffer;
  /** False only with `allowIncomplete`, for a file without its final chunk. */
  complete: boolean;
  /** Data chunks decrypted. */
  chunkCount: number;
}

/** Decrypts a whole SASF file or buffer in memory. Returns only fully verified plaintext. */
export async function decryptSasf(input: string | Uint8Array, options: SasfReadOptions): Promise<SasfDecryptResult> {
  const reader = await SasfReader.open(input, options);
  try {
    const plaintext = await reader.readAll();
    return { header: reader.header, plaintext, complete: reader.complete, chunkCount: reader.chunkCount };
  } finally {
    await reader.close();
  }
}

export interface SasfDecryptFileOptions extends SasfReadOptions {
  /** Mode of the decrypted file. Default 0o600: it is plaintext audio. */
  mode?: number;
}

export interface SasfDecryptFileResult {
  header: SasfHeader;
  path: string;
  complete: boolean;
  bodyLength: number;
  chunkCount: number;
}

/**
 * Decrypts `inPath` to `outPath` (which must not exist) streaming, in bounded memory. The output is
 * written to a temporary file beside `outPath` and renamed only once every chunk has verified, so
 * `outPath` never holds unverified or partial plaintext; on any error the temporary file is removed.
 */
export async function decryptSasfFile(inPath: string, outPath: string, options: SasfDecryptFileOptions): Promise<SasfDecryptFileResult> {
  const reader = await SasfReader.open(inPath, options);
  const temp = join(dirname(outPath), `.${basename(outPath)}.${randomBytes(6).toString('hex')}.partial`);
  try {
    const out = await open(temp, 'wx', options.mode ?? 0o600);
    try {
      let position = 0;
      for await (const chunk of reader.chunks()) {
        await writeFully(out, chunk, position);
        position += chunk.length;
      }
      await out.sync();
    } finally {
      await out.close();
    }
    // link() publishes the verified file atomically and, unlike rename(), refuses an existing outPath.
    try {
      await link(temp, outPath);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new CapstanError('CAPSTAN_ERR_CONFLICT', `${outPath} already exists`, { details: { path: outPath } });
      }
      throw cause;
    }
    await unlink(temp);
    return { header: reader.header, path: outPath, complete: reader.complete, bodyLength: reader.bodyLength, chunkCount: reader.chunkCount };
  } catch (e) {
    await unlink(temp).catch(() => {});
    throw e;
  } finally {
    await reader.close();
  }
}
