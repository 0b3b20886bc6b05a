/**
 * SASF wire format: the header, the chunk framing, the chunk nonce and the trailer.
 * docs/sasf.md is the specification; this file is its reference implementation and must stay in
 * step with it. Everything here is pure and length-checked: a malformed input is a coded error,
 * never an exception from a buffer read.
 */
import { CapstanError } from '../../core/errors.ts';
import { KEY_ID_BYTES } from '../../core/keys/key-id.ts';

/** "\x89SASF\r\n\x1a": non-ASCII first byte and CR LF / ^Z catch text-mode and 7-bit mangling (as PNG does). */
export const SASF_MAGIC = Buffer.from([0x89, 0x53, 0x41, 0x53, 0x46, 0x0d, 0x0a, 0x1a]);
export const SASF_VERSION = 1;
/** Bytes before the header length is known: magic, version, aead, key wrap, reserved, header length. */
export const SASF_FIXED_PREFIX_BYTES = 16;
/** Offset of the first variable-length field (recording id length). */
const FIXED_BYTES = 161;
export const SASF_MAX_RECORDING_ID_BYTES = 1024;
export const SASF_MAX_MIME_TYPE_BYTES = 255;
export const SASF_MAX_HEADER_BYTES = FIXED_BYTES + 2 + SASF_MAX_RECORDING_ID_BYTES + 2 + SASF_MAX_MIME_TYPE_BYTES;

/** Default plaintext bytes per chunk: 64 KiB = 2 s of 8 kHz 16-bit stereo, 8 s of G.711 mono. */
export const SASF_DEFAULT_CHUNK_SIZE = 65_536;
/** Smallest chunk size: the final chunk must hold a trailer with a rewritten WAV/fact header. */
export const SASF_MIN_CHUNK_SIZE = 256;
/** Largest chunk size: readers hold one chunk in memory, so it must stay bounded. */
export const SASF_MAX_CHUNK_SIZE = 16 * 1024 * 1024;

export const SASF_EPHEMERAL_KEY_BYTES = 32;
export const SASF_DATA_KEY_BYTES = 32;
export const SASF_TAG_BYTES = 16;
export const SASF_WRAPPED_KEY_BYTES = SASF_DATA_KEY_BYTES + SASF_TAG_BYTES;
export const SASF_SALT_BYTES = 32;
export const SASF_NONCE_PREFIX_BYTES = 7;
export const SASF_NONCE_BYTES = 12;
/** Chunk prefix: u32 big-endian, bit 31 = final flag (a hint; the nonce carries the real flag), bits 0–30 = plaintext length. */
export const SASF_CHUNK_PREFIX_BYTES = 4;
export const SASF_FINAL_FLAG = 0x8000_0000;
/** Chunk indexes are a u32 in the nonce; one more chunk would repeat a nonce. */
export const SASF_MAX_CHUNKS = 0xffff_ffff;

export type SasfAead = 'aes-256-gcm' | 'chacha20-poly1305';
export type SasfKeyWrap = 'x25519-hkdf-sha256-aes-256-gcm';

const AEAD_IDS: Record<SasfAead, number> = { 'aes-256-gcm': 1, 'chacha20-poly1305': 2 };
const KEY_WRAP_IDS: Record<SasfKeyWrap, number> = { 'x25519-hkdf-sha256-aes-256-gcm': 1 };

/** What the recording is; stored in the clear in the header and authenticated by every chunk. */
export interface SasfMetadata {
  /** The recording's id (1–1024 bytes of UTF-8). */
  recordingId: string;
  /** Codec MIME type of the inner file, e.g. `audio/PCMU`, `audio/L16`, `audio/opus` (1–255 ASCII bytes). */
  mimeType: string;
  /** Sample rate in Hz (8000 for Capstan recordings). */
  sampleRate: number;
  /** Channels in the inner file (1 mono, 2 dual-channel). */
  channels: number;
  /** When the recording started. Default: now. Stored to the millisecond. */
  createdAt?: Date;
}

