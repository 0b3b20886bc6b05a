/**
 * The WAV layouts Capstan writes, shared by the writer (placeholder sizes, then real ones) and
 * the repair of files left unfinished by a crash.
 *
 *   RIFF <size> WAVE
 *   fmt  16 bytes (PCM) | 18 + cbSize bytes (every other format: A-law 0x0006 and µ-law 0x0007
 *        with cbSize 0, GSM 0x0031 with 2, TrueSpeech 0x0022 with 32; see media/codecs/builtin)
 *   fact 4 bytes: samples per channel         (non-PCM formats only, as the WAV spec requires;
 *        for block codecs the true count, so the silence padding the last block is not played)
 *   cpst JSON metadata, space-padded to even  (optional; Capstan's own chunk, ignored by players)
 *   data <size> samples...  [pad byte when size is odd]
 *
 * `data` is always last, so the file can grow by appending and stays a valid WAV up to the last
 * header update.
 */
import { pcm16le } from '../codecs/builtin/pcm-codec.ts';
import { alawEncode, ulawEncode } from '../codecs/g711.ts';
import type { WavFormat } from '../codecs/codec.ts';

export type WavEncoding = 'pcm16' | 'ulaw' | 'alaw';

export const WAV_FORMAT_TAG: Record<WavEncoding, number> = { pcm16: 0x0001, alaw: 0x0006, ulaw: 0x0007 };

export interface WavSpec {
  /** A classic sample encoding (shorthand for its fmt chunk), or any codec's fmt chunk. */
  encoding: WavEncoding | WavFormat;
  channels: number;
  /** Samples per second per channel; Capstan records at 8000. */
  sampleRate: number;
  /** Stored in the `cpst` chunk so a recovered file still says what it is (recording id...). */
  metadata?: Record<string, unknown> | undefined;
}

/** Byte positions of the size fields a header update rewrites. */
export interface WavHeaderLayout {
  header: Buffer;
  riffSizeOffset: number;
  /** Offset of the fact chunk's frame count, or undefined for PCM. */
  factOffset: number | undefined;
  dataSizeOffset: number;
  dataOffset: number;
  blockAlign: number;
  /** Samples per channel in one block (1 for PCM and G.711). */
  samplesPerBlock: number;
}

export function bytesPerSample(encoding: WavEncoding): number {
  return encoding === 'pcm16' ? 2 : 1;
}

/** The fmt chunk of a classic sample encoding. */
export function wavFormatOf(encoding: WavEncoding, channels: number, sampleRate: number): WavFormat {
  const bps = bytesPerSample(encoding);
  return {
    formatTag: WAV_FORMAT_TAG[encoding],
    channels,
    sampleRate,
    avgBytesPerSec: sampleRate * bps * channels,
    blockAlign: bps * channels,
    bitsPerSample: bps * 8,
    // PCM has the 16-byte fmt chunk; G.711 the 18-byte one with cbSize 0.
    extra: encoding === 'pcm16' ? undefined : new Uint8Array(0),
    samplesPerBlock: 1,
  };
}

/** Builds the header for `spec` with sizes for `dataBytes` of samples (`samples` per channel for `fact`). */
export function buildWavHeader(spec: WavSpec, dataBytes = 0, samples?: number): WavHeaderLayout {
  const fmt = typeof spec.encoding === 'string' ? wavFormatOf(spec.encoding, spec.channels, spec.sampleRate) : spec.encoding;
  const blockAlign = fmt.blockAlign;
  const pcm = fmt.formatTag === 0x0001;
  const fmtSize = fmt.extra === undefined ? 16 : 18 + fmt.extra.length;
  let meta: Buffer | undefined;
  if (spec.metadata !== undefined) {
    meta = Buffer.from(JSON.stringify(spec.metadata), 'utf8');
    // RIFF chunks are word-aligned; a trailing space keeps the JSON parseable.
    if (meta.length % 2 !== 0) meta = Buffer.concat([meta, Buffer.from(' ')]);
  }
  const size = 12 + 8 + fmtSize + (fmtSize % 2) + (pcm ? 0 : 12) + (meta ? 8 + meta.length : 0) + 8;
  const h = Buffer.alloc(size);
  let o = 0;
  h.write('RIFF', o, 'ascii');
  const riffSizeOffset = 4;
  h.write('WAVE', 8, 'ascii');
  o = 12;
  h.write('fmt ', o, 'ascii');
  h.writeUInt32LE(fmtSize, o + 4);
  h.writeUInt16LE(fmt.formatTag, o + 8);
  h.writeUInt16LE(fmt.channels, o + 10);
  h.writeUInt32LE(fmt.sampleRate, o + 12);
  h.writeUInt32LE(fmt.avgBytesPerSec, o + 16);
  h.writeUInt16LE(blockAlign, o + 20);
  h.writeUInt16LE(fmt.bitsPerSample, o + 22);
  if (fmt.extra !== undefined) {
    h.writeUInt16LE(fmt.extra.length, o + 24); // cbSize
    h.set(fmt.extra, o + 26);
  }
  o += 8 + fmtSize + (fmtSize % 2);
  let factOffset: number | undefined;
  if (!pcm) {
    h.write('fact', o, 'ascii');
    h.writeUInt32LE(4, o + 4);
    factOffset = o + 8;
    o += 12;
  }
  if (meta) {
    h.write('cpst', o, 'ascii');
    h.writeUInt32LE(meta.length, o + 4);
    meta.copy(h, o + 8);
    o += 8 + meta.length;
  }
  h.write('data', o, 'ascii');
  const dataSizeOffset = o + 4;
  const layout: WavHeaderLayout = { header: h, riffSizeOffset, factOffset, dataSizeOffset, dataOffset: size, blockAlign, samplesPerBlock: fmt.samplesPerBlock };
  writeWavSizes(layout, dataBytes, samples);
  return layout;
}

/**
 * Writes the RIFF, fact and data sizes for `dataBytes` into the layout's header buffer. `samples`
 * (per channel, for `fact`) defaults to whole blocks × samples per block.
 */
export function writeWavSizes(layout: WavHeaderLayout, dataBytes: number, samples = (dataBytes / layout.blockAlign) * layout.samplesPerBlock): void {
  const pad = dataBytes % 2;
  layout.header.writeUInt32LE(layout.dataOffset - 8 + dataBytes + pad, layout.riffSizeOffset);
  layout.header.writeUInt32LE(dataBytes, layout.dataSizeOffset);
  if (layout.factOffset !== undefined) layout.header.writeUInt32LE(samples, layout.factOffset);
}

/** Encodes 16-bit samples (interleaved frames) into the bytes a WAV of `encoding` stores. */
export function encodeWavSamples(encoding: WavEncoding, samples: Int16Array): Uint8Array {
  if (encoding === 'ulaw') return ulawEncode(samples);
  if (encoding === 'alaw') return alawEncode(samples);
  return pcm16le(samples);
}
