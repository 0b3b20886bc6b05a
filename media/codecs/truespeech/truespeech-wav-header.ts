/**
 * The WAV header of a TrueSpeech file (WAVE_FORMAT_DSPGROUP_TRUESPEECH, 0x0022), as Windows'
 * ACM codec writes it and FFmpeg and Windows players read it:
 *
 *   RIFF <size> WAVE
 *   fmt  50 bytes: tag 0x0022, 1 channel, 8000 Hz, 1067 bytes/s, block align 32, 1 bit/sample,
 *        cbSize 32: revision 1 (uint16), 240 samples per block (uint16), 28 zero bytes
 *   fact 4 bytes: samples per channel (a compressed format needs it)
 *   data <size> 32-byte frames
 *
 * 1067 bytes/s is 8000 / 240 * 32 rounded up, the value the ACM codec reports. The container
 * work (media/wav) can reuse this; tests use it to hand our frames to ffmpeg.
 */

import { TRUESPEECH_FRAME_BYTES, TRUESPEECH_FRAME_SAMPLES } from './truespeech-frame.ts';

export const TRUESPEECH_FORMAT_TAG = 0x0022;
export const TRUESPEECH_BYTES_PER_SECOND = 1067;
/** Bytes before the first frame: RIFF(12) + fmt(8 + 50) + fact(8 + 4) + data header(8). */
export const TRUESPEECH_WAV_HEADER_BYTES = 90;

/**
 * The 90-byte header for `frames` 32-byte frames. `samples` (the fact chunk) defaults to
 * frames x 240; give the real count when the last frame was padded.
 */
export function trueSpeechWavHeader(frames: number, samples = frames * TRUESPEECH_FRAME_SAMPLES): Buffer {
  const dataBytes = frames * TRUESPEECH_FRAME_BYTES;
  const h = Buffer.alloc(TRUESPEECH_WAV_HEADER_BYTES);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(TRUESPEECH_WAV_HEADER_BYTES - 8 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(50, 16);
  h.writeUInt16LE(TRUESPEECH_FORMAT_TAG, 20);
  h.writeUInt16LE(1, 22); // channels
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(TRUESPEECH_BYTES_PER_SECOND, 28);
  h.writeUInt16LE(TRUESPEECH_FRAME_BYTES, 32); // block align
  h.writeUInt16LE(1, 34); // bits per sample
  h.writeUInt16LE(32, 36); // cbSize
  h.writeUInt16LE(1, 38); // revision
  h.writeUInt16LE(TRUESPEECH_FRAME_SAMPLES, 40); // samples per block
  // 42..69: 28 reserved zero bytes (Buffer.alloc zero-fills).
  h.write('fact', 70, 'ascii');
  h.writeUInt32LE(4, 74);
  h.writeUInt32LE(samples, 78);
  h.write('data', 82, 'ascii');
  h.writeUInt32LE(dataBytes, 86);
  return h;
}

/** A complete TrueSpeech WAV file around `frames` (a multiple of 32 bytes). */
export function trueSpeechWav(frames: Uint8Array, samples?: number): Buffer {
  const n = Math.floor(frames.length / TRUESPEECH_FRAME_BYTES);
  return Buffer.concat([trueSpeechWavHeader(n, samples), frames.subarray(0, n * TRUESPEECH_FRAME_BYTES)]);
}
