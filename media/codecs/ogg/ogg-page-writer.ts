/**
 * Packs the packets of one logical Ogg bitstream into pages (RFC 3533). Pure: it returns the
 * serialized pages and never touches files or sockets; the caller appends them to its output.
 *
 * Paging rules (the same as libogg's ogg_stream_pageout/flush):
 * - a packet is laced as floor(len / 255) values of 255 followed by one value len % 255, so a
 *   packet whose length is a multiple of 255 (including an empty one) ends with a 0;
 * - a page is emitted when its segment table is full (255 lacing values), when its body has
 *   reached `targetPageBytes`, or when the caller asks (`flush`, `eos`); a packet that does not
 *   fit continues on the next page, which carries the "continued" flag;
 * - the granule position of a page is the one given with the last packet that *ends* on it, or
 *   -1 when none ends there;
 * - the first page carries BOS; the page with the last packet (`eos: true`) or `end()` carries EOS.
 */

import { CapstanError } from '../../../core/errors.ts';
import { OggPage } from './ogg-page.ts';

export interface OggPageWriterOptions {
  /** Emit a page once its body reaches this many bytes (default 4096, libogg's choice). */
  targetPageBytes?: number;
}

export interface OggPacketOptions {
  /** End the current page after this packet (for header packets that must sit alone). */
  flush?: boolean;
  /** This is the last packet: its page carries EOS and the writer accepts nothing more. */
  eos?: boolean;
}

const INT64_MAX = (1n << 63n) - 1n;

export class OggPageWriter {
  readonly serial: number;
  private readonly targetPageBytes: number;
  private sequence = 0;
  private segments: number[] = [];
  private chunks: Uint8Array[] = [];
  private bodyLength = 0;
  private pageGranule = -1n;
  private continued = false;
  private lastGranule = -1n;
  private done = false;

  constructor(serial: number, options: OggPageWriterOptions = {}) {
    if (!Number.isInteger(serial) || serial < 0 || serial > 0xffffffff) {
      throw new CapstanError('CAPSTAN_ERR_CODEC_INPUT', 'An Ogg serial number is an unsigned 32-bit integer', { details: { serial } });
    }
    const target = options.targetPageBytes ?? 4096;
    if (!Number.isInteger(target) || target < 1) {
      throw new CapstanError('CAPSTAN_ERR_CODEC_INPUT', 'targetPageBytes must be a positive integer', { details: { targetPageBytes: target } });
    }
    this.serial = serial;
    this.targetPageBytes = target;
  }

  /** Sequence number the next page will carry (= pages emitted so far). */
  get pageSequence(): number {
    return this.sequence;
  }

  /** True once the EOS page has been emitted. */
  get ended(): boolean {
    return this.done;
  }

  /** Adds one packet ending at `granule`; returns the pages completed by it (possibly none). */
  writePacket(packet: Uint8Array, granule: bigint, options: OggPacketOptions = {}): Buffer[] {
    if (this.done) throw new CapstanError('CAPSTAN_ERR_CLOSED', 'The Ogg stream has ended', { details: { serial: this.serial } });
    if (typeof granule !== 'bigint' || granule < 0n || granule > INT64_MAX) {
      throw new CapstanError('CAPSTAN_ERR_CODEC_INPUT', 'An Ogg packet granule position must be a bigint in [0, 2^63)', {
        details: { granule: String(granule) },
      });
    }
    if (this.lastGranule >= 0n && granule < this.lastGranule) {
      throw new CapstanError('CAPSTAN_ERR_CODEC_INPUT', 'Ogg granule positions must not decrease', {
        details: { granule: String(granule), previous: String(this.lastGranule) },
      });
    }
    const pages: Buffer[] = [];
    let offset = 0;
    for (;;) {
      const lace = Math.min(255, packet.length - offset);
      this.segments.push(lace);
      this.chunks.push(packet.subarray(offset, offset + lace));
      this.bodyLength += lace;
      offset += lace;
      if (lace < 255) break; // a lacing value below 255 ends the packet (0 after exact multiples)
      if (this.segments.length === 255) {
        // Full page in the middle of the packet: the rest continues on the next page.
        pages.push(this.emit(false));
        this.continued = true;
      }
    }
    this.pageGranule = granule;
    this.lastGranule = granule;
    if (options.eos) {
      pages.push(this.emit(true));
      this.done = true;
    } else if (options.flush || this.segments.length === 255 || this.bodyLength >= this.targetPageBytes) {
      pages.push(this.emit(false));
    }
    return pages;
  }

  /** Emits the pending page, if any (so that a reader sees every packet written so far). */
  flush(): Buffer[] {
    if (this.done || this.segments.length === 0) return [];
    return [this.emit(false)];
  }

  /**
   * Ends the stream: emits the pending page with EOS, or an empty EOS page carrying the last
   * granule position when nothing is pending. Idempotent.
   */
  end(): Buffer[] {
    if (this.done) return [];
    if (this.segments.length === 0) this.pageGranule = this.lastGranule;
    const page = this.emit(true);
    this.done = true;
    return [page];
  }

  private emit(eos: boolean): Buffer {
    const body = Buffer.concat(this.chunks, this.bodyLength);
    const page = new OggPage({
      continued: this.continued,
      bos: this.sequence === 0,
      eos,
      granule: this.pageGranule,
      serial: this.serial,
      sequence: this.sequence,
      segments: Uint8Array.from(this.segments),
      body,
    }).serialize();
    this.sequence++;
    this.segments = [];
    this.chunks = [];
    this.bodyLength = 0;
    this.pageGranule = -1n;
    this.continued = false;
    return page;
  }
}
