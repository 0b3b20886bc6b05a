/**
 * One Ogg page (RFC 3533 section 6), as a wire format with `parse` and `serialize`.
 *
 *  0  capture pattern "OggS"          4 bytes
 *  4  stream structure version (0)    1
 *  5  header type flags               1   0x01 continued packet, 0x02 BOS, 0x04 EOS
 *  6  granule position                8   little-endian, signed; -1 = no packet ends here
 * 14  bitstream serial number         4   little-endian
 * 18  page sequence number            4   little-endian
 * 22  CRC checksum                    4   little-endian, see ogg-crc.ts
 * 26  number of segments              1
 * 27  segment table (lacing values)   n   a packet ends at each lacing value < 255
 *     body                            sum of the lacing values
 */

import { CapstanError } from '../../../core/errors.ts';
import { oggCrc32 } from './ogg-crc.ts';

export const OGG_CAPTURE_PATTERN = 'OggS';
export const OGG_HEADER_BYTES = 27;
export const OGG_FLAG_CONTINUED = 0x01;
export const OGG_FLAG_BOS = 0x02;
export const OGG_FLAG_EOS = 0x04;
/** Largest page: 27 + 255 lacing bytes + 255 * 255 body bytes. */
export const OGG_MAX_PAGE_BYTES = OGG_HEADER_BYTES + 255 + 255 * 255;

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

export interface OggPageFields {
  /** The first segment continues a packet from the previous page. */
  continued: boolean;
  /** First page of the logical bitstream. */
  bos: boolean;
  /** Last page of the logical bitstream. */
  eos: boolean;
  /** Codec-defined position of the last packet that ends on this page; -1n when none does. */
  granule: bigint;
  /** Bitstream serial number (unsigned 32-bit). */
  serial: number;
  /** Page sequence number (unsigned 32-bit). */
  sequence: number;
  /** Lacing values, 0..255 entries of 0..255. */
  segments: Uint8Array;
  /** Page body; its length must be the sum of the lacing values. */
  body: Uint8Array;
}

function invalid(message: string, details: Record<string, unknown>): CapstanError {
  return new CapstanError('CAPSTAN_ERR_OGG_INVALID', message, { details });
}

export class OggPage implements OggPageFields {
  continued: boolean;
  bos: boolean;
  eos: boolean;
  granule: bigint;
  serial: number;
  sequence: number;
  segments: Uint8Array;
  body: Uint8Array;

  constructor(fields: OggPageFields) {
    this.continued = fields.continued;
    this.bos = fields.bos;
    this.eos = fields.eos;
    this.granule = fields.granule;
    this.serial = fields.serial;
    this.sequence = fields.sequence;
    this.segments = fields.segments;
    this.body = fields.body;
  }

  /** Bytes the serialized page occupies. */
  get byteLength(): number {
    return OGG_HEADER_BYTES + this.segments.length + this.body.length;
  }

  /**
   * Sizes of the packet pieces on this page, and whether each piece ends its packet (the last
   * piece does not when the final lacing value is 255: the packet continues on the next page).
   */
  pieces(): { offset: number; length: number; complete: boolean }[] {
    const out: { offset: number; length: number; complete: boolean }[] = [];
    let offset = 0;
    let length = 0;
    for (const lace of this.segments) {
      length += lace;
      if (lace < 255) {
        out.push({ offset, length, complete: true });
        offset += length;
        length = 0;
      }
    }
    if (this.segments.length > 0 && this.segments[this.segments.length - 1] === 255) {
      out.push({ offset, length, complete: false });
    }
    return out;
  }