export interface SasfHeaderFields extends Required<SasfMetadata> {
  version: number;
  aead: SasfAead;
  keyWrap: SasfKeyWrap;
  /** Maximum plaintext bytes per chunk. */
  chunkSize: number;
  /** Key id (16 hex digits) of the Recorder public key the data key is wrapped to. */
  keyId: string;
  /** Ephemeral X25519 public key of the key wrap (32 bytes). */
  ephemeralPublicKey: Buffer;
  /** The data key encrypted with AES-256-GCM under the wrap key: 32 bytes + 16-byte tag. */
  wrappedKey: Buffer;
  /** HKDF salt for the payload key (32 random bytes). */
  salt: Buffer;
  /** Random 7-byte prefix of every chunk nonce. */
  noncePrefix: Buffer;
}

function formatError(message: string, details: Record<string, unknown> = {}): CapstanError {
  return new CapstanError('CAPSTAN_ERR_SASF_FORMAT', message, { details });
}

const MIME_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Throws CAPSTAN_ERR_SASF_FORMAT unless the metadata fits the header. */
export function validateMetadata(m: SasfMetadata): void {
  const idBytes = Buffer.byteLength(m.recordingId, 'utf8');
  if (idBytes < 1 || idBytes > SASF_MAX_RECORDING_ID_BYTES || m.recordingId.includes('\u0000')) {
    throw formatError('recordingId must be 1–1024 bytes of UTF-8 without NUL', { field: 'recordingId' });
  }
  if (m.mimeType.length > SASF_MAX_MIME_TYPE_BYTES || !MIME_TYPE.test(m.mimeType)) {
    throw formatError('mimeType must be a type/subtype MIME type of at most 255 ASCII characters', { field: 'mimeType', mimeType: m.mimeType });
  }
  if (!Number.isInteger(m.sampleRate) || m.sampleRate < 1 || m.sampleRate > 0xffff_ffff) {
    throw formatError('sampleRate must be an integer from 1 to 2^32-1', { field: 'sampleRate' });
  }
  if (!Number.isInteger(m.channels) || m.channels < 1 || m.channels > 0xffff) {
    throw formatError('channels must be an integer from 1 to 65535', { field: 'channels' });
  }
  if (m.createdAt !== undefined) {
    const t = m.createdAt.getTime();
    if (!Number.isInteger(t) || t < 0) throw formatError('createdAt must be a valid date after 1970', { field: 'createdAt' });
  }
}

export function validateChunkSize(chunkSize: number): void {
  if (!Number.isInteger(chunkSize) || chunkSize < SASF_MIN_CHUNK_SIZE || chunkSize > SASF_MAX_CHUNK_SIZE) {
    throw formatError(`chunkSize must be an integer from ${SASF_MIN_CHUNK_SIZE} to ${SASF_MAX_CHUNK_SIZE}`, { field: 'chunkSize', chunkSize });
  }
}

/**
 * The SASF header. `parse` accepts exactly the bytes `serialize` produces (the header length must
 * match its fields: no slack a second reader could disagree about), so the SHA-256 of the header
 * bytes, which every chunk authenticates, is canonical.
 */
export class SasfHeader implements SasfHeaderFields {
  readonly version: number;
  readonly aead: SasfAead;
  readonly keyWrap: SasfKeyWrap;
  readonly chunkSize: number;
  readonly createdAt: Date;
  readonly sampleRate: number;
  readonly channels: number;
  readonly keyId: string;
  readonly ephemeralPublicKey: Buffer;
  readonly wrappedKey: Buffer;
  readonly salt: Buffer;
  readonly noncePrefix: Buffer;
  readonly recordingId: string;
  readonly mimeType: string;

