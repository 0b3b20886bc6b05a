/**
 * The WAV layouts Capstan writes, shared by the writer (placeholder sizes, then real ones) and
 * the repair of files left unfinished by a crash.
 *
 *   RIFF <size> WAVE
 *   fmt  16 bytes (PCM) | 18 bytes with cbSize 0 (A-law 0x0006, µ-law 0x0007)
 *   fact 4 bytes: frames per channel          (non-PCM formats only, as the WAV spec requires)
 *   cpst JSON metadata, space-padded to even  (optional; Capstan's own chunk, ignored by players)
 *   data <size> samples...  [pad byte when size is odd]
 *
 * `data` is always last, so the file can grow by appending and stays a valid WAV up to the last
 * header update.
 */
import { alawEncode, ulawEncode } from '../codecs/g711.ts';

export type WavEncoding = 'pcm16' | 'ulaw' | 'alaw';

export const WAV_FORMAT_TAG: Record<WavEncoding, number> = { pcm16: 0x0001, alaw: 0x0006, ulaw: 0x0007 };

export interface WavSpec {
  encoding: WavEncoding;
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
}

export function bytesPerSample(encoding: WavEncoding): number {
  return encoding === 'pcm16' ? 2 : 1;
}

/** Builds the header for `spec` with sizes for `dataBytes` of samples. */
export function buildWavHeader(spec: WavSpec, dataBytes = 0): WavHeaderLayout {
  const bps = bytesPerSample(spec.encoding);
  const blockAlign = bps * spec.channels;
  const pcm = spec.encoding === 'pcm16';
  const fmtSize = pcm ? 16 : 18;
  let meta: Buffer | undefined;
  if (spec.metadata !== undefined) {
    meta = Buffer.from(JSON.stringify(spec.metadata), 'utf8');
    // RIFF chunks are word-aligned; a trailing space keeps the JSON parseable.
    if (meta.length % 2 !== 0) meta = Buffer.concat([meta, Buffer.from(' ')]);
  }
  const size = 12 + 8 + fmtSize + (pcm ? 0 : 12) + (meta ? 8 + meta.length : 0) + 8;
  const h = Buffer.alloc(size);
  let o = 0;
  h.write('RIFF', o, 'ascii');
  const riffSizeOffset = 4;
  h.write('WAVE', 8, 'ascii');
  o = 12;
  h.write('fmt ', o, 'ascii');
  h.writeUInt32LE(fmtSize, o + 4);
  h.writeUInt16LE(WAV_FORMAT_TAG[spec.encoding], o + 8);
  h.writeUInt16LE(spec.channels, o + 10);
  h.writeUInt32LE(spec.sampleRate, o + 12);
  h.writeUInt32LE(spec.sampleRate * blockAlign, o + 16);
  h.writeUInt16LE(blockAlign, o + 20);
  h.writeUInt16LE(bps * 8, o + 22);
  if (!pcm) h.writeUInt16LE(0, o + 24); // cbSize: no extra format bytes for G.711
  o += 8 + fmtSize;
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
  const layout: WavHeaderLayout = { header: h, riffSizeOffset, factOffset, dataSizeOffset, dataOffset: size, blockAlign };
  writeWavSizes(layout, dataBytes);
  return layout;
}

/** Writes the RIFF, fact and data sizes for `dataBytes` into the layout's header buffer. */
export function writeWavSizes(layout: WavHeaderLayout, dataBytes: number): void {
  const pad = dataBytes % 2;
  layout.header.writeUInt32LE(layout.dataOffset - 8 + dataBytes + pad, layout.riffSizeOffset);
  layout.header.writeUInt32LE(dataBytes, layout.dataSizeOffset);
  if (layout.factOffset !== undefined) layout.header.writeUInt32LE(dataBytes / layout.blockAlign, layout.factOffset);
}

/** Encodes 16-bit samples (interleaved frames) into the bytes a WAV of `encoding` stores. */
export function encodeWavSamples(encoding: WavEncoding, samples: Int16Array): Uint8Array {
  if (encoding === 'ulaw') return ulawEncode(samples);
  if (encoding === 'alaw') return alawEncode(samples);
  const out = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i]!, 2 * i);
  return out;
}
