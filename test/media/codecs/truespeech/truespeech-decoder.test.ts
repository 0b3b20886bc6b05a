import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrueSpeechDecoder } from '../../../../media/codecs/truespeech/truespeech-decoder.ts';
import { ffmpegDecodeTrueSpeech, randomFrames } from './ffmpeg-truespeech.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'capstan-truespeech-dec-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Index of the first differing sample, or -1: tells where the model leaves ffmpeg. */
function firstDifference(a: Int16Array, b: Int16Array): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('TrueSpeechDecoder', () => {
  it('decodes random frames into exactly the samples ffmpeg outputs', () => {
    // Random frames reach every table entry, lag, unstable filters, saturation and the int16
    // wrap-arounds of FFmpeg's buffers: the strictest test of the model the encoder relies on.
    for (const seed of [1, 2, 3]) {
      const frames = randomFrames(300, seed);
      const theirs = ffmpegDecodeTrueSpeech(dir, `random-${seed}`, frames);
      const ours = new TrueSpeechDecoder().decode(frames);
      expect(ours.length).toBe(300 * 240);
      expect(theirs.length).toBe(ours.length);
      expect(firstDifference(ours, theirs)).toBe(-1);
    }
  });

  it('keeps its state across frames: decoding frame by frame equals decoding the stream', () => {
    const frames = randomFrames(20, 9);
    const whole = new TrueSpeechDecoder().decode(frames);
    const dec = new TrueSpeechDecoder();
    const parts = new Int16Array(whole.length);
    for (let f = 0; f < 20; f++) dec.decodeFrame(frames, f * 32, parts.subarray(f * 240));
    expect(firstDifference(parts, whole)).toBe(-1);
    // And a fresh decoder on the second frame alone gives something else: there is state.
    const alone = new TrueSpeechDecoder().decodeFrame(frames, 32);
    expect(firstDifference(alone, whole.subarray(240, 480))).not.toBe(-1);
  });

  it('rejects short frames and output buffers with CAPSTAN_ERR_CODEC_INPUT', () => {
    const dec = new TrueSpeechDecoder();
    expect(() => dec.decodeFrame(new Uint8Array(31))).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
    expect(() => dec.decodeFrame(new Uint8Array(32), 0, new Int16Array(239))).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
  });
});
