/**
 * SasfEncoder: the SASF writer as a pure synchronous processor (no I/O), so the media server can
 * drive it from its recording pipeline and tests can run it without files. SasfWriter is the
 * file adapter beside it.
 *
 * Output order: `headerBytes`, then whatever push/flush/finish return, concatenated.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { CapstanError } from '../../core/errors.ts';
import { SasfChunkCipher } from './chunk-cipher.ts';
import { wrapDataKey } from './envelope.ts';
import {
  SASF_DATA_KEY_BYTES,
  SASF_DEFAULT_CHUNK_SIZE,
  SASF_MAX_CHUNKS,
  SASF_NONCE_PREFIX_BYTES,
  SASF_SALT_BYTES,
  SASF_VERSION,
  SasfHeader,
  SasfTrailer,
  validateChunkSize,
  validateMetadata,
  type SasfAead,
  type SasfMetadata,
  type SasfRewrite,
} from './format.ts';

export interface SasfEncoderOptions {
  /** The Recorder's X25519 public key (a KeyObject; see core/keys loadPublicKey). Private keys are refused. */
  publicKey: KeyObject;
  metadata: SasfMetadata;
  /** Maximum plaintext bytes per chunk, 256 B – 16 MiB. Default 65 536 (64 KiB). */
  chunkSize?: number;
  /** Chunk AEAD. Default `'aes-256-gcm'` (hardware-accelerated almost everywhere); `'chacha20-poly1305'` for CPUs without AES instructions. */
  aead?: SasfAead;
}

function writeError(message: string, details: Record<string, unknown> = {}): CapstanError {
  return new CapstanError('CAPSTAN_ERR_SASF_WRITE', message, { details });
}

export class SasfEncoder {
  readonly header: SasfHeader;
  readonly headerBytes: Buffer;
  readonly #cipher: SasfChunkCipher;
  readonly #chunkSize: number;
  /** Plaintext not yet sealed; sealed when full (push), on flush, or on finish. */
  readonly #pending: Buffer;
  #pendingLength = 0;
  #index = 0;
  #bodyLength = 0;
  #rewrites: SasfRewrite[] = [];
  #finished = false;

  constructor(options: SasfEncoderOptions) {
    const chunkSize = options.chunkSize ?? SASF_DEFAULT_CHUNK_SIZE;
    validateChunkSize(chunkSize);
    validateMetadata(options.metadata);
    const dataKey = randomBytes(SASF_DATA_KEY_BYTES);
    const wrapped = wrapDataKey(options.publicKey, dataKey);
    this.header = new SasfHeader({
      version: SASF_VERSION,
      aead: options.aead ?? 'aes-256-gcm',
      keyWrap: 'x25519-hkdf-sha256-aes-256-gcm',
      chunkSize,
      createdAt: options.metadata.createdAt ?? new Date(),
      sampleRate: options.metadata.sampleRate,
      channels: options.metadata.channels,
      recordingId: options.metadata.recordingId,
      mimeType: options.metadata.mimeType,
      keyId: wrapped.keyId,
      ephemeralPublicKey: wrapped.ephemeralPublicKey,
      wrappedKey: wrapped.wrappedKey,
      salt: randomBytes(SASF_SALT_BYTES),
      noncePrefix: randomBytes(SASF_NONCE_PREFIX_BYTES),
    });
    this.headerBytes = this.header.serialize();
    this.#cipher = new SasfChunkCipher(this.header, this.headerBytes, dataKey);
    dataKey.fill(0); // only the derived payload key stays in memory
    this.#chunkSize = chunkSize;
    this.#pending = Buffer.allocUnsafe(chunkSize);
  }

  /** Plaintext bytes accepted so far (sealed or pending). */
  get bodyLength(): number {
    return this.#bodyLength;
  }

  /** Chunks sealed so far, the final one included once finished. */
  get chunkCount(): number {
    return this.#index;
  }

  /** Plaintext bytes accepted but not yet sealed (lost if the process dies now). */
  get pendingLength(): number {
    return this.#pendingLength;
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** Accepts plaintext; returns the chunks it completed (framed, ready to append). */
  push(data: Uint8Array): Buffer[] {
    this.#assertOpen();
    const out: Buffer[] = [];
    let offset = 0;
    while (offset < data.length) {
      if (this.#pendingLength === 0 && data.length - offset >= this.#chunkSize) {
        // Whole chunk straight from the caller's buffer: no copy.
        out.push(this.#seal(false, data.subarray(offset, offset + this.#chunkSize)));
        offset += this.#chunkSize;
        continue;
      }
      const n = Math.min(this.#chunkSize - this.#pendingLength, data.length - offset);
      this.#pending.set(data.subarray(offset, offset + n), this.#pendingLength);
      this.#pendingLength += n;
      offset += n;
      if (this.#pendingLength === this.#chunkSize) {
        out.push(this.#seal(false, this.#pending));
        this.#pendingLength = 0;
      }
    }
    this.#bodyLength += data.length;
    return out;
  }

  /**
   * Seals the pending plaintext as a short non-final chunk, so that everything pushed so far is in
   * complete chunks. Never writes the final flag: a file cut after a flush is incomplete, and reads
   * as such, never as a finished recording. Returns [] when nothing is pending.
   */
  flush(): Buffer[] {
    this.#assertOpen();
    if (this.#pendingLength === 0) return [];
    const chunk = this.#seal(false, this.#pending.subarray(0, this.#pendingLength));
    this.#pendingLength = 0;
    return [chunk];
  }

  /**
   * Replaces `data.length` bytes of the plaintext at `offset` (already pushed) in what readers
   * return — e.g. the WAV header, whose sizes are known only at the end. The replacement travels in
   * the encrypted final chunk: no chunk is ever encrypted twice, so no nonce is ever reused. A later
   * rewrite that covers an earlier one replaces it. The total must fit the final chunk (chunk size
   * minus 12 bytes, minus 12 per rewrite).
   */
  rewrite(offset: number, data: Uint8Array): void {
    this.#assertOpen();
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + data.length > this.#bodyLength) {
      throw writeError('A rewrite must replace bytes already written', { offset, length: data.length, bodyLength: this.#bodyLength });
    }
    const kept = this.#rewrites.filter((r) => r.offset < offset || r.offset + r.data.length > offset + data.length);
    const next = [...kept, { offset, data: Buffer.from(data) }];
    if (SasfTrailer.byteLengthOf(next) > this.#chunkSize) {
      throw writeError('Rewrites do not fit the final chunk', { chunkSize: this.#chunkSize });
    }
    this.#rewrites = next;
  }

  /** Seals the pending plaintext and the final chunk (the trailer). The file is then complete. */
  finish(): Buffer[] {
    this.#assertOpen();
    const out = this.flush();
    out.push(this.#seal(true, new SasfTrailer(this.#bodyLength, this.#rewrites).serialize()));
    this.#finished = true;
    return out;
  }

  #seal(final: boolean, plaintext: Uint8Array): Buffer {
    if (this.#index > SASF_MAX_CHUNKS || (!final && this.#index === SASF_MAX_CHUNKS)) {
      // Keep the last index free for the final chunk; past it a nonce would repeat.
      throw writeError('The recording has reached the maximum number of chunks');
    }
    return this.#cipher.seal(this.#index++, final, plaintext);
  }

  #assertOpen(): void {
    if (this.#finished) throw new CapstanError('CAPSTAN_ERR_CLOSED', 'The SASF encoder is finished');
  }
}
