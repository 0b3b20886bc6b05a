/**
 * Test helpers: hand our TrueSpeech frames to ffmpeg (the only other TrueSpeech decoder) inside
 * a WAV written with the header helper, and make reproducible random frames for contrast.
 */

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trueSpeechWav } from '../../../../media/codecs/truespeech/truespeech-wav-header.ts';

/** Writes `frames` as a TrueSpeech WAV in `dir` and returns ffmpeg's 8 kHz mono s16 decode. */
export function ffmpegDecodeTrueSpeech(dir: string, name: string, frames: Uint8Array, samples?: number): Int16Array {
  const wav = join(dir, `${name}.wav`);
  writeFileSync(wav, trueSpeechWav(frames, samples));
  const out = execFileSync('ffmpeg', ['-loglevel', 'error', '-i', wav, '-f', 's16le', '-ac', '1', '-ar', '8000', '-'], { maxBuffer: 1 << 26 });
  const pcm = new Int16Array(out.length >> 1);
  for (let i = 0; i < pcm.length; i++) pcm[i] = out.readInt16LE(2 * i);
  return pcm;
}

/** Deterministic pseudo-random bytes (an LCG), so a failing contrast is reproducible. */
export function randomFrames(count: number, seed = 12345): Uint8Array {
  const out = new Uint8Array(count * 32);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}
