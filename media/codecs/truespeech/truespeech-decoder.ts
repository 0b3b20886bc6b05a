/**
 * TrueSpeech 8.5 decoder: an exact model of the decoding process of FFmpeg's `truespeech`
 * decoder (libavcodec/truespeech.c), the only open decoder and so the reference for what a frame
 * sounds like. Written for Capstan from the description in docs/truespeech.md; the integer
 * arithmetic (rounding constants, shifts, int16 wrap-around where FFmpeg stores into int16_t,
 * clipping to +-0x7FFE) is reproduced on purpose, because the encoder runs this model inside its
 * analysis-by-synthesis loop: what it minimises is the error of the samples FFmpeg will output.
 *
 * The pieces are exported separately so the encoder can run them one subframe at a time on a
 * copy of the state (zero-input response, exact adaptive vectors) without duplicating them.
 *
 * Decoding per frame: reflection coefficients -> direct-form LPC (step-up recursion, then
 * bandwidth expansion 0.994^i) -> four subframe filters (see frameFilters); per 60-sample
 * subframe: adaptive-codebook vector from a two-tap filter over the past excitation, plus 7
 * pulses; 1/A(z) synthesis; post-filter A(z/0.55)/A(z/0.75) with a first-order tilt and a 7/8
 * gain.
 */

import { CapstanError } from '../../../core/errors.ts';
import {
  ADAPTIVE_FILTERS,
  LPC_BANDWIDTH_EXPANSION,
  POSTFILTER_DENOMINATOR,
  POSTFILTER_NUMERATOR,
  PULSE_AMPLITUDES,
  PULSE_POSITION_TABLE,
  REFLECTION_CODEBOOKS,
} from './truespeech-tables.ts';
import {
  createTrueSpeechParams,
  TRUESPEECH_FRAME_BYTES,
  TRUESPEECH_FRAME_SAMPLES,
  TRUESPEECH_SUBFRAME_SAMPLES,
  unpackTrueSpeechFrame,
  type TrueSpeechParams,
} from './truespeech-frame.ts';

/** Samples of past excitation the adaptive codebook can reach (lags 18..146). */
export const EXCITATION_HISTORY = 146;
/** The lag code meaning "no adaptive-codebook contribution". */
export const NO_ADAPTIVE = 127;

const SUB = TRUESPEECH_SUBFRAME_SAMPLES;

/** C's conversion of an int to int16_t (two's-complement wrap, as GCC does). */
const wrap16 = (x: number): number => (x << 16) >> 16;
const clip = (x: number): number => (x > 0x7ffe ? 0x7ffe : x < -0x7ffe ? -0x7ffe : x);

/** The decoder's memory between subframes and frames. */
export class TrueSpeechState {
  /** Past excitation as stored for the adaptive codebook: pulses + 7/8 of the adaptive part. */
  readonly history = new Int32Array(EXCITATION_HISTORY);
  /** Last frame's LPC coefficients (Q12), for the interpolated subframes. */
  readonly prevFilter = new Int32Array(8);
  /** Memories of the synthesis filter, post-filter zeros and post-filter poles. */
  readonly synthMemory = new Int16Array(8);
  readonly zeroMemory = new Int16Array(8);
  readonly poleMemory = new Int16Array(8);

  copyFrom(o: TrueSpeechState): this {
    this.history.set(o.history);
    this.prevFilter.set(o.prevFilter);
    this.synthMemory.set(o.synthMemory);
    this.zeroMemory.set(o.zeroMemory);
    this.poleMemory.set(o.poleMemory);
    return this;
  }

  reset(): void {
    this.history.fill(0);
    this.prevFilter.fill(0);
    this.synthMemory.fill(0);
    this.zeroMemory.fill(0);
    this.poleMemory.fill(0);
  }
}

/**
 * Step-up recursion from the reflection coefficients (Q15 codebook values) to the synthesis
 * filter coefficients c[0..7] (Q12, y[n] = x[n] + sum c[k] y[n-1-k]), then bandwidth expansion.
 * The int16 stores wrap as in FFmpeg (its cvector is int16_t).
 */
const stepUpTmp = new Int16Array(8);

export function reflectionToLpc(k: ArrayLike<number>, c: Int16Array): void {
  const tmp = stepUpTmp;
  for (let i = 0; i < 8; i++) {
    if (i > 0) {
      for (let j = 0; j < i; j++) tmp[j] = c[j]!;
      for (let j = 0; j < i; j++) c[j] = wrap16(c[j]! + ((tmp[i - j - 1]! * k[i]! + 0x4000) >> 15));
    }
    c[i] = (8 - k[i]!) >> 3;
  }
  for (let i = 0; i < 8; i++) c[i] = (c[i]! * LPC_BANDWIDTH_EXPANSION[i]!) >> 15;
}

