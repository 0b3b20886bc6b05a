/**
 * `audio/PCMU` (µ-law, format tag 0x0007) and `audio/PCMA` (A-law, 0x0006) in WAV: 8 bits per
 * sample, 18-byte fmt chunk with cbSize 0, and a `fact` chunk as the WAV spec asks of every
 * non-PCM format. The companding itself is media/codecs/g711.ts (ITU-T G.711).
 */
import { alawEncode, ulawEncode } from '../g711.ts';
import type { WavCodec, WavFormat } from '../codec.ts';
import { WaveformEncoder } from './waveform-encoder.ts';

function g711Format(formatTag: number, channels: 1 | 2): WavFormat {
  return {
    formatTag,
    channels,
    sampleRate: 8000,
    avgBytesPerSec: 8000 * channels,
    blockAlign: channels,
    bitsPerSample: 8,
    extra: new Uint8Array(0),
    samplesPerBlock: 1,
  };
}

export const pcmuCodec: WavCodec = {
  mime: 'audio/PCMU',
  name: 'G.711 µ-law',
  container: 'wav',
  fileExtension: '.wav',
  frameSamples: 1,
  supportsChannels: [1, 2],
  sampleRate: 8000,
  wavFormat: (channels) => g711Format(0x0007, channels),
  createEncoder: (channels) => new WaveformEncoder('PCMU', channels, 1, ulawEncode),
};

export const pcmaCodec: WavCodec = {
  mime: 'audio/PCMA',
  name: 'G.711 A-law',
  container: 'wav',
  fileExtension: '.wav',
  frameSamples: 1,
  supportsChannels: [1, 2],
  sampleRate: 8000,
  wavFormat: (channels) => g711Format(0x0006, channels),
  createEncoder: (channels) => new WaveformEncoder('PCMA', channels, 1, alawEncode),
};
