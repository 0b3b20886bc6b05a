import { describe, expect, it } from 'vitest';
import { alignByLag, alignedCorrelation, correlationAtLag, logSpectralDistance, lpcEnvelopeCorrelation, segmentalSnr } from './audio-quality.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x100000000 - 0.5;
  };
}

/** A vowel-like signal: white noise through a two-resonance (formant) all-pole filter. */
function formantSignal(n: number, seed: number): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  // Poles at 500 Hz and 1500 Hz, radius 0.95, at 8 kHz.
  const a1 = [2 * 0.95 * Math.cos((2 * Math.PI * 500) / 8000), 2 * 0.95 * Math.cos((2 * Math.PI * 1500) / 8000)];
  const y1 = [0, 0];
  const y2 = [0, 0];
  for (let i = 0; i < n; i++) {
    let x = r() * 2000;
    for (let s = 0; s < 2; s++) {
      const y = x + a1[s]! * y1[s]! - 0.9025 * y2[s]!;
      y2[s] = y1[s]!;
      y1[s] = y;
      x = y;
    }
    out[i] = x / 20;
  }
  return out;
}

describe('audio-quality measures', () => {
  const ref = formantSignal(16000, 1);

  it('finds the delay of a delayed copy with correlation 1', () => {
    const delayed = new Float64Array(ref.length + 37);
    delayed.set(ref, 37);
    const a = alignedCorrelation(ref, delayed, 100);
    expect(a.lag).toBe(37);
    expect(a.correlation).toBeCloseTo(1, 6);
    const [r, t] = alignByLag(ref, delayed, a.lag);
    expect([...t]).toEqual([...r]);
    expect(alignedCorrelation(ref, formantSignal(16000, 2), 100).correlation).toBeLessThan(0.1);
  });

  it('finds a lead-in of seconds, with the same correlation as the sample-by-sample sum at every lag', () => {
    // A recording starts with the silence before the first packet: 1.3 s here, then the audio.
    const recorded = new Float64Array(ref.length + 10400);
    recorded.set(ref.subarray(0, 12000), 10400);
    const a = alignedCorrelation(ref.subarray(0, 12000), recorded, 16000);
    expect(a.lag).toBe(10400);
    expect(a.correlation).toBeCloseTo(1, 6);
    // Against the direct sum over every lag of a window, on unrelated signals.
    const other = formantSignal(3000, 5);
    let direct = { lag: 0, correlation: -Infinity };
    for (let lag = -60; lag <= 60; lag++) {
      const c = correlationAtLag(ref.subarray(0, 6000), other, lag);
      if (c > direct.correlation) direct = { lag, correlation: c };
    }
    const viaFft = alignedCorrelation(ref.subarray(0, 6000), other, 60);
    expect(viaFft.lag).toBe(direct.lag);
    expect(viaFft.correlation).toBeCloseTo(direct.correlation, 9);
  });

  it('measures segmental SNR of added noise at its level', () => {
    const r = rng(3);
    let power = 0;
    for (const v of ref) power += v * v;
    power /= ref.length;
    const noiseRms = Math.sqrt(power / 100); // 20 dB below the signal on average
    const noisy = ref.map((v) => v + r() * Math.sqrt(12) * noiseRms);
    expect(segmentalSnr(ref, noisy, { silenceDbfs: -90 })).toBeGreaterThan(17);
    expect(segmentalSnr(ref, noisy, { silenceDbfs: -90 })).toBeLessThan(23);
    expect(segmentalSnr(ref, ref, { silenceDbfs: -90 })).toBe(80);
  });

  it('gives zero log-spectral distance for identical signals and a large one for unrelated noise', () => {
    expect(logSpectralDistance(ref, ref, { silenceDbfs: -90 })).toBe(0);
    const r = rng(4);
    const noise = ref.map(() => r() * 3000);
    expect(logSpectralDistance(ref, noise, { silenceDbfs: -90 })).toBeGreaterThan(10);
  });

  it('correlates LPC envelopes regardless of gain but not with white noise', () => {
    const louder = ref.map((v) => v * 3);
    expect(lpcEnvelopeCorrelation(ref, louder, { silenceDbfs: -90 })).toBeGreaterThan(0.999);
    expect(lpcEnvelopeCorrelation(ref, formantSignal(16000, 5), { silenceDbfs: -90 })).toBeGreaterThan(0.9);
    const r = rng(6);
    const noise = ref.map(() => r() * 3000);
    expect(lpcEnvelopeCorrelation(ref, noise, { silenceDbfs: -90 })).toBeLessThan(0.5);
  });
});
