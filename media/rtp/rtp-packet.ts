/**
 * An RTP packet (RFC 3550 §5.1) as a wire format: `parse` checks every length before reading it,
 * `serialize` writes the same layout back. Payload and extension data are views into the parsed
 * buffer (no copy: the media path parses every packet it receives).
 */
import { CapstanError } from '../../core/errors.ts';

/** Why a buffer was refused; also the key the leg sockets count dropped packets under. */
export type RtpInvalidReason = 'too-short' | 'bad-version' | 'bad-csrc' | 'bad-extension' | 'bad-padding';

/** RFC 3550 §5.3.1 header extension: a 16-bit profile word and 32-bit-aligned data. */
export interface RtpHeaderExtension {
  profile: number;
  /** Length is a multiple of 4 bytes. */
  data: Uint8Array;
}

export interface RtpPacketFields {
  marker?: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  csrcs?: readonly number[];
  extension?: RtpHeaderExtension | undefined;
  payload: Uint8Array;
  /** Padding bytes to append (0 = no padding; 1..255 sets the P bit). */
  paddingLength?: number;
}

const FIXED_HEADER = 12;
/** Shared by every packet without CSRCs (nearly all): no array per packet. */
const NO_CSRCS: readonly number[] = Object.freeze([]);

/** Big-endian 32-bit unsigned at `at` (bounds checked by the caller). */
function u32(buf: Uint8Array, at: number): number {
  return ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
}

function invalid(reason: RtpInvalidReason, message: string): CapstanError {
  return new CapstanError('CAPSTAN_ERR_RTP_INVALID', message, { details: { reason } });
}

export class RtpPacket {
  readonly marker: boolean;
  readonly payloadType: number;
  readonly sequenceNumber: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly csrcs: readonly number[];
  readonly extension: RtpHeaderExtension | undefined;
  readonly payload: Uint8Array;
  readonly paddingLength: number;

  constructor(fields: RtpPacketFields) {
    const csrcs = fields.csrcs ?? [];
    const paddingLength = fields.paddingLength ?? 0;
    if (!Number.isInteger(fields.payloadType) || fields.payloadType < 0 || fields.payloadType > 127) {
      throw new RangeError(`payloadType must be 0..127, got ${fields.payloadType}`);
    }
    if (csrcs.length > 15) throw new RangeError(`at most 15 CSRCs, got ${csrcs.length}`);
    if (fields.extension && fields.extension.data.length % 4 !== 0) {
      throw new RangeError('extension data length must be a multiple of 4');
    }
    if (!Number.isInteger(paddingLength) || paddingLength < 0 || paddingLength > 255) {
      throw new RangeError(`paddingLength must be 0..255, got ${paddingLength}`);
    }
    this.marker = fields.marker ?? false;
    this.payloadType = fields.payloadType;
    // Masking keeps callers' arithmetic (seq + 1, ts + 160) valid across the wrap.
    this.sequenceNumber = fields.sequenceNumber & 0xffff;
    this.timestamp = fields.timestamp >>> 0;
    this.ssrc = fields.ssrc >>> 0;
    this.csrcs = csrcs.length === 0 ? NO_CSRCS : csrcs.map((c) => c >>> 0);
    this.extension = fields.extension;
    this.payload = fields.payload;
    this.paddingLength = paddingLength;
  }

  /**
   * Parses one datagram.
   * @throws CapstanError CAPSTAN_ERR_RTP_INVALID with `details.reason` one of RtpInvalidReason.
   */
  static parse(buf: Uint8Array): RtpPacket {
    if (buf.length < FIXED_HEADER) throw invalid('too-short', `RTP packet of ${buf.length} bytes is shorter than its 12-byte header`);
    // Fields are read byte by byte, not through a DataView: parse runs for every packet received.
    const b0 = buf[0]!;
    const b1 = buf[1]!;
    const version = b0 >> 6;
    if (version !== 2) throw invalid('bad-version', `RTP version ${version}, expected 2`);
    const hasPadding = (b0 & 0x20) !== 0;
    const hasExtension = (b0 & 0x10) !== 0;
    const csrcCount = b0 & 0x0f;
    let offset = FIXED_HEADER + 4 * csrcCount;
    if (offset > buf.length) throw invalid('bad-csrc', `${csrcCount} CSRCs do not fit in ${buf.length} bytes`);
    const csrcs: number[] = [];
    for (let i = 0; i < csrcCount; i++) csrcs.push(u32(buf, FIXED_HEADER + 4 * i));

    let extension: RtpHeaderExtension | undefined;
    if (hasExtension) {
      if (offset + 4 > buf.length) throw invalid('bad-extension', 'RTP header extension header is truncated');
      const profile = (buf[offset]! << 8) | buf[offset + 1]!;
      const words = (buf[offset + 2]! << 8) | buf[offset + 3]!;
      const start = offset + 4;
      const end = start + 4 * words;
      if (end > buf.length) throw invalid('bad-extension', `RTP header extension of ${words} words overruns the packet`);
      extension = { profile, data: buf.subarray(start, end) };
      offset = end;
    }

    let paddingLength = 0;
    if (hasPadding) {
      // The last octet counts the padding including itself (RFC 3550 §5.1), so 0 is invalid.
      paddingLength = buf[buf.length - 1]!;
      if (paddingLength === 0 || offset + paddingLength > buf.length) {
        throw invalid('bad-padding', `RTP padding of ${paddingLength} bytes does not fit after a ${offset}-byte header`);
      }
    }

    return new RtpPacket({
      marker: (b1 & 0x80) !== 0,
      payloadType: b1 & 0x7f,
      sequenceNumber: (buf[2]! << 8) | buf[3]!,
      timestamp: u32(buf, 4),
      ssrc: u32(buf, 8),
      csrcs,
      extension,
      payload: buf.subarray(offset, buf.length - paddingLength),
      paddingLength,
    });
  }

  /** Size in bytes of the serialized packet. */
  get byteLength(): number {
    const ext = this.extension ? 4 + this.extension.data.length : 0;
    return FIXED_HEADER + 4 * this.csrcs.length + ext + this.payload.length + this.paddingLength;
  }

  /** Writes the packet; padding bytes are zero except the last, which holds the count. */
  serialize(): Buffer {
    const out = Buffer.alloc(this.byteLength);
    out[0] = 0x80 | (this.paddingLength > 0 ? 0x20 : 0) | (this.extension ? 0x10 : 0) | this.csrcs.length;
    out[1] = (this.marker ? 0x80 : 0) | this.payloadType;
    out.writeUInt16BE(this.sequenceNumber, 2);
    out.writeUInt32BE(this.timestamp, 4);
    out.writeUInt32BE(this.ssrc, 8);
    let offset = FIXED_HEADER;
    for (const csrc of this.csrcs) {
      out.writeUInt32BE(csrc, offset);
      offset += 4;
    }
    if (this.extension) {
      out.writeUInt16BE(this.extension.profile, offset);
      out.writeUInt16BE(this.extension.data.length / 4, offset + 2);
      out.set(this.extension.data, offset + 4);
      offset += 4 + this.extension.data.length;
    }
    out.set(this.payload, offset);
    if (this.paddingLength > 0) out[out.length - 1] = this.paddingLength;
    return out;
  }
}