/** The quantised reflection coefficients (Q15) of a frame's indices. */
export function reflectionValues(indices: ArrayLike<number>, k: Int16Array): Int16Array {
  for (let i = 0; i < 8; i++) k[i] = REFLECTION_CODEBOOKS[i]![indices[i]!]!;
  return k;
}

/**
 * The four subframe filters, 8 Q12 coefficients each, into filters[0..32). Subframes 2 and 3
 * use this frame's filter; subframes 0 and 1 the previous frame's, or with `interpolate` a mix
 * (2/3 this + 1/3 previous for subframe 0, 1/3 + 2/3 for subframe 1: FFmpeg's weights, in this
 * order).
 */
export function subframeFilters(c: Int16Array, prev: Int32Array, interpolate: number, filters: Int16Array): void {
  for (let i = 0; i < 8; i++) {
    if (interpolate) {
      filters[i] = wrap16((c[i]! * 21846 + prev[i]! * 10923 + 16384) >> 15);
      filters[8 + i] = wrap16((c[i]! * 10923 + prev[i]! * 21846 + 16384) >> 15);
    } else {
      filters[i] = wrap16(prev[i]!);
      filters[8 + i] = wrap16(prev[i]!);
    }
    filters[16 + i] = c[i]!;
    filters[24 + i] = c[i]!;
  }
}

/** The decoder's lag offset for a half-frame base and a subframe code (code != 127). */
export function lagOffset(lagBase: number, lagCode: number): number {
  const off = ((lagCode / 25) | 0) + lagBase + 18;
  return off < 0 ? 0 : off > 145 ? 145 : off;
}

/**
 * The adaptive-codebook vector of a subframe: out[i] = (f0 e[i-off-1] + f1 e[i-off] + 2^13) >> 14
 * over the past excitation e, where samples from the current subframe (lags shorter than 60)
 * are this vector's own earlier outputs. `scratch` needs 206 entries.
 */
export function adaptiveVector(history: Int32Array, lagBase: number, lagCode: number, out: Int16Array, scratch: Int16Array = new Int16Array(EXCITATION_HISTORY + SUB)): void {
  if (lagCode === NO_ADAPTIVE) {
    out.fill(0, 0, SUB);
    return;
  }
  // FFmpeg copies the int history into an int16_t buffer: values wrap there.
  for (let i = 0; i < EXCITATION_HISTORY; i++) scratch[i] = history[i]!;
  const off = lagOffset(lagBase, lagCode);
  const f0 = ADAPTIVE_FILTERS[(lagCode % 25) * 2]!;
  const f1 = ADAPTIVE_FILTERS[(lagCode % 25) * 2 + 1]!;
  let p = 145 - off;
  for (let i = 0; i < SUB; i++, p++) {
    const t = (scratch[p]! * f0 + scratch[p + 1]! * f1 + 0x2000) >> 14;
    out[i] = t;
    scratch[EXCITATION_HISTORY + i] = t;
  }
}

/**
 * Amplitude (with sign) of each of the 7 pulses and their positions, from the subframe codes.
 * Positions are enumerated combinatorially over 30 slots per half (PULSE_POSITION_TABLE); a
 * code beyond the last combination leaves the remaining pulses out, as FFmpeg does.
 */
export function pulseVector(gain: number, positions: number, signs: number, out: Int16Array): void {
  out.fill(0, 0, SUB);
  // Pulse n (in position order) takes the 2-bit code at bits 12 - 2n of `signs`.
  let next = 0;
  const amp = (n: number): number => PULSE_AMPLITUDES[gain * 4 + ((signs >> (12 - 2 * n)) & 3)]!;
  let code = positions >>> 15;
  for (let i = 0, row = 1, left = 3; i < 30 && left > 0; i++) {
    const t = PULSE_POSITION_TABLE[row * 30 + i]!;
    if (code >= t) code -= t;
    else {
      out[i] = amp(next++);
      row++;
      left--;
    }
  }
  code = positions & 0x7fff;
  for (let i = 0, row = 0, left = 4; i < 30 && left > 0; i++) {
    const t = PULSE_POSITION_TABLE[row * 30 + i]!;
    if (code >= t) code -= t;
    else {
      out[30 + i] = amp(next++);
      row++;
      left--;
    }
  }
}

/**
 * One subframe: excitation = pulses + adaptive (the history keeps pulses + 7/8 adaptive), then
 * synthesis and post-filter with the 8 coefficients at filters[fo..fo+8); writes 60 samples to
 * out[oo..]. `pulses` is consumed (it becomes the excitation).
 */
