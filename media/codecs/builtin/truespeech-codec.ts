/**
 * `audio/x-truespeech`: DSP Group TrueSpeech 8.5 in WAV (format tag 0x0022): 240 samples
 * (30 ms) per 32-byte block, 50-byte fmt chunk — 1067 bytes/s, block align 32, 1 bit per sample,
 * cbSize 32: revision 1, 240 samples per block, 28 zero bytes — the layout of Windows' ACM codec,
 * which is what ffmpeg's `truespeech` decoder and Windows players read. Mono only.
 *
 * Integration point with media/codecs/truespeech (its own work): only the encoder contract
 * `new TrueSpeechEncoder().encodeFrame(pcm240) → 32 bytes` and the frame constants are used, so
 * the encoder can change freely behind it.
 */
import { TrueSpeechEncoder } from '../truespeech/truespeech-encoder.ts';
import { TRUESPEECH_FRAME_BYTES, TRUESPEECH_FRAME_SAMPLES } from '../truespeech/truespeech-frame.ts';
import { BlockEncoder } from '../block-encoder.ts';
import type { WavCodec } from '../codec.ts';

/** cbSize bytes: wRevision 1, wSamplesPerBlock 240, then 28 reserved zero bytes. */
const TRUESPEECH_EXTRA = (() => {
  const extra = new Uint8Array(32);
  extra[0] = 1;
  extra[2] = TRUESPEECH_FRAME_SAMPLES & 0xff;
  extra[3] = TRUESPEECH_FRAME_SAMPLES >> 8;
  return extra;
})();

export const trueSpeechCodec: WavCodec = {
  mime: 'audio/x-truespeech',
  name: 'TrueSpeech 8.5',
  container: 'wav',
  fileExtension: '.wav',
  frameSamples: TRUESPEECH_FRAME_SAMPLES,
  supportsChannels: [1],
  sampleRate: 8000,
  wavFormat: (channels) => ({
    formatTag: 0x0022,
    channels,
    sampleRate: 8000,
    // 8000 / 240 × 32 = 1066.67, rounded up as the ACM codec reports it.
    avgBytesPerSec: 1067,
    blockAlign: TRUESPEECH_FRAME_BYTES,
    bitsPerSample: 1,
    extra: TRUESPEECH_EXTRA,
    samplesPerBlock: TRUESPEECH_FRAME_SAMPLES,
  }),
  createEncoder: (channels) => {
    const ts = new TrueSpeechEncoder();
    return new BlockEncoder({
      codec: 'TrueSpeech',
      channels,
      blockSamples: TRUESPEECH_FRAME_SAMPLES,
      blockBytes: TRUESPEECH_FRAME_BYTES,
      encodeBlock: (block, out, offset) => out.set(ts.encodeFrame(block), offset),
    });
  },
};
