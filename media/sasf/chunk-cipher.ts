/**
 * The payload's streaming AEAD: the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár,
 * "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015) as
 * instantiated by Tink's AES-GCM-HKDF streaming AEAD:
 *   payloadKey = HKDF-SHA256(ikm = dataKey, salt = header.salt, info = "capstan-sasf/v1 payload" ‖ aeadId, L = 32)
 *   nonce(i)   = header.noncePrefix (7) ‖ i (u32 BE) ‖ final (0x00 | 0x01)
 *   aad        = SHA-256(header bytes)
 * The index in the nonce detects reordering, dropping and duplicating chunks; the final flag
 * detects truncation and appending; the header hash as associated data detects any header change,
 * including a header moved onto another file's chunks.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  hkdfSync,
  type CipherChaCha20Poly1305,
  type CipherGCM,
  type DecipherChaCha20Poly1305,
  type DecipherGCM,
} from 'node:crypto';
import { CapstanError } from '../../core/errors.ts';
import {
  SASF_CHUNK_PREFIX_BYTES,
  SASF_TAG_BYTES,
  chunkNonce,
  encodeChunkPrefix,
  type SasfAead,
  type SasfHeader,
} from './format.ts';

const PAYLOAD_INFO = 'capstan-sasf/v1 payload';
const AEAD_INFO_ID: Record<SasfAead, number> = { 'aes-256-gcm': 1, 'chacha20-poly1305': 2 };

export class SasfChunkCipher {
  readonly #aead: SasfAead;
  readonly #key: Buffer;
  readonly #noncePrefix: Buffer;
  readonly #aad: Buffer;
  readonly #chunkSize: number;

  /** `dataKey` may be zeroed by the caller afterwards: only the derived payload key is kept. */
  constructor(header: SasfHeader, headerBytes: Buffer, dataKey: Buffer) {
    this.#aead = header.aead;
    const info = Buffer.concat([Buffer.from(PAYLOAD_INFO, 'ascii'), Buffer.from([AEAD_INFO_ID[header.aead]])]);
    this.#key = Buffer.from(hkdfSync('sha256', dataKey, header.salt, info, 32));
    this.#noncePrefix = header.noncePrefix;
    this.#aad = createHash('sha256').update(headerBytes).digest();
    this.#chunkSize = header.chunkSize;
  }

  /** Encrypts chunk `index` and frames it: prefix (4) ‖ ciphertext ‖ tag (16). */
  seal(index: number, final: boolean, plaintext: Uint8Array): Buffer {
    if (plaintext.length > this.#chunkSize) throw new CapstanError('CAPSTAN_ERR_INTERNAL', 'Chunk larger than the chunk size');
    const out = Buffer.allocUnsafe(SASF_CHUNK_PREFIX_BYTES + plaintext.length + SASF_TAG_BYTES);
    out.writeUInt32BE(encodeChunkPrefix(plaintext.length, final), 0);
    const cipher = cipherFor(this.#aead, this.#key, chunkNonce(this.#noncePrefix, index, final));
    cipher.setAAD(this.#aad, { plaintextLength: plaintext.length });
    const body = cipher.update(plaintext);
    body.copy(out, SASF_CHUNK_PREFIX_BYTES);
    const rest = cipher.final(); // empty for both AEADs (stream modes), kept for correctness
    rest.copy(out, SASF_CHUNK_PREFIX_BYTES + body.length);
    cipher.getAuthTag().copy(out, SASF_CHUNK_PREFIX_BYTES + plaintext.length);
    return out;
  }

  /**
   * Decrypts and verifies chunk `index` (`sealed` = ciphertext ‖ tag, without the prefix).
   * Throws CAPSTAN_ERR_SASF_TAMPERED, and returns nothing, unless the tag verifies.
   */
  open(index: number, final: boolean, sealed: Buffer): Buffer {
    if (sealed.length < SASF_TAG_BYTES) throw tampered(index);
    const ciphertext = sealed.subarray(0, sealed.length - SASF_TAG_BYTES);
    try {
      const decipher = decipherFor(this.#aead, this.#key, chunkNonce(this.#noncePrefix, index, final));
      decipher.setAAD(this.#aad, { plaintextLength: ciphertext.length });
      decipher.setAuthTag(sealed.subarray(sealed.length - SASF_TAG_BYTES));
      const first = decipher.update(ciphertext);
      const last = decipher.final(); // throws when the tag does not verify: `first` is then dropped
      return last.length === 0 ? first : Buffer.concat([first, last]);
    } catch (cause) {
      throw tampered(index, cause);
    }
  }
}

// Separate branches so each call gets the AEAD overload of createCipheriv (the union has none).
function cipherFor(aead: SasfAead, key: Buffer, nonce: Buffer): CipherGCM | CipherChaCha20Poly1305 {
  return aead === 'aes-256-gcm'
    ? createCipheriv(aead, key, nonce, { authTagLength: SASF_TAG_BYTES })
    : createCipheriv(aead, key, nonce, { authTagLength: SASF_TAG_BYTES });
}

function decipherFor(aead: SasfAead, key: Buffer, nonce: Buffer): DecipherGCM | DecipherChaCha20Poly1305 {
  return aead === 'aes-256-gcm'
    ? createDecipheriv(aead, key, nonce, { authTagLength: SASF_TAG_BYTES })
    : createDecipheriv(aead, key, nonce, { authTagLength: SASF_TAG_BYTES });
}

function tampered(index: number, cause?: unknown): CapstanError {
  return new CapstanError('CAPSTAN_ERR_SASF_TAMPERED', `Chunk ${index} does not authenticate: the file was altered, reordered or mixed with another`, {
    details: { chunk: index },
    cause,
  });
}