export function synthesizeSubframe(
  s: TrueSpeechState,
  filters: Int16Array,
  fo: number,
  k1: number,
  adaptive: Int16Array,
  pulses: Int16Array,
  out: Int16Array,
  oo: number,
): void {
  const h = s.history;
  h.copyWithin(0, SUB, EXCITATION_HISTORY);
  for (let i = 0; i < SUB; i++) {
    const a = adaptive[i]!;
    h[EXCITATION_HISTORY - SUB + i] = pulses[i]! + a - (a >> 3);
    pulses[i] = wrap16(pulses[i]! + a);
  }
  const c0 = filters[fo]!, c1 = filters[fo + 1]!, c2 = filters[fo + 2]!, c3 = filters[fo + 3]!;
  const c4 = filters[fo + 4]!, c5 = filters[fo + 5]!, c6 = filters[fo + 6]!, c7 = filters[fo + 7]!;

  // The filter memories live in locals (m0 = most recent) for speed; stored back at the end.
  // 1/A(z). FFmpeg accumulates in unsigned arithmetic, so the sum wraps modulo 2^32.
  const sm = s.synthMemory;
  let m0 = sm[0]!, m1 = sm[1]!, m2 = sm[2]!, m3 = sm[3]!, m4 = sm[4]!, m5 = sm[5]!, m6 = sm[6]!, m7 = sm[7]!;
  for (let i = 0; i < SUB; i++) {
    const sum = (Math.imul(m0, c0) + Math.imul(m1, c1) + Math.imul(m2, c2) + Math.imul(m3, c3) +
      Math.imul(m4, c4) + Math.imul(m5, c5) + Math.imul(m6, c6) + Math.imul(m7, c7)) | 0;
    const y = clip(pulses[i]! + (((sum + 0x800) | 0) >> 12));
    m7 = m6; m6 = m5; m5 = m4; m4 = m3; m3 = m2; m2 = m1; m1 = m0; m0 = y;
    out[oo + i] = y;
  }
  sm[0] = m0; sm[1] = m1; sm[2] = m2; sm[3] = m3; sm[4] = m4; sm[5] = m5; sm[6] = m6; sm[7] = m7;

  // Post-filter zeros: A(z/0.55), over the synthesis output.
  let t0 = (POSTFILTER_NUMERATOR[0]! * c0) >> 15, t1 = (POSTFILTER_NUMERATOR[1]! * c1) >> 15;
  let t2 = (POSTFILTER_NUMERATOR[2]! * c2) >> 15, t3 = (POSTFILTER_NUMERATOR[3]! * c3) >> 15;
  let t4 = (POSTFILTER_NUMERATOR[4]! * c4) >> 15, t5 = (POSTFILTER_NUMERATOR[5]! * c5) >> 15;
  let t6 = (POSTFILTER_NUMERATOR[6]! * c6) >> 15, t7 = (POSTFILTER_NUMERATOR[7]! * c7) >> 15;
  const zm = s.zeroMemory;
  m0 = zm[0]!; m1 = zm[1]!; m2 = zm[2]!; m3 = zm[3]!; m4 = zm[4]!; m5 = zm[5]!; m6 = zm[6]!; m7 = zm[7]!;
  for (let i = 0; i < SUB; i++) {
    const sum = (Math.imul(m0, t0) + Math.imul(m1, t1) + Math.imul(m2, t2) + Math.imul(m3, t3) +
      Math.imul(m4, t4) + Math.imul(m5, t5) + Math.imul(m6, t6) + Math.imul(m7, t7)) | 0;
    const y = out[oo + i]!;
    m7 = m6; m6 = m5; m5 = m4; m4 = m3; m3 = m2; m2 = m1; m1 = m0; m0 = y;
    out[oo + i] = wrap16(y + (-sum >> 12));
  }
  zm[0] = m0; zm[1] = m1; zm[2] = m2; zm[3] = m3; zm[4] = m4; zm[5] = m5; zm[6] = m6; zm[7] = m7;

  // Post-filter poles 1/A(z/0.75) (memory clipped to +-0x7FFE), then tilt (1 + 0.375 k1 z^-1)
  // on the unrounded sum and gain 7/8.
  t0 = (POSTFILTER_DENOMINATOR[0]! * c0) >> 15; t1 = (POSTFILTER_DENOMINATOR[1]! * c1) >> 15;
  t2 = (POSTFILTER_DENOMINATOR[2]! * c2) >> 15; t3 = (POSTFILTER_DENOMINATOR[3]! * c3) >> 15;
  t4 = (POSTFILTER_DENOMINATOR[4]! * c4) >> 15; t5 = (POSTFILTER_DENOMINATOR[5]! * c5) >> 15;
  t6 = (POSTFILTER_DENOMINATOR[6]! * c6) >> 15; t7 = (POSTFILTER_DENOMINATOR[7]! * c7) >> 15;
  const tilt = k1 - (k1 >> 2);
  const pm = s.poleMemory;
  m0 = pm[0]!; m1 = pm[1]!; m2 = pm[2]!; m3 = pm[3]!; m4 = pm[4]!; m5 = pm[5]!; m6 = pm[6]!; m7 = pm[7]!;
  for (let i = 0; i < SUB; i++) {
    let sum = ((out[oo + i]! << 12) + Math.imul(m0, t0) + Math.imul(m1, t1) + Math.imul(m2, t2) + Math.imul(m3, t3) +
      Math.imul(m4, t4) + Math.imul(m5, t5) + Math.imul(m6, t6) + Math.imul(m7, t7)) | 0;
    m7 = m6; m6 = m5; m5 = m4; m4 = m3; m3 = m2; m2 = m1; m1 = m0;
    m0 = clip(((sum + 0x800) | 0) >> 12);
    sum = ((Math.imul(m1, tilt) >> 4) + sum) | 0;
    sum = sum - (sum >> 3);
    out[oo + i] = clip(((sum + 0x800) | 0) >> 12);
  }
  pm[0] = m0; pm[1] = m1; pm[2] = m2; pm[3] = m3; pm[4] = m4; pm[5] = m5; pm[6] = m6; pm[7] = m7;
}

