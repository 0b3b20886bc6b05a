import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GsmDecoder } from '../../../../media/codecs/gsm/gsm-decoder.ts';
import { GsmEncoder } from '../../../../media/codecs/gsm/gsm-encoder.ts';
import { packToastFrame } from '../../../../media/codecs/gsm/gsm-frame.ts';
import { createGsmParams } from '../../../../media/codecs/gsm/gsm-params.ts';
import { alignByLag, alignedCorrelation, logSpectralDistance, lpcEnvelopeCorrelation } from '../../../helpers/audio-quality.ts';
import { espeakSpeech, pcmBytes, readRawPcm } from '../../../helpers/espeak-speech.ts';

let dir: string;
let speech: Int16Array;
let toastFrames: Buffer;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'capstan-gsmdec-'));
  speech = espeakSpeech(dir, 'Your call is important to us. An agent will be with you shortly.').pcm;
  const raw = join(dir, 'in.raw');
  writeFileSync(raw, pcmBytes(speech));
  toastFrames = execFileSync('toast', ['-l', '-c', raw], { maxBuffer: 1 << 26 });
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function decodeAllToast(frames: Uint8Array): Int16Array {
  const dec = new GsmDecoder();
  const n = frames.length / 33;
  const out = new Int16Array(n * 160);
  for (let f = 0; f < n; f++) dec.decodeToast(frames, f * 33, out.subarray(f * 160, f * 160 + 160));
  return out;
}

describe('GsmDecoder', () => {
  it('decodes toast frames into the same samples as ffmpeg with libgsm', () => {
    const gsm = join(dir, 'in.gsm');
    const raw = join(dir, 'ffmpeg-dec.raw');
    writeFileSync(gsm, toastFrames);
    execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-c:a', 'libgsm', '-f', 'gsm', '-i', gsm, '-f', 's16le', raw]);
    const theirs = readRawPcm(raw);
    const ours = decodeAllToast(toastFrames);
    expect(ours.length).toBe(theirs.length);
    expect(Buffer.from(ours.buffer).equals(Buffer.from(theirs.buffer))).toBe(true);
  });

  it('decodes WAV49 blocks into the same samples as ffmpeg with libgsm_ms', () => {
    const pcm = speech.subarray(0, Math.floor(speech.length / 320) * 320);
    const enc = new GsmEncoder();
    const blocks = Buffer.alloc((pcm.length / 320) * 65);
    for (let b = 0; b < pcm.length / 320; b++) enc.encodeMsBlock(pcm.subarray(b * 320, b * 320 + 320), blocks, b * 65);
    // A minimal WAVE file around our blocks for ffmpeg (the real writer lives in media/wav/).
    const fmt = Buffer.alloc(20);
    fmt.writeUInt16LE(0x31, 0);
    fmt.writeUInt16LE(1, 2);
    fmt.writeUInt32LE(8000, 4);
    fmt.writeUInt32LE(1625, 8);
    fmt.writeUInt16LE(65, 12);
    fmt.writeUInt16LE(0, 14);
    fmt.writeUInt16LE(2, 16);
    fmt.writeUInt16LE(320, 18);
    const chunk = (id: string, body: Buffer): Buffer => {
      const h = Buffer.alloc(8);
      h.write(id, 0, 'latin1');
      h.writeUInt32LE(body.length, 4);
      return Buffer.concat([h, body, Buffer.alloc(body.length & 1)]);
    };
    const fact = Buffer.alloc(4);
    fact.writeUInt32LE(pcm.length, 0);
    const body = Buffer.concat([Buffer.from('WAVE'), chunk('fmt ', fmt), chunk('fact', fact), chunk('data', blocks)]);
    const wav = join(dir, 'ours.wav');
    writeFileSync(wav, Buffer.concat([Buffer.from('RIFF'), Buffer.from(Uint32Array.of(body.length).buffer), body]));
    const raw = join(dir, 'ffmpeg-ms-dec.raw');
    execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-c:a', 'libgsm_ms', '-i', wav, '-f', 's16le', raw]);
    const theirs = readRawPcm(raw);
    const dec = new GsmDecoder();
    const ours = new Int16Array(pcm.length);
    for (let b = 0; b < pcm.length / 320; b++) dec.decodeMsBlock(blocks, b * 65, ours.subarray(b * 320, b * 320 + 320));
    expect(ours.length).toBe(theirs.length);
    expect(Buffer.from(ours.buffer).equals(Buffer.from(theirs.buffer))).toBe(true);
  });

  it('reproduces the speech it was given and not random frames (quality measures)', () => {
    const decoded = decodeAllToast(toastFrames);
    const { lag, correlation } = alignedCorrelation(speech, decoded, 80);
    const [ref, test] = alignByLag(speech, decoded, lag);
    const envelope = lpcEnvelopeCorrelation(ref, test);
    const lsd = logSpectralDistance(ref, test);
    // Random parameters: same length, same decoder.
    let seed = 7;
    const rand = (max: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % (max + 1);
    };
    const frames = Buffer.alloc(toastFrames.length);
    const p = createGsmParams();
    for (let f = 0; f < frames.length / 33; f++) {
      [6, 6, 5, 5, 4, 4, 3, 3].forEach((b, i) => (p.LARc[i] = rand((1 << b) - 1)));
      for (let k = 0; k < 4; k++) {
        p.Nc[k] = 40 + rand(80);
        p.bc[k] = rand(3);
        p.Mc[k] = rand(3);
        p.xmaxc[k] = rand(63);
      }
      for (let i = 0; i < 52; i++) p.xMc[i] = rand(7);
      packToastFrame(p, frames, f * 33);
    }
    const random = decodeAllToast(frames);
    const randomAlign = alignedCorrelation(speech, random, 80);
    const [rref, rtest] = alignByLag(speech, random, randomAlign.lag);
    const randomEnvelope = lpcEnvelopeCorrelation(rref, rtest);
    const randomLsd = logSpectralDistance(rref, rtest);
    console.info(
      `GSM decode vs input: lag ${lag}, correlation ${correlation.toFixed(3)}, LPC envelope ${envelope.toFixed(3)}, LSD ${lsd.toFixed(1)} dB; ` +
        `random frames: correlation ${randomAlign.correlation.toFixed(3)}, envelope ${randomEnvelope.toFixed(3)}, LSD ${randomLsd.toFixed(1)} dB`,
    );
    expect(Math.abs(lag)).toBeLessThanOrEqual(2);
    expect(correlation).toBeGreaterThan(0.7);
    expect(envelope).toBeGreaterThan(0.85);
    expect(lsd).toBeLessThan(9);
    expect(randomAlign.correlation).toBeLessThan(0.2);
    // Random frames still share GSM's de-emphasis tilt with speech, hence ~0.4 rather than 0.
    expect(randomEnvelope).toBeLessThan(0.6);
    expect(randomLsd).toBeGreaterThan(15);
  });
});