  serialize(): Buffer {
    if (this.segments.length > 255) throw invalid('An Ogg page holds at most 255 segments', { segments: this.segments.length });
    let bodyLength = 0;
    for (const lace of this.segments) bodyLength += lace;
    if (bodyLength !== this.body.length) {
      throw invalid('The Ogg page body does not match its segment table', { bodyLength: this.body.length, laced: bodyLength });
    }
    if (this.granule < INT64_MIN || this.granule > INT64_MAX) throw invalid('The granule position is not a 64-bit value', { granule: String(this.granule) });
    if (!Number.isInteger(this.serial) || this.serial < 0 || this.serial > 0xffffffff) throw invalid('The serial number is not a 32-bit value', { serial: this.serial });
    if (!Number.isInteger(this.sequence) || this.sequence < 0 || this.sequence > 0xffffffff) {
      throw invalid('The page sequence number is not a 32-bit value', { sequence: this.sequence });
    }
    const page = Buffer.alloc(this.byteLength);
    page.write(OGG_CAPTURE_PATTERN, 0, 'latin1');
    page[4] = 0;
    page[5] = (this.continued ? OGG_FLAG_CONTINUED : 0) | (this.bos ? OGG_FLAG_BOS : 0) | (this.eos ? OGG_FLAG_EOS : 0);
    page.writeBigInt64LE(this.granule, 6);
    page.writeUInt32LE(this.serial, 14);
    page.writeUInt32LE(this.sequence, 18);
    // CRC field (22..25) stays zero while the checksum is computed.
    page[26] = this.segments.length;
    page.set(this.segments, OGG_HEADER_BYTES);
    page.set(this.body, OGG_HEADER_BYTES + this.segments.length);
    page.writeUInt32LE(oggCrc32(page), 22);
    return page;
  }

  /**
   * Parses the page at buf[offset..]. Length-checked at every step and CRC-verified; throws
   * CAPSTAN_ERR_OGG_INVALID with `details.reason` (capture, version, flags, truncated, crc).
   * The returned segments and body are views into buf.
   */
  static parse(buf: Uint8Array, offset = 0): OggPage {
    const available = buf.length - offset;
    if (offset < 0 || available < OGG_HEADER_BYTES) {
      throw invalid('The Ogg page header is truncated', { reason: 'truncated', offset, available });
    }
    if (buf[offset] !== 0x4f || buf[offset + 1] !== 0x67 || buf[offset + 2] !== 0x67 || buf[offset + 3] !== 0x53) {
      throw invalid('No Ogg capture pattern ("OggS") where a page should start', { reason: 'capture', offset });
    }
    const view = new DataView(buf.buffer, buf.byteOffset + offset, available);
    const version = view.getUint8(4);
    if (version !== 0) throw invalid(`Unsupported Ogg stream structure version ${version}`, { reason: 'version', offset, version });
    const flags = view.getUint8(5);
    if ((flags & ~0x07) !== 0) throw invalid('Reserved Ogg header type flags are set', { reason: 'flags', offset, flags });
    const count = view.getUint8(26);
    if (available < OGG_HEADER_BYTES + count) {
      throw invalid('The Ogg segment table is truncated', { reason: 'truncated', offset, available, segments: count });
    }
    const segments = buf.subarray(offset + OGG_HEADER_BYTES, offset + OGG_HEADER_BYTES + count);
    let bodyLength = 0;
    for (const lace of segments) bodyLength += lace;
    const total = OGG_HEADER_BYTES + count + bodyLength;
    if (available < total) throw invalid('The Ogg page body is truncated', { reason: 'truncated', offset, available, pageBytes: total });
    const stored = view.getUint32(22, true);
    const copy = Buffer.from(buf.subarray(offset, offset + total));
    copy.writeUInt32LE(0, 22);
    const computed = oggCrc32(copy);
    if (computed !== stored) {
      throw invalid('The Ogg page checksum does not match', { reason: 'crc', offset, stored, computed });
    }
    return new OggPage({
      continued: (flags & OGG_FLAG_CONTINUED) !== 0,
      bos: (flags & OGG_FLAG_BOS) !== 0,
      eos: (flags & OGG_FLAG_EOS) !== 0,
      granule: view.getBigInt64(6, true),
      serial: view.getUint32(14, true),
      sequence: view.getUint32(18, true),
      segments,
      body: buf.subarray(offset + OGG_HEADER_BYTES + count, offset + total),
    });
  }
}
