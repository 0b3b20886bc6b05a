/**
 * `audio/GSM`: GSM 06.10 full rate in WAV as Microsoft's "WAV49" (format tag 0x0031): two
 * 260-bit frames (320 samples, 40 ms) packed least-significant bit first into one 65-byte block.
 * fmt chunk of 20 bytes: 1 channel, 8000 Hz, 1625 bytes/s (65 × 25), block align 65, 0 bits per
 * sample, cbSize 2 and wSamplesPerBlock 320 — byte for byte what sox, ffmpeg (libgsm_ms) and
 * Windows' ACM codec write. Mono only (see builtin-formats.ts). The encoder is the bit-exact
 * port of libgsm in media/codecs/gsm.
 */
import { GsmEncoder } from '../gsm/gsm-encoder.ts';
import { GSM_WAV49_BLOCK_BYTES, GSM_WAV49_BLOCK_SAMPLES } from '../gsm/gsm-frame.ts';
import { BlockEncoder } from '../block-encoder.ts';
import type { WavCodec } from '../codec.ts';

const SAMPLES_PER_BLOCK = new Uint8Array([GSM_WAV49_BLOCK_SAMPLES & 0xff, GSM_WAV49_BLOCK_SAMPLES >> 8]);

export const gsmCodec: WavCodec = {
  mime: 'audio/GSM',
  name: 'GSM 06.10 (WAV49)',
  container: 'wav',
  fileExtension: '.wav',
  frameSamples: GSM_WAV49_BLOCK_SAMPLES,
  supportsChannels: [1],
  sampleRate: 8000,
  wavFormat: (channels) => ({
    formatTag: 0x0031,
    channels,
    sampleRate: 8000,
    avgBytesPerSec: 1625,
    blockAlign: GSM_WAV49_BLOCK_BYTES,
    bitsPerSample: 0,
    extra: SAMPLES_PER_BLOCK,
    samplesPerBlock: GSM_WAV49_BLOCK_SAMPLES,
  }),
  createEncoder: (channels) => {
    const gsm = new GsmEncoder();
    return new BlockEncoder({
      codec: 'GSM',
      channels,
      blockSamples: GSM_WAV49_BLOCK_SAMPLES,
      blockBytes: GSM_WAV49_BLOCK_BYTES,
      encodeBlock: (block, out, offset) => void gsm.encodeMsBlock(block, out, offset),
    });
  },
};
