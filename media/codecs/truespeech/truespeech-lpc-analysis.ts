/**
 * Short-term (LPC) analysis for the TrueSpeech encoder: autocorrelation of a windowed frame,
 * Levinson-Durbin to 8 reflection coefficients, and their scalar quantisation to the
 * bitstream's codebooks (truespeech-tables.ts, from FFmpeg's truespeech_data.h).
 *
 * Sign convention (the decoder's, see reflectionToLpc): A(z) = 1 + sum a_j z^-j with the
 * step-up a_j <- a_j + k_p a_(p-j), a_p = k_p. Voiced speech has k1 near -1, which is where the
 * first codebook is densest.
 */

import { REFLECTION_CODEBOOKS } from './truespeech-tables.ts';

export const LPC_ORDER = 8;

/**
 * Lag window: a Gaussian of 60 Hz (at 8 kHz) on the autocorrelation widens formant bandwidths a
 * little so the quantised filter never rings, plus a -40 dB white-noise floor that keeps
 * Levinson well conditioned on pure tones and digital silence.
 */
const LAG_WINDOW = Float64Array.from({ length: LPC_ORDER + 1 }, (_, k) => Math.exp(-0.5 * ((2 * Math.PI * 60 * k) / 8000) ** 2));
const WHITE_NOISE = 1.0001;

/**
 * Analysis window over the 240 samples of the frame: Hamming. The frame's filter serves all of
 * subframes 2-3 and most of 0 (2/3) and 1 (1/3) when interpolating, so it should describe the
 * whole frame rather than its end.
 */
const WINDOW = Float64Array.from({ length: 240 }, (_, i) => 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / 239));

/**
 * Reflection coefficients k[0..7] of x[start..start+240) (floats in -1..1). Returns false for a
 * silent frame (all k set to 0 then).
 */
export function analyseReflection(x: Float64Array, start: number, k: Float64Array, w: Float64Array = new Float64Array(240)): boolean {
  for (let i = 0; i < 240; i++) w[i] = x[start + i]! * WINDOW[i]!;
  const r = new Float64Array(LPC_ORDER + 1);
  for (let lag = 0; lag <= LPC_ORDER; lag++) {
    let s = 0;
    for (let i = lag; i < 240; i++) s += w[i]! * w[i - lag]!;
    r[lag] = s * LAG_WINDOW[lag]!;
  }
  k.fill(0);
  if (r[0]! < 1) return false;
  r[0] = r[0]! * WHITE_NOISE;
  const a = new Float64Array(LPC_ORDER + 1);
  const prev = new Float64Array(LPC_ORDER + 1);
  a[0] = 1;
  let err = r[0]!;
  for (let p = 1; p <= LPC_ORDER; p++) {
    let acc = r[p]!;
    for (let j = 1; j < p; j++) acc += a[j]! * r[p - j]!;
    let kp = -acc / err;
    // Keep inside the codebooks' range; |k| >= 1 would be an unstable filter anyway.
    if (kp > 0.999) kp = 0.999;
    else if (kp < -0.999) kp = -0.999;
    k[p - 1] = kp;
    prev.set(a);
    for (let j = 1; j < p; j++) a[j] = prev[j]! + kp * prev[p - j]!;
    a[p] = kp;
    err *= 1 - kp * kp;
  }
  return true;
}

const ASIN_CODEBOOKS = REFLECTION_CODEBOOKS.map((cb) => Float64Array.from(cb, (v) => Math.asin(v / 32768)));

/**
 * Nearest codebook entry for each coefficient, compared in the arcsine domain, where equal
 * steps are roughly equal spectral changes (the codebooks crowd near -1 for the same reason).
 */
export function quantiseReflection(k: Float64Array, indices: Uint8Array): void {
  for (let i = 0; i < LPC_ORDER; i++) {
    const cb = ASIN_CODEBOOKS[i]!;
    const target = Math.asin(k[i]!);
    let best = 0;
    let bestD = Infinity;
    for (let j = 0; j < cb.length; j++) {
      const d = Math.abs(cb[j]! - target);
      if (d < bestD) {
        bestD = d;
        best = j;
      }
    }
    indices[i] = best;
  }
}
