/**
 * Ogg Opus writer (RFC 7845) for 8 kHz recordings, mono or dual-channel (caller on channel 0,
 * everyone else on channel 1). Pure and synchronous: `push` and `end` return the Ogg pages to
 * append to the file; concatenating everything they return, in order, is the complete `.opus`
 * file. The first call's result starts with the two header pages.
 *
 * Stream layout (RFC 7845 section 3):
 * - page 0 (BOS): OpusHead alone, granule 0: version 1, channel count, pre-skip, input sample
 *   rate 8000, output gain 0, channel mapping family 0 (mono/stereo, no mapping table);
 * - page 1: OpusTags alone, granule 0: vendor "capstan", user comments (none by default);
 * - audio pages: one 20 ms Opus packet per 160 input samples per channel. Granule positions
 *   count 48 kHz samples *including* the pre-skip, so the page ending with packet n carries
 *   n * 960;
 * - the last page (EOS) carries pre-skip + 6 * (input samples per channel), which trims the
 *   padding of the last frame (end trimming, RFC 7845 section 4.4). Enough silent frames are
 *   encoded at the end for the decoder to produce pre-skip + every input sample.
 *
 * Pre-skip: @discordjs/opus creates its encoder with OPUS_APPLICATION_AUDIO and does not expose
 * OPUS_GET_LOOKAHEAD. libopus reports the lookahead as Fs/400 + delay_compensation (Fs/250) for
 * every application but RESTRICTED_LOWDELAY (opus_encoder.c, OPUS_GET_LOOKAHEAD_REQUEST):
 * 20 + 32 = 52 samples at 8 kHz, i.e. 312 samples at 48 kHz, the value opusenc writes too. The
 * tests check it by aligning ffmpeg's decode with the input.
 */

// @discordjs/opus is CommonJS: Node's ESM loader (bin/capstan.js, the media server) gives only its
// default export, so the class is taken from that (a named import works under vitest alone).
import discordOpus from '@discordjs/opus';
import { CapstanError } from '../../../core/errors.ts';
import { OggPageWriter } from '../ogg/ogg-page-writer.ts';

const { OpusEncoder } = discordOpus;
type OpusEncoder = InstanceType<typeof OpusEncoder>;

/** Input sample rate: Capstan records 8 kHz audio. */
export const OPUS_INPUT_RATE = 8000;
/** Samples per channel in one 20 ms frame at 8 kHz. */
export const OPUS_FRAME_SAMPLES = 160;
/** 48 kHz granule units per 8 kHz sample. */
const GRANULE_PER_SAMPLE = 48000 / OPUS_INPUT_RATE;
/** 48 kHz samples per 20 ms packet. */
const GRANULE_PER_FRAME = OPUS_FRAME_SAMPLES * GRANULE_PER_SAMPLE;
/** Encoder lookahead of libopus (OPUS_APPLICATION_AUDIO) in 48 kHz samples; see above. */
export const OPUS_PRE_SKIP = 312;

export interface OggOpusWriterOptions {
  /** 1 (mono) or 2 (dual-channel). */
  channels: 1 | 2;
  /** Ogg bitstream serial number; random when omitted (RFC 3533 asks for unique serials). */
  serial?: number;
  /** Target bitrate in bit/s; libopus's automatic choice when omitted (11 kbit/s mono at 8 kHz). */
  bitrate?: number;
  /** OpusTags vendor string (default "capstan"). */
  vendor?: string;
  /** OpusTags user comments, written as KEY=value. */
  tags?: Readonly<Record<string, string>>;
  /** Audio packets per page before a page is emitted (default 50, one second). */
  packetsPerPage?: number;
}

function codecInput(message: string, details: Record<string, unknown>): CapstanError {
  return new CapstanError('CAPSTAN_ERR_CODEC_INPUT', message, { details: { codec: 'opus', ...details } });
}

/** The 19-byte OpusHead packet for channel mapping family 0. */
export function opusHead(channels: 1 | 2, preSkip: number, inputSampleRate: number): Buffer {
  const head = Buffer.alloc(19);
  head.write('OpusHead', 0, 'latin1');
  head[8] = 1; // version
  head[9] = channels;
  head.writeUInt16LE(preSkip, 10);
  head.writeUInt32LE(inputSampleRate, 12);
  head.writeInt16LE(0, 16); // output gain, Q7.8 dB
  head[18] = 0; // mapping family 0: mono or L/R stereo, no table
  return head;
}

/** The OpusTags packet: vendor string and KEY=value comments, lengths little-endian. */
export function opusTags(vendor: string, tags: Readonly<Record<string, string>> = {}): Buffer {
  const parts: Buffer[] = [Buffer.from('OpusTags', 'latin1')];
  const vendorBytes = Buffer.from(vendor, 'utf8');
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n, 0);
    return b;
  };
  parts.push(u32(vendorBytes.length), vendorBytes);
  const entries = Object.entries(tags);
  parts.push(u32(entries.length));
  for (const [key, value] of entries) {
    if (key.length === 0 || /[^\x20-\x3c\x3e-\x7d]/.test(key)) throw codecInput('An Opus comment key is printable ASCII without "="', { key });
    const c = Buffer.from(`${key}=${value}`, 'utf8');
    parts.push(u32(c.length), c);
  }
  return Buffer.concat(parts);
}

export class OggOpusWriter {
  readonly channels: 1 | 2;
  readonly preSkip = OPUS_PRE_SKIP;
  private readonly encoder: OpusEncoder;
  private readonly ogg: OggPageWriter;
  private readonly packetsPerPage: number;
  private readonly headerPages: Buffer[];
  private headersOut = false;
  /** Samples (per channel) not yet encoded, interleaved; always less than one frame. */
  private readonly frame: Int16Array;
  private frameFill = 0;
  private samplesIn = 0;
  private packetsOut = 0;
  private packetsOnPage = 0;
  private ended = false;