  constructor(f: SasfHeaderFields) {
    validateMetadata(f);
    validateChunkSize(f.chunkSize);
    if (f.version !== SASF_VERSION) throw formatError(`Unsupported SASF version ${f.version}`, { version: f.version });
    if (!(f.aead in AEAD_IDS)) throw formatError(`Unknown AEAD ${f.aead}`);
    if (!(f.keyWrap in KEY_WRAP_IDS)) throw formatError(`Unknown key wrap ${f.keyWrap}`);
    if (!/^[0-9a-f]{16}$/.test(f.keyId)) throw formatError('keyId must be 16 lowercase hex digits', { field: 'keyId' });
    const sizes: [keyof SasfHeaderFields, Buffer, number][] = [
      ['ephemeralPublicKey', f.ephemeralPublicKey, SASF_EPHEMERAL_KEY_BYTES],
      ['wrappedKey', f.wrappedKey, SASF_WRAPPED_KEY_BYTES],
      ['salt', f.salt, SASF_SALT_BYTES],
      ['noncePrefix', f.noncePrefix, SASF_NONCE_PREFIX_BYTES],
    ];
    for (const [field, value, size] of sizes) {
      if (value.length !== size) throw formatError(`${field} must be ${size} bytes`, { field });
    }
    this.version = f.version;
    this.aead = f.aead;
    this.keyWrap = f.keyWrap;
    this.chunkSize = f.chunkSize;
    this.createdAt = new Date(f.createdAt.getTime());
    this.sampleRate = f.sampleRate;
    this.channels = f.channels;
    this.keyId = f.keyId;
    this.ephemeralPublicKey = Buffer.from(f.ephemeralPublicKey);
    this.wrappedKey = Buffer.from(f.wrappedKey);
    this.salt = Buffer.from(f.salt);
    this.noncePrefix = Buffer.from(f.noncePrefix);
    this.recordingId = f.recordingId;
    this.mimeType = f.mimeType;
  }

  get byteLength(): number {
    return FIXED_BYTES + 2 + Buffer.byteLength(this.recordingId, 'utf8') + 2 + this.mimeType.length;
  }

  serialize(): Buffer {
    const id = Buffer.from(this.recordingId, 'utf8');
    const mime = Buffer.from(this.mimeType, 'ascii');
    const b = Buffer.alloc(this.byteLength);
    SASF_MAGIC.copy(b, 0);
    b.writeUInt8(this.version, 8);
    b.writeUInt8(AEAD_IDS[this.aead], 9);
    b.writeUInt8(KEY_WRAP_IDS[this.keyWrap], 10);
    b.writeUInt8(0, 11);
    b.writeUInt32BE(b.length, 12);
    b.writeUInt32BE(this.chunkSize, 16);
    b.writeBigUInt64BE(BigInt(this.createdAt.getTime()), 20);
    b.writeUInt32BE(this.sampleRate, 28);
    b.writeUInt16BE(this.channels, 32);
    Buffer.from(this.keyId, 'hex').copy(b, 34);
    this.ephemeralPublicKey.copy(b, 42);
    this.wrappedKey.copy(b, 74);
    this.salt.copy(b, 122);
    this.noncePrefix.copy(b, 154);
    b.writeUInt16BE(id.length, 161);
    id.copy(b, 163);
    b.writeUInt16BE(mime.length, 163 + id.length);
    mime.copy(b, 165 + id.length);
    return b;
  }

  /**
   * Reads the header length from the first 16 bytes. Throws CAPSTAN_ERR_SASF_FORMAT when they are
   * not a SASF v1 prefix, CAPSTAN_ERR_SASF_TRUNCATED when the file ends inside them.
   */
  static headerLength(prefix: Uint8Array): number {
    const b = Buffer.from(prefix.buffer, prefix.byteOffset, prefix.byteLength);
    const magicBytes = Math.min(b.length, SASF_MAGIC.length);
    if (!b.subarray(0, magicBytes).equals(SASF_MAGIC.subarray(0, magicBytes))) throw formatError('Not a SASF file (bad magic)');
    if (b.length < SASF_FIXED_PREFIX_BYTES) {
      throw new CapstanError('CAPSTAN_ERR_SASF_TRUNCATED', 'The SASF file ends inside its header', { details: { fileBytes: b.length } });
    }
    const version = b.readUInt8(8);
    if (version !== SASF_VERSION) throw formatError(`Unsupported SASF version ${version}; this reader knows version ${SASF_VERSION}`, { version });
    const length = b.readUInt32BE(12);
    if (length < FIXED_BYTES + 4 || length > SASF_MAX_HEADER_BYTES) throw formatError('Header length out of range', { headerLength: length });
    return length;
  }