/** The per-frame filter set derived from a frame's LPC fields. */
export interface FrameFilters {
  /** Quantised reflection coefficients, Q15. */
  readonly k: Int16Array;
  /** This frame's LPC coefficients (becomes the next frame's "previous"). */
  readonly lpc: Int16Array;
  /** Four subframes x 8 coefficients. */
  readonly filters: Int16Array;
}

export function createFrameFilters(): FrameFilters {
  return { k: new Int16Array(8), lpc: new Int16Array(8), filters: new Int16Array(32) };
}

/** Computes a frame's filters from its reflection indices and flag, given the decoder state. */
export function frameFilters(s: TrueSpeechState, reflection: ArrayLike<number>, interpolate: number, f: FrameFilters = createFrameFilters()): FrameFilters {
  reflectionValues(reflection, f.k);
  reflectionToLpc(f.k, f.lpc);
  subframeFilters(f.lpc, s.prevFilter, interpolate, f.filters);
  return f;
}

/** Stateful TrueSpeech decoder: one instance per stream. */
export class TrueSpeechDecoder {
  readonly state = new TrueSpeechState();
  private readonly params = createTrueSpeechParams();
  private readonly f = createFrameFilters();
  private readonly adaptive = new Int16Array(SUB);
  private readonly pulses = new Int16Array(SUB);
  private readonly scratch = new Int16Array(EXCITATION_HISTORY + SUB);

  /** Decodes the 32-byte frame at bytes[offset..] into 240 samples. */
  decodeFrame(bytes: Uint8Array, offset = 0, out: Int16Array = new Int16Array(TRUESPEECH_FRAME_SAMPLES)): Int16Array {
    return this.decodeParams(unpackTrueSpeechFrame(bytes, offset, this.params), out);
  }

  /** Decodes a whole stream of 32-byte frames (a WAV data chunk); trailing partial bytes are ignored. */
  decode(bytes: Uint8Array): Int16Array {
    const frames = Math.floor(bytes.length / TRUESPEECH_FRAME_BYTES);
    const out = new Int16Array(frames * TRUESPEECH_FRAME_SAMPLES);
    for (let i = 0; i < frames; i++) this.decodeFrame(bytes, i * TRUESPEECH_FRAME_BYTES, out.subarray(i * TRUESPEECH_FRAME_SAMPLES));
    return out;
  }

  decodeParams(p: TrueSpeechParams, out: Int16Array = new Int16Array(TRUESPEECH_FRAME_SAMPLES)): Int16Array {
    if (out.length < TRUESPEECH_FRAME_SAMPLES) {
      throw new CapstanError('CAPSTAN_ERR_CODEC_INPUT', 'A decoded TrueSpeech frame needs room for 240 samples', {
        details: { codec: 'truespeech', length: out.length },
      });
    }
    const s = this.state;
    const f = frameFilters(s, p.reflection, p.interpolate, this.f);
    for (let q = 0; q < 4; q++) {
      adaptiveVector(s.history, p.lagBase[q >> 1]!, p.lagCode[q]!, this.adaptive, this.scratch);
      pulseVector(p.pulseGain[q]!, p.pulsePositions[q]!, p.pulseSigns[q]!, this.pulses);
      synthesizeSubframe(s, f.filters, q * 8, f.k[0]!, this.adaptive, this.pulses, out, q * SUB);
    }
    s.prevFilter.set(f.lpc);
    return out;
  }
}