  constructor(options: OggOpusWriterOptions) {
    if (options.channels !== 1 && options.channels !== 2) throw codecInput('Ogg Opus recordings have 1 or 2 channels', { channels: options.channels });
    const perPage = options.packetsPerPage ?? 50;
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 255) throw codecInput('packetsPerPage must be 1..255', { packetsPerPage: perPage });
    this.channels = options.channels;
    this.packetsPerPage = perPage;
    this.frame = new Int16Array(OPUS_FRAME_SAMPLES * this.channels);
    this.encoder = new OpusEncoder(OPUS_INPUT_RATE, this.channels);
    if (options.bitrate !== undefined) {
      if (!Number.isInteger(options.bitrate) || options.bitrate < 500 || options.bitrate > 512000) {
        throw codecInput('An Opus bitrate is 500..512000 bit/s', { bitrate: options.bitrate });
      }
      this.encoder.setBitrate(options.bitrate);
    }
    const serial = options.serial ?? (Math.random() * 0x100000000) >>> 0;
    this.ogg = new OggPageWriter(serial);
    this.headerPages = [
      ...this.ogg.writePacket(opusHead(this.channels, this.preSkip, OPUS_INPUT_RATE), 0n, { flush: true }),
      ...this.ogg.writePacket(opusTags(options.vendor ?? 'capstan', options.tags), 0n, { flush: true }),
    ];
  }

  /** Serial number of the Ogg bitstream. */
  get serial(): number {
    return this.ogg.serial;
  }

  /** Samples per channel received so far. */
  get samples(): number {
    return this.samplesIn;
  }

  /**
   * Adds interleaved 16-bit samples (any count that is a multiple of the channel count);
   * encodes every whole 20 ms frame and returns the pages completed.
   */
  push(pcm: Int16Array): Buffer[] {
    if (this.ended) throw new CapstanError('CAPSTAN_ERR_CLOSED', 'The Ogg Opus writer has ended');
    if (pcm.length % this.channels !== 0) {
      throw codecInput('Interleaved PCM must hold the same number of samples on every channel', { samples: pcm.length, channels: this.channels });
    }
    const pages = this.takeHeaders();
    const frameLength = this.frame.length;
    let offset = 0;
    while (offset < pcm.length) {
      const n = Math.min(frameLength - this.frameFill, pcm.length - offset);
      this.frame.set(pcm.subarray(offset, offset + n), this.frameFill);
      this.frameFill += n;
      offset += n;
      if (this.frameFill === frameLength) {
        this.frameFill = 0;
        pages.push(...this.encodeFrame(this.frame, false, 0n));
      }
    }
    this.samplesIn += pcm.length / this.channels;
    return pages;
  }

  /**
   * Emits the page in progress, so that a reader (or crash repair) sees every packet encoded so
   * far; the partial 20 ms frame stays buffered (nothing is padded). The media server calls it
   * at every periodic flush. Returns the header pages too if nothing was returned yet.
   */
  flush(): Buffer[] {
    if (this.ended) return [];
    const pages = this.takeHeaders();
    pages.push(...this.ogg.flush());
    this.packetsOnPage = 0;
    return pages;
  }

  /**
   * Pads the last frame with silence, encodes enough extra silence for the decoder to deliver
   * every input sample after the pre-skip, and returns the remaining pages, the last with EOS
   * and the exact end granule. Idempotent.
   */
  end(): Buffer[] {
    if (this.ended) return [];
    const pages = this.takeHeaders();
    const endGranule = BigInt(this.preSkip + this.samplesIn * GRANULE_PER_SAMPLE);
    // Frames needed so that packets * 960 >= pre-skip + samples * 6 (at least one frame).
    const totalFrames = Math.max(1, Math.ceil(Number(endGranule) / GRANULE_PER_FRAME));
    const pendingFrames = totalFrames - this.packetsOut;
    if (this.frameFill > 0 || pendingFrames > 0) {
      this.frame.fill(0, this.frameFill);
      this.frameFill = 0;
      for (let i = 0; i < pendingFrames; i++) {
        pages.push(...this.encodeFrame(this.frame, i === pendingFrames - 1, endGranule));
        if (i === 0) this.frame.fill(0);
      }
    }
    if (!this.ogg.ended) pages.push(...this.ogg.end());
    this.ended = true;
    return pages;
  }

  private takeHeaders(): Buffer[] {
    if (this.headersOut) return [];
    this.headersOut = true;
    return [...this.headerPages];
  }

  private encodeFrame(frame: Int16Array, last: boolean, endGranule: bigint): Buffer[] {
    // @discordjs/opus derives the frame size from the buffer length and aborts the whole process
    // (not a catchable exception) when libopus rejects it: never pass anything but 20 ms.
    if (frame.length !== OPUS_FRAME_SAMPLES * this.channels) {
      throw codecInput('An Opus frame must be exactly 20 ms', { samples: frame.length, channels: this.channels });
    }
    const input = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    const packet = this.encoder.encode(input);
    this.packetsOut++;
    this.packetsOnPage++;
    const granule = last ? endGranule : BigInt(this.packetsOut * GRANULE_PER_FRAME);
    const flush = this.packetsOnPage >= this.packetsPerPage;
    if (flush || last) this.packetsOnPage = 0;
    return this.ogg.writePacket(packet, granule, { eos: last, flush });
  }
}