  /** Parses a complete header; `bytes` may continue past it. Returns the header and its exact bytes. */
  static parse(bytes: Uint8Array): { header: SasfHeader; headerBytes: Buffer } {
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const length = SasfHeader.headerLength(b.subarray(0, SASF_FIXED_PREFIX_BYTES));
    if (b.length < length) {
      throw new CapstanError('CAPSTAN_ERR_SASF_TRUNCATED', 'The SASF file ends inside its header', { details: { fileBytes: b.length, headerLength: length } });
    }
    const h = b.subarray(0, length);
    const aeadId = h.readUInt8(9);
    const aead = (Object.keys(AEAD_IDS) as SasfAead[]).find((k) => AEAD_IDS[k] === aeadId);
    if (aead === undefined) throw formatError(`Unknown AEAD id ${aeadId}`, { aeadId });
    const wrapId = h.readUInt8(10);
    const keyWrap = (Object.keys(KEY_WRAP_IDS) as SasfKeyWrap[]).find((k) => KEY_WRAP_IDS[k] === wrapId);
    if (keyWrap === undefined) throw formatError(`Unknown key wrap id ${wrapId}`, { keyWrapId: wrapId });
    if (h.readUInt8(11) !== 0) throw formatError('Reserved header byte is not zero');
    const created = h.readBigUInt64BE(20);
    if (created > BigInt(Number.MAX_SAFE_INTEGER)) throw formatError('Created time out of range');
    const idLength = h.readUInt16BE(161);
    if (FIXED_BYTES + 2 + idLength + 2 > length) throw formatError('Recording id overruns the header', { idLength });
    const mimeLength = h.readUInt16BE(163 + idLength);
    if (165 + idLength + mimeLength !== length) {
      throw formatError('Header length does not match its fields', { headerLength: length, idLength, mimeLength });
    }
    let recordingId: string;
    try {
      recordingId = utf8.decode(h.subarray(163, 163 + idLength));
    } catch {
      throw formatError('Recording id is not valid UTF-8');
    }
    const mimeBytes = h.subarray(165 + idLength, length);
    if (mimeBytes.some((c) => c > 0x7e || c < 0x21)) throw formatError('MIME type is not printable ASCII');
    const header = new SasfHeader({
      version: SASF_VERSION,
      aead,
      keyWrap,
      chunkSize: h.readUInt32BE(16),
      createdAt: new Date(Number(created)),
      sampleRate: h.readUInt32BE(28),
      channels: h.readUInt16BE(32),
      keyId: h.subarray(34, 34 + KEY_ID_BYTES).toString('hex'),
      ephemeralPublicKey: h.subarray(42, 74),
      wrappedKey: h.subarray(74, 122),
      salt: h.subarray(122, 154),
      noncePrefix: h.subarray(154, 161),
      recordingId,
      mimeType: mimeBytes.toString('ascii'),
    });
    return { header, headerBytes: Buffer.from(h) };
  }
}

/** The 12-byte nonce of chunk `index`: nonce prefix (7) ‖ index (u32 BE) ‖ final flag (0x00 or 0x01), as in Tink's AES-GCM-HKDF streaming. */
export function chunkNonce(noncePrefix: Buffer, index: number, final: boolean): Buffer {
  if (!Number.isInteger(index) || index < 0 || index > SASF_MAX_CHUNKS) throw formatError('Chunk index out of range', { index });
  const n = Buffer.alloc(SASF_NONCE_BYTES);
  noncePrefix.copy(n, 0, 0, SASF_NONCE_PREFIX_BYTES);
  n.writeUInt32BE(index, SASF_NONCE_PREFIX_BYTES);
  n.writeUInt8(final ? 1 : 0, SASF_NONCE_BYTES - 1);
  return n;
}

