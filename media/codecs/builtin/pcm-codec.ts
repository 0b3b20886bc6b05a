/**
 * `audio/L16`: 16-bit linear PCM in WAV (format tag 0x0001, 16-byte fmt chunk, no `fact`).
 * WAV stores it little-endian (unlike L16 on RTP, which is network order).
 */
import type { WavCodec, WavFormat } from '../codec.ts';
import { WaveformEncoder } from './waveform-encoder.ts';

/** Whether this machine stores Int16Array elements little-endian (every platform Node runs on today). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Writes interleaved samples into `out` (2 bytes a sample) as little-endian 16-bit bytes. On a
 * little-endian machine that is the samples' own memory, copied once (the media server's hottest
 * write path); elsewhere, byte by byte.
 */
export function pcm16leInto(pcm: Int16Array, out: Uint8Array): void {
  if (LITTLE_ENDIAN) {
    out.set(new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < pcm.length; i++) view.setInt16(2 * i, pcm[i]!, true);
}

/** Interleaved samples as little-endian 16-bit bytes, in a new array. */
export function pcm16le(pcm: Int16Array): Uint8Array {
  const out = new Uint8Array(pcm.length * 2);
  pcm16leInto(pcm, out);
  return out;
}

export const pcmCodec: WavCodec = {
  mime: 'audio/L16',
  name: 'PCM 16-bit',
  container: 'wav',
  fileExtension: '.wav',
  frameSamples: 1,
  supportsChannels: [1, 2],
  sampleRate: 8000,
  wavFormat: (channels): WavFormat => ({
    formatTag: 0x0001,
    channels,
    sampleRate: 8000,
    avgBytesPerSec: 8000 * 2 * channels,
    blockAlign: 2 * channels,
    bitsPerSample: 16,
    extra: undefined,
    samplesPerBlock: 1,
  }),
  createEncoder: (channels) => new WaveformEncoder('L16', channels, 2, pcm16leInto),
};
