import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GsmEncoder } from '../../../../media/codecs/gsm/gsm-encoder.ts';
import { GSM_TOAST_FRAME_BYTES, GSM_WAV49_BLOCK_BYTES } from '../../../../media/codecs/gsm/gsm-frame.ts';
import { espeakSpeech, pcmBytes } from '../../../helpers/espeak-speech.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'capstan-gsm-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Our toast frames for a whole signal, the last frame zero-padded as toast does. */
function encodeToastStream(pcm: Int16Array): Buffer {
  const enc = new GsmEncoder();
  const frames = Math.ceil(pcm.length / 160);
  const out = Buffer.alloc(frames * GSM_TOAST_FRAME_BYTES);
  const frame = new Int16Array(160);
  for (let f = 0; f < frames; f++) {
    frame.fill(0);
    frame.set(pcm.subarray(f * 160, f * 160 + 160));
    enc.encodeToast(frame, out, f * GSM_TOAST_FRAME_BYTES);
  }
  return out;
}

/** Our WAV49 blocks for a whole signal, the last block zero-padded as ffmpeg does. */
function encodeMsStream(pcm: Int16Array): Buffer {
  const enc = new GsmEncoder();
  const blocks = Math.ceil(pcm.length / 320);
  const out = Buffer.alloc(blocks * GSM_WAV49_BLOCK_BYTES);
  const block = new Int16Array(320);
  for (let b = 0; b < blocks; b++) {
    block.fill(0);
    block.set(pcm.subarray(b * 320, b * 320 + 320));
    enc.encodeMsBlock(block, out, b * GSM_WAV49_BLOCK_BYTES);
  }
  return out;
}

/** libgsm's own toast, reading raw 16-bit linear input (-l), writing 33-byte frames to stdout. */
function toast(pcm: Int16Array, name: string): Buffer {
  const raw = join(dir, `${name}.raw`);
  writeFileSync(raw, pcmBytes(pcm));
  return execFileSync('toast', ['-l', '-c', raw], { maxBuffer: 1 << 26 });
}

/** ffmpeg's libgsm_ms encoder; returns the data chunk of the WAV it writes. */
function ffmpegMsGsm(pcm: Int16Array, name: string): Buffer {
  const raw = join(dir, `${name}.raw`);
  const wav = join(dir, `${name}.wav`);
  writeFileSync(raw, pcmBytes(pcm));
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 's16le', '-ar', '8000', '-ac', '1', '-i', raw, '-c:a', 'libgsm_ms', '-f', 'wav', wav]);
  return wavDataChunk(readFileSync(wav));
}

function wavDataChunk(wav: Buffer): Buffer {
  expect(wav.toString('latin1', 0, 4)).toBe('RIFF');
  let offset = 12;
  while (offset + 8 <= wav.length) {
    const id = wav.toString('latin1', offset, offset + 4);
    const size = wav.readUInt32LE(offset + 4);
    if (id === 'data') return wav.subarray(offset + 8, offset + 8 + size);
    offset += 8 + size + (size & 1);
  }
  throw new Error('no data chunk');
}

/** Index of the first differing frame, or -1: makes a failure say where the port diverges. */
function firstDifference(a: Buffer, b: Buffer, unit: number): number {
  const n = Math.max(a.length, b.length) / unit;
  for (let i = 0; i < n; i++) {
    if (!a.subarray(i * unit, (i + 1) * unit).equals(b.subarray(i * unit, (i + 1) * unit))) return i;
  }
  return -1;
}

/** Deterministic edge signals (no fixtures): each stresses a saturation or scaling path. */
function edgeSignals(): Record<string, Int16Array> {
  let seed = 0x12345678;
  const rand = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 0x100000000;
  };
  const n = 8000; // one second each
  const square = new Int16Array(n).map((_, i) => (Math.floor(i / 20) % 2 === 0 ? 32767 : -32768));
  const noise = new Int16Array(n).map(() => Math.floor(rand() * 65536) - 32768);
  const clippedSweep = new Int16Array(n).map((_, i) => {
    const v = 60000 * Math.sin((2 * Math.PI * (50 * i + (3500 * i * i) / (2 * n))) / 8000);
    return Math.max(-32768, Math.min(32767, Math.round(v)));
  });
  const impulses = new Int16Array(n).map((_, i) => (i % 57 === 0 ? -32768 : i % 57 === 1 ? 32767 : 0));
  const dcMin = new Int16Array(n).fill(-32768);
  // Full-scale steps after long DC: the high-pass output then reaches ~32764, which drives the
  // autocorrelation rescaling into libgsm's 16-bit wrap (2048 << 4 stored as -32768).
  // One second of negative DC lets the filter settle before the step (measured: 32763).
  const steps = new Int16Array(n + 1600).map((_, i) => (i < n ? -32768 : i < n + 800 ? 32767 : i % 2 === 0 ? 32767 : -32768));
  return { silence: new Int16Array(n), square, noise, clippedSweep, impulses, dcMin, steps };
}

describe('GsmEncoder', () => {
  it('encodes espeak speech into the same 33-byte frames as libgsm toast', () => {
    const { pcm } = espeakSpeech(dir, 'Thank you for calling. This call may be recorded for quality and training purposes.');
    expect(pcm.length).toBeGreaterThan(8000 * 3); // a few seconds of speech
    const ours = encodeToastStream(pcm);
    const theirs = toast(pcm, 'speech');
    expect(ours.length).toBe(theirs.length);
    expect(firstDifference(ours, theirs, GSM_TOAST_FRAME_BYTES)).toBe(-1);
    expect(ours[0]! >> 4).toBe(0xd);
  });

  it('encodes espeak speech into the same 65-byte WAV49 blocks as ffmpeg libgsm_ms', () => {
    const { pcm } = espeakSpeech(dir, 'Please hold while we transfer your call to the next available agent.', { voice: 'en-us' });
    const ours = encodeMsStream(pcm);
    const theirs = ffmpegMsGsm(pcm, 'speech-ms');
    expect(ours.length).toBe(theirs.length);
    expect(firstDifference(ours, theirs, GSM_WAV49_BLOCK_BYTES)).toBe(-1);
  });

  const signals = edgeSignals();
  for (const name of Object.keys(signals)) {
    it(`matches toast and libgsm_ms bit for bit on the ${name} edge signal`, () => {
      const pcm = signals[name]!;
      const toastBytes = toast(pcm, name);
      expect(firstDifference(encodeToastStream(pcm), toastBytes, GSM_TOAST_FRAME_BYTES)).toBe(-1);
      const ms = ffmpegMsGsm(pcm, `${name}-ms`);
      expect(firstDifference(encodeMsStream(pcm), ms, GSM_WAV49_BLOCK_BYTES)).toBe(-1);
    });
  }

  it('keeps state across frames, so encoding a frame twice gives different parameters', () => {
    const { pcm } = espeakSpeech(dir, 'Hello.');
    const frame = pcm.slice(1600, 1760);
    const enc = new GsmEncoder();
    const a = Buffer.from(enc.encodeToast(frame));
    const b = Buffer.from(enc.encodeToast(frame));
    expect(a.equals(b)).toBe(false);
    expect(Buffer.from(new GsmEncoder().encodeToast(frame)).equals(a)).toBe(true);
  });

  it('rejects frames that are not 160 samples and blocks that are not 320 with CAPSTAN_ERR_CODEC_INPUT', () => {
    const enc = new GsmEncoder();
    expect(() => enc.encodeFrame(new Int16Array(159))).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
    expect(() => enc.encodeMsBlock(new Int16Array(160))).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
    expect(() => enc.encodeToast(new Int16Array(160), new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
  });
});