export function encodeChunkPrefix(plaintextLength: number, final: boolean): number {
  return (final ? SASF_FINAL_FLAG : 0) + plaintextLength;
}

export function decodeChunkPrefix(value: number): { length: number; final: boolean } {
  return { length: value & 0x7fff_ffff, final: value >= SASF_FINAL_FLAG };
}

/** A replacement of already-written plaintext, applied by readers after the whole file verifies. */
export interface SasfRewrite {
  offset: number;
  data: Buffer;
}

/**
 * The final chunk's plaintext: the body length and the rewrites (e.g. the finished WAV header).
 *   u64 bodyLength ‖ u32 count ‖ count × (u64 offset ‖ u32 length ‖ bytes)
 */
export class SasfTrailer {
  readonly bodyLength: number;
  readonly rewrites: readonly SasfRewrite[];

  constructor(bodyLength: number, rewrites: readonly SasfRewrite[] = []) {
    this.bodyLength = bodyLength;
    this.rewrites = rewrites;
  }

  static byteLengthOf(rewrites: readonly SasfRewrite[]): number {
    return 12 + rewrites.reduce((n, r) => n + 12 + r.data.length, 0);
  }

  serialize(): Buffer {
    const b = Buffer.alloc(SasfTrailer.byteLengthOf(this.rewrites));
    b.writeBigUInt64BE(BigInt(this.bodyLength), 0);
    b.writeUInt32BE(this.rewrites.length, 8);
    let o = 12;
    for (const r of this.rewrites) {
      b.writeBigUInt64BE(BigInt(r.offset), o);
      b.writeUInt32BE(r.data.length, o + 8);
      r.data.copy(b, o + 12);
      o += 12 + r.data.length;
    }
    return b;
  }

  /**
   * Parses an authenticated final chunk. Malformed content here can only come from a faulty
   * writer (an attacker cannot forge the final chunk), hence CAPSTAN_ERR_SASF_FORMAT.
   */
  static parse(b: Buffer): SasfTrailer {
    if (b.length < 12) throw formatError('Trailer too short');
    const body = b.readBigUInt64BE(0);
    if (body > BigInt(Number.MAX_SAFE_INTEGER)) throw formatError('Trailer body length out of range');
    const bodyLength = Number(body);
    const count = b.readUInt32BE(8);
    const rewrites: SasfRewrite[] = [];
    let o = 12;
    for (let i = 0; i < count; i++) {
      if (o + 12 > b.length) throw formatError('Trailer rewrite overruns the chunk', { rewrite: i });
      const offset = b.readBigUInt64BE(o);
      const length = b.readUInt32BE(o + 8);
      if (o + 12 + length > b.length) throw formatError('Trailer rewrite overruns the chunk', { rewrite: i });
      if (offset + BigInt(length) > body) throw formatError('Trailer rewrite lies outside the body', { rewrite: i });
      rewrites.push({ offset: Number(offset), data: Buffer.from(b.subarray(o + 12, o + 12 + length)) });
      o += 12 + length;
    }
    if (o !== b.length) throw formatError('Trailer has trailing bytes');
    return new SasfTrailer(bodyLength, rewrites);
  }
}

/** Applies the rewrites that overlap [position, position + chunk.length) to a plaintext chunk, in order. */
export function applyRewrites(chunk: Buffer, position: number, rewrites: readonly SasfRewrite[]): void {
  const end = position + chunk.length;
  for (const r of rewrites) {
    const from = Math.max(position, r.offset);
    const to = Math.min(end, r.offset + r.data.length);
    if (from < to) r.data.copy(chunk, from - position, from - r.offset, to - r.offset);
  }
}
