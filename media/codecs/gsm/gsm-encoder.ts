/**
 * GSM 06.10 full-rate (RPE-LTP) encoder: a port of the fixed-point algorithm of ETSI
 * EN 300 961 / GSM 06.10 section 4.2, following the structure and the arithmetic of libgsm 1.0
 * (Jutta Degener and Carsten Bormann, TU Berlin; files named below) so that the output is
 * bit-exact with `toast` and ffmpeg's `libgsm`/`libgsm_ms` encoders. libgsm's optional
 * approximations (FAST float arithmetic, LTP_CUT) are off by default there and are not ported.
 *
 * Pure and synchronous: one instance per audio stream keeps the encoder state between frames.
 */

import { CapstanError } from '../../../core/errors.ts';
import { abs, add, div, lAdd, MAX_LONGWORD, mult, multR, norm, sub, toWord } from './fixed-point.ts';
import { createGsmParams, GSM_FRAME_SAMPLES, type GsmParams } from './gsm-params.ts';
import { GSM_TOAST_FRAME_BYTES, GSM_WAV49_BLOCK_BYTES, GSM_WAV49_BLOCK_SAMPLES, packToastFrame, packWav49Block } from './gsm-frame.ts';

/** Table 4.3a: decision levels of the LTP gain quantiser (gsm_DLB). */
const DLB = [6554, 16384, 26214, 32767] as const;
/** Table 4.3b: quantisation levels of the LTP gain (gsm_QLB). */
export const QLB = [3277, 11469, 21299, 32767] as const;
/** Table 4.5: normalised inverse mantissa (gsm_NRFAC). */
const NRFAC = [29128, 26215, 23832, 21846, 20165, 18725, 17476, 16384] as const;
/** Table 4.6: normalised direct mantissa (gsm_FAC). */
export const FAC = [18431, 20479, 22527, 24575, 26623, 28671, 30719, 32767] as const;

/** Table 4.1 (A, B, MIC, MAC) for the LAR quantiser, per coefficient. */
const LAR_A = [20480, 20480, 20480, 20480, 13964, 15360, 8534, 9036] as const;
const LAR_B = [0, 0, 2048, -2560, 94, -1792, -341, -1144] as const;
export const LAR_MIC = [-32, -32, -16, -16, -8, -8, -4, -4] as const;
const LAR_MAC = [31, 31, 15, 15, 7, 7, 3, 3] as const;
/** Table 4.2 (INVA = 1/A) and 2*B, for decoding the LARs (short_term.c). */
export const LAR_INVA = [13107, 13107, 13107, 13107, 19223, 17476, 31454, 29708] as const;
export const LAR_B2 = [0, 0, 4096, -5120, 188, -3584, -682, -2288] as const;

/**
 * 4.2.8: decoded log-area ratios LARpp from the coded LARc (short_term.c,
 * Decoding_of_the_coded_Log_Area_Ratios). Shared with the decoder.
 */
export function decodeLARc(LARc: Uint8Array, LARpp: Int16Array): void {
  for (let i = 0; i < 8; i++) {
    // Adding MIC restores the sign of the coded value; the shift cannot overflow a word.
    let temp1 = toWord(add(LARc[i]!, LAR_MIC[i]!) << 10);
    temp1 = sub(temp1, LAR_B2[i]!);
    temp1 = multR(LAR_INVA[i]!, temp1);
    LARpp[i] = add(temp1, temp1);
  }
}

/**
 * 4.2.9.1: interpolation of the LARs for the four parts of the frame (k = 0..12, 13..26,
 * 27..39, 40..159), then 4.2.9.2 conversion to reflection coefficients rp. Shared with the decoder.
 */
export function interpolatedRp(part: 0 | 1 | 2 | 3, prev: Int16Array, cur: Int16Array, rp: Int16Array): void {
  for (let i = 0; i < 8; i++) {
    const a = prev[i]!;
    const b = cur[i]!;
    let lar: number;
    if (part === 0) lar = add(add(a >> 2, b >> 2), a >> 1);
    else if (part === 1) lar = add(a >> 1, b >> 1);
    else if (part === 2) lar = add(add(a >> 2, b >> 2), b >> 1);
    else lar = b;
    // LARp_to_rp: piecewise-linear inverse of the LAR transform, sign-symmetric.
    if (lar < 0) {
      const t = lar === -32768 ? 32767 : -lar;
      lar = -(t < 11059 ? t << 1 : t < 20070 ? t + 11059 : add(t >> 2, 26112));
    } else {
      const t = lar;
      lar = t < 11059 ? t << 1 : t < 20070 ? t + 11059 : add(t >> 2, 26112);
    }
    rp[i] = lar;
  }
}

/** Start and length of the four interpolation parts of a frame (4.2.9.1). */
export const PART_START = [0, 13, 27, 40] as const;
export const PART_LENGTH = [13, 14, 13, 120] as const;

/**
 * 4.2.15 helper: exponent and mantissa of a coded block amplitude xmaxc
 * (rpe.c, APCM_quantization_xmaxc_to_exp_mant). Shared with the decoder.
 */
export function xmaxcToExpMant(xmaxc: number): { exp: number; mant: number } {
  let exp = 0;
  if (xmaxc > 15) exp = (xmaxc >> 3) - 1;
  let mant = xmaxc - (exp << 3);
  if (mant === 0) {
    exp = -4;
    mant = 7;
  } else {
    while (mant <= 7) {
      mant = (mant << 1) | 1;
      exp--;
    }
    mant -= 8;
  }
  return { exp, mant };
}

/**
 * 4.2.16: inverse APCM quantisation of 13 coded pulses (rpe.c, APCM_inverse_quantization) and
 * 4.2.17 grid positioning into the 40-sample sub-frame ep[offset..offset+40). Shared with the decoder.
 */
export function rpeDecode(xmaxc: number, Mc: number, xMc: Uint8Array, xMcOffset: number, ep: Int16Array, epOffset: number): void {
  const { exp, mant } = xmaxcToExpMant(xmaxc);
  const temp1 = FAC[mant]!;
  const temp2 = sub(6, exp);
  // gsm_asl(1, temp2 - 1): a negative count shifts right, so 1 becomes 0 when temp2 is 0.
  const shift = sub(temp2, 1);
  const temp3 = shift < 0 ? 0 : toWord(1 << shift);
  for (let k = 0; k < 40; k++) ep[epOffset + k] = 0;
  for (let i = 0; i < 13; i++) {
    let temp = ((xMc[xMcOffset + i]! << 1) - 7) << 12; // restore the sign: 3-bit code to Q12
    temp = multR(temp1, temp);
    temp = add(temp, temp3);
    ep[epOffset + Mc + 3 * i] = temp2 >= 16 ? (temp < 0 ? -1 : 0) : temp >> temp2;
  }
}

/** Saturation of an int32 sum of two words to a word (the clamp of GSM_ADD / GSM_SUB). */
function sat16(x: number): number {
  return x > 32767 ? 32767 : x < -32768 ? -32768 : x;
}

function codecInput(message: string, details: Record<string, unknown>): CapstanError {
  return new CapstanError('CAPSTAN_ERR_CODEC_INPUT', message, { details: { codec: 'gsm', ...details } });
}

export class GsmEncoder {
  // Encoder state (struct gsm_state in libgsm's private.h).
  /**
   * Reconstructed short-term residual: dp0[0..119] is the past d'[-120..-1], [120..279] the
   * current frame. Words, held as doubles because the LTP search multiplies them (see there).
   */
  private readonly dp0 = new Float64Array(280);
  /** Long-term residual with 5 zero guard samples either side for the weighting filter. */
  private readonly e = new Int16Array(50);
  private z1 = 0;
  private L_z2 = 0;
  private mp = 0;
  private readonly u = new Int16Array(8);
  private readonly LARpp: [Int16Array, Int16Array] = [new Int16Array(8), new Int16Array(8)];
  private j = 0;

  // Scratch buffers, reused across frames.
  private readonly so = new Int16Array(160);
  private readonly rp = new Int16Array(8);
  private readonly L_ACF = new Float64Array(9);
  private readonly P = new Int16Array(9);
  private readonly K = new Int16Array(9);
  private readonly wt = new Float64Array(40);
  private readonly x = new Int16Array(40);
  private readonly xM = new Int16Array(13);
  private readonly dpp = new Int16Array(40);
  private readonly spare = createGsmParams();
  private readonly spare2 = createGsmParams();

  /**
   * Encodes one 20 ms frame (160 samples of 16-bit linear PCM at 8 kHz) into its parameters.
   * `out` may be passed to avoid allocation.
   */
  encodeFrame(pcm160: Int16Array, out: GsmParams = createGsmParams()): GsmParams {
    if (pcm160.length !== GSM_FRAME_SAMPLES) {
      throw codecInput(`A GSM frame is ${GSM_FRAME_SAMPLES} samples, got ${pcm160.length}`, { samples: pcm160.length });
    }
    return this.encode(pcm160, 0, out);
  }

  /** encodeFrame on pcm[offset..offset+160), without a subarray per frame. */
  private encode(pcm: Int16Array, offset: number, out: GsmParams): GsmParams {
    const so = this.so;
    this.preprocess(pcm, offset, so);
    this.lpcAnalysis(so, out.LARc);
    this.shortTermAnalysisFilter(out.LARc, so);

    const dp0 = this.dp0;
    const e = this.e;
    const dpp = this.dpp;
    for (let k = 0; k < 4; k++) {
      const dOff = k * 40;
      const dpOff = 120 + k * 40; // dp[0] of this sub-frame within dp0
      this.longTermPredictor(so, dOff, dpOff, k, out);
      this.rpeEncoding(k, out);
      // 4.2.18 (inlined in libgsm's code.c): update of the reconstructed short-term residual.
      for (let i = 0; i < 40; i++) dp0[dpOff + i] = add(e[5 + i]!, dpp[i]!);
    }
    dp0.copyWithin(0, 160, 280);
    return out;
  }

  /** Encodes one frame into a 33-byte toast frame (0xD signature). */
  encodeToast(pcm160: Int16Array, out: Uint8Array = new Uint8Array(GSM_TOAST_FRAME_BYTES), offset = 0): Uint8Array {
    return packToastFrame(this.encodeFrame(pcm160, this.spare), out, offset);
  }

  /** Encodes 320 samples (two frames) into one 65-byte MS-GSM / WAV49 block. */
  encodeMsBlock(pcm320: Int16Array, out: Uint8Array = new Uint8Array(GSM_WAV49_BLOCK_BYTES), offset = 0): Uint8Array {
    if (pcm320.length !== GSM_WAV49_BLOCK_SAMPLES) {
      throw codecInput(`A WAV49 block is ${GSM_WAV49_BLOCK_SAMPLES} samples, got ${pcm320.length}`, { samples: pcm320.length });
    }
    const first = this.encode(pcm320, 0, this.spare2);
    const second = this.encode(pcm320, 160, this.spare);
    return packWav49Block(first, second, out, offset);
  }

  /** 4.2.0-4.2.3 (preprocess.c): downscaling, offset compensation (high-pass), pre-emphasis. */
  private preprocess(s: Int16Array, sOff: number, so: Int16Array): void {
    let z1 = this.z1;
    let L_z2 = this.L_z2;
    let mp = this.mp;
    for (let k = 0; k < 160; k++) {
      // 4.2.1: keep 13 significant bits.
      const SO = (s[sOff + k]! >> 3) << 2;
      // 4.2.2: non-recursive part, then the recursive part in 31x16-bit extended precision.
      const s1 = SO - z1;
      z1 = SO;
      // L_z2 is a 32-bit longword; libgsm splits it into msp = (word)(L_z2 >> 15) and
      // lsp = (word)(L_z2 - (msp << 15)). Both are taken with plain int32 bit operations,
      // because this recursion is a serial chain through every sample: (L_z2 << 1) >> 16 is the
      // word truncation of L_z2 >> 15, and lsp is always the low 15 bits (when msp wraps, the
      // difference is a multiple of 2^31, which the word store drops).
      const msp0 = (L_z2 << 1) >> 16;
      const lsp = L_z2 & 32767;
      const L_s2 = s1 * 32768 + ((lsp * 32735 + 16384) >> 15);
      L_z2 = lAdd(msp0 * 32735, L_s2);
      // GSM_L_ADD(L_z2, 16384) can only saturate upwards.
      const L_temp = L_z2 > MAX_LONGWORD - 16384 ? MAX_LONGWORD : L_z2 + 16384;
      // 4.2.3: pre-emphasis with -28180/32768; the previous output is the 16-bit rounded sample.
      const msp = multR(mp, -28180);
      mp = (L_temp << 1) >> 16; // (word)(L_temp >> 15)
      so[k] = add(mp, msp);
    }
    this.z1 = z1;
    this.L_z2 = L_z2;
    this.mp = mp;
  }

  /** 4.2.4-4.2.7 (lpc.c): autocorrelation, Schur recursion, LARs, quantisation into LARc. */
  private lpcAnalysis(s: Int16Array, LARc: Uint8Array): void {
    const L_ACF = this.L_ACF;
    // 4.2.4 Autocorrelation with dynamic scaling so that the 160-term sums fit in 32 bits.
    let smax = 0;
    for (let k = 0; k < 160; k++) {
      const t = abs(s[k]!);
      if (t > smax) smax = t;
    }
    const scalauto = smax === 0 ? 0 : 4 - norm(smax << 16);
    if (scalauto > 0) {
      const f = 16384 >> (scalauto - 1);
      for (let k = 0; k < 160; k++) s[k] = multR(s[k]!, f);
    }
    // After the scaling |s| <= 2048 (and without it smax < 2048), so 160 products of at most
    // 2^22 sum to less than 2^30: exact in int32. The 9 lags share one pass over s, with the
    // previous 8 samples in a sliding window of locals (one array load per sample).
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0, a8 = 0;
    let s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0, s8 = 0; // s[k - m], 0 before the frame
    for (let k = 0; k < 160; k++) {
      const s0 = s[k]!;
      a0 = (a0 + s0 * s0) | 0;
      a1 = (a1 + s0 * s1) | 0;
      a2 = (a2 + s0 * s2) | 0;
      a3 = (a3 + s0 * s3) | 0;
      a4 = (a4 + s0 * s4) | 0;
      a5 = (a5 + s0 * s5) | 0;
      a6 = (a6 + s0 * s6) | 0;
      a7 = (a7 + s0 * s7) | 0;
      a8 = (a8 + s0 * s8) | 0;
      s8 = s7; s7 = s6; s6 = s5; s5 = s4; s4 = s3; s3 = s2; s2 = s1; s1 = s0;
    }
    L_ACF[0] = a0 * 2; L_ACF[1] = a1 * 2; L_ACF[2] = a2 * 2; L_ACF[3] = a3 * 2; L_ACF[4] = a4 * 2;
    L_ACF[5] = a5 * 2; L_ACF[6] = a6 * 2; L_ACF[7] = a7 * 2; L_ACF[8] = a8 * 2;
    // Rescaling: libgsm shifts s back up in place (a word store, so 2048 << 4 wraps to -32768),
    // and the short-term analysis filter then runs on these samples.
    if (scalauto > 0) {
      for (let k = 0; k < 160; k++) s[k] = toWord(s[k]! << scalauto);
    }

    // 4.2.5 Reflection coefficients by the Schur recursion in 16-bit arithmetic.
    const r = this.rp; // reuses the scratch array; LARs are computed in place like libgsm
    if (L_ACF[0] === 0) {
      r.fill(0);
    } else {
      const temp0 = norm(L_ACF[0]!);
      const P = this.P;
      const K = this.K;
      const scale = 2 ** temp0;
      for (let i = 0; i <= 8; i++) {
        // SASR(L_ACF[i] << temp, 16) stored into a word.
        const acf = toWord(Math.floor((L_ACF[i]! * scale) / 65536));
        P[i] = acf;
        if (i >= 1 && i <= 7) K[i] = acf;
      }
      let n = 1;
      for (; n <= 8; n++) {
        const t = abs(P[1]!);
        if (P[0]! < t) {
          for (let i = n; i <= 8; i++) r[i - 1] = 0;
          break;
        }
        let rn = div(t, P[0]!);
        if (P[1]! > 0) rn = -rn;
        r[n - 1] = rn;
        if (n === 8) break;
        P[0] = add(P[0]!, multR(P[1]!, rn));
        for (let m = 1; m <= 8 - n; m++) {
          P[m] = add(P[m + 1]!, multR(K[m]!, rn));
          K[m] = add(K[m]!, multR(P[m + 1]!, rn));
        }
      }
    }

    // 4.2.6 Log-area ratios (piecewise-linear approximation) and 4.2.7 quantisation/coding.
    for (let i = 0; i < 8; i++) {
      const ri = r[i]!;
      let t = abs(ri);
      if (t < 22118) t >>= 1;
      else if (t < 31130) t -= 11059;
      else t = (t - 26112) << 2;
      const lar = ri < 0 ? -t : t;
      let q = mult(LAR_A[i]!, lar);
      q = add(q, LAR_B[i]!);
      q = add(q, 256);
      q >>= 9;
      const mac = LAR_MAC[i]!;
      const mic = LAR_MIC[i]!;
      LARc[i] = q > mac ? mac - mic : q < mic ? 0 : q - mic;
    }
  }

  /** 4.2.8-4.2.10 (short_term.c): decode and interpolate the LARs, then lattice-filter s in place. */
  private shortTermAnalysisFilter(LARc: Uint8Array, s: Int16Array): void {
    const cur = this.LARpp[this.j]!;
    this.j ^= 1;
    const prev = this.LARpp[this.j]!;
    decodeLARc(LARc, cur);
    const rp = this.rp;
    const u = this.u;
    // The lattice state lives in locals for the whole frame (it is 8 x 160 stages per frame).
    let u0 = u[0]!, u1 = u[1]!, u2 = u[2]!, u3 = u[3]!, u4 = u[4]!, u5 = u[5]!, u6 = u[6]!, u7 = u[7]!;
    for (let part = 0 as 0 | 1 | 2 | 3; part < 4; part = (part + 1) as 0 | 1 | 2 | 3) {
      interpolatedRp(part, prev, cur, rp);
      const r0 = rp[0]!, r1 = rp[1]!, r2 = rp[2]!, r3 = rp[3]!, r4 = rp[4]!, r5 = rp[5]!, r6 = rp[6]!, r7 = rp[7]!;
      const end = PART_START[part]! + PART_LENGTH[part]!;
      for (let k = PART_START[part]!; k < end; k++) {
        // One lattice stage i:  u[i] <- sav;  sav <- u[i] + rp[i]*di;  di <- di + rp[i]*u[i]
        // (old u[i]), both saturating. GSM_MULT_R is (a*b + 16384) >> 15: rp is never -32768
        // (LARp_to_rp saturates at 32767), so the product fits a word and needs no wrap.
        let di = s[k]!;
        let sav = di;
        let t: number;
        t = u0; u0 = sav; sav = sat16(t + ((r0 * di + 16384) >> 15)); di = sat16(di + ((r0 * t + 16384) >> 15));
        t = u1; u1 = sav; sav = sat16(t + ((r1 * di + 16384) >> 15)); di = sat16(di + ((r1 * t + 16384) >> 15));
        t = u2; u2 = sav; sav = sat16(t + ((r2 * di + 16384) >> 15)); di = sat16(di + ((r2 * t + 16384) >> 15));
        t = u3; u3 = sav; sav = sat16(t + ((r3 * di + 16384) >> 15)); di = sat16(di + ((r3 * t + 16384) >> 15));
        t = u4; u4 = sav; sav = sat16(t + ((r4 * di + 16384) >> 15)); di = sat16(di + ((r4 * t + 16384) >> 15));
        t = u5; u5 = sav; sav = sat16(t + ((r5 * di + 16384) >> 15)); di = sat16(di + ((r5 * t + 16384) >> 15));
        t = u6; u6 = sav; sav = sat16(t + ((r6 * di + 16384) >> 15)); di = sat16(di + ((r6 * t + 16384) >> 15));
        t = u7; u7 = sav; di = sat16(di + ((r7 * t + 16384) >> 15)); // the last sav is unused
        s[k] = di;
      }
    }
    u[0] = u0; u[1] = u1; u[2] = u2; u[3] = u3; u[4] = u4; u[5] = u5; u[6] = u6; u[7] = u7;
  }

  /**
   * 4.2.11-4.2.12 (long_term.c): LTP lag and gain by cross-correlating the sub-frame d with the
   * past reconstructed residual, then the long-term analysis filter giving e (in this.e[5..44])
   * and the estimate dpp.
   */
  private longTermPredictor(d: Int16Array, dOff: number, dpOff: number, k: number, out: GsmParams): void {
    const dp0 = this.dp0;
    const wt = this.wt;
    // Calculation_of_the_LTP_parameters: scale d so that the correlations fit in 32 bits.
    let dmax = 0;
    for (let i = 0; i < 40; i++) {
      const t = abs(d[dOff + i]!);
      if (t > dmax) dmax = t;
    }
    const temp = dmax === 0 ? 0 : norm(dmax << 16);
    const scal = temp > 6 ? 0 : 6 - temp;
    for (let i = 0; i < 40; i++) wt[i] = d[dOff + i]! >> scal;

    // Cross-correlation of wt with the past reconstructed residual for every lag 40..120: 81 x 40
    // multiply-adds per sub-frame, the encoder's hottest loop. Four lags share one pass: lag
    // `lambda + m` pairs wt[i] with dp0[base + i - m], so a sliding window of three locals
    // (p1..p3) makes each step load one wt and one dp0 sample for four products.
    // The arithmetic is in doubles (wt and dp0 are Float64Arrays): |wt| <= 2^9 after the scaling
    // and |dp| <= 2^15, so every product and every 40-term sum (< 2^30) is an exact integer and
    // the result is libgsm's, whatever the order of the additions. x64 cores retire two double
    // multiplies per cycle but one integer multiply: measured ~1.7x faster than int32 in V8.
    let L_max = 0;
    let Nc = 40;
    for (let lambda = 40; lambda <= 116; lambda += 4) {
      const base = dpOff - lambda;
      let c0 = 0;
      let c1 = 0;
      let c2 = 0;
      let c3 = 0;
      let p1 = dp0[base - 1]!;
      let p2 = dp0[base - 2]!;
      let p3 = dp0[base - 3]!;
      for (let i = 0; i < 40; i++) {
        const w = wt[i]!;
        const p0 = dp0[base + i]!;
        c0 += w * p0;
        c1 += w * p1;
        c2 += w * p2;
        c3 += w * p3;
        p3 = p2;
        p2 = p1;
        p1 = p0;
      }
      // In increasing lag order with a strict ">", so a tie keeps the smaller lag as in libgsm.
      if (c0 > L_max) {
        Nc = lambda;
        L_max = c0;
      }
      if (c1 > L_max) {
        Nc = lambda + 1;
        L_max = c1;
      }
      if (c2 > L_max) {
        Nc = lambda + 2;
        L_max = c2;
      }
      if (c3 > L_max) {
        Nc = lambda + 3;
        L_max = c3;
      }
    }
    {
      // The 81st lag, 120.
      const base = dpOff - 120;
      let c = 0;
      for (let i = 0; i < 40; i++) c += wt[i]! * dp0[base + i]!;
      if (c > L_max) {
        Nc = 120;
        L_max = c;
      }
    }
    out.Nc[k] = Nc;
    L_max = (L_max * 2) >> (6 - scal); // rescaling; L_max * 2 < 2^31, so int32 shifts are exact

    let L_power = 0;
    for (let i = 0; i < 40; i++) {
      const t = dp0[dpOff - Nc + i]! >> 3;
      L_power += t * t;
    }
    L_power *= 2;

    let bc: number;
    if (L_max <= 0) bc = 0;
    else if (L_max >= L_power) bc = 3;
    else {
      const t = norm(L_power);
      const R = (L_max << t) >> 16;
      const S = (L_power << t) >> 16;
      for (bc = 0; bc <= 2; bc++) if (R <= mult(S, DLB[bc]!)) break;
    }
    out.bc[k] = bc;

    // Long_term_analysis_filtering.
    const bp = QLB[bc]!;
    const e = this.e;
    const dpp = this.dpp;
    const base = dpOff - Nc;
    for (let i = 0; i < 40; i++) {
      const est = multR(bp, dp0[base + i]!);
      dpp[i] = est;
      e[5 + i] = sub(d[dOff + i]!, est);
    }
  }

  /** 4.2.13-4.2.17 (rpe.c): weighting filter, grid selection, APCM quantisation, and the local decode. */
  private rpeEncoding(k: number, out: GsmParams): void {
    const e = this.e;
    const x = this.x;
    // 4.2.13 Weighting filter (table 4.4, H scaled by 8192); e[0..4] and e[45..49] stay zero.
    for (let i = 0; i < 40; i++) {
      let L =
        4096 +
        e[i]! * -134 +
        e[i + 1]! * -374 +
        e[i + 3]! * 2054 +
        e[i + 4]! * 5741 +
        e[i + 5]! * 8192 +
        e[i + 6]! * 5741 +
        e[i + 7]! * 2054 +
        e[i + 9]! * -374 +
        e[i + 10]! * -134;
      L >>= 13;
      x[i] = L < -32768 ? -32768 : L > 32767 ? 32767 : L;
    }

    // 4.2.14 Grid selection: the decimation phase with the most energy. Strict ">" keeps the
    // lowest grid on ties, as in libgsm.
    let EM = 0;
    let Mc = 0;
    for (let m = 0; m < 4; m++) {
      let L = 0;
      for (let i = 0; i < 13; i++) {
        const t = x[m + 3 * i]! >> 2;
        L += t * t;
      }
      L *= 2;
      if (m === 0 || L > EM) {
        if (m !== 0) Mc = m;
        EM = L;
      }
    }
    const xM = this.xM;
    for (let i = 0; i < 13; i++) xM[i] = x[Mc + 3 * i]!;
    out.Mc[k] = Mc;

    // 4.2.15 APCM quantisation: block maximum coded on 6 bits (3-bit exponent, 3-bit mantissa).
    let xmax = 0;
    for (let i = 0; i < 13; i++) {
      const t = abs(xM[i]!);
      if (t > xmax) xmax = t;
    }
    let exp = 0;
    let temp = xmax >> 9;
    let itest = false;
    for (let i = 0; i <= 5; i++) {
      itest ||= temp <= 0;
      temp >>= 1;
      if (!itest) exp++;
    }
    const xmaxc = add(xmax >> (exp + 5), exp << 3);
    out.xmaxc[k] = xmaxc;

    const em = xmaxcToExpMant(xmaxc);
    const temp1 = 6 - em.exp;
    const temp2 = NRFAC[em.mant]!;
    const base = k * 13;
    for (let i = 0; i < 13; i++) {
      let t = toWord(xM[i]! << temp1);
      t = mult(t, temp2);
      t >>= 12;
      out.xMc[base + i] = t + 4; // makes the 3-bit codes non-negative
    }

    // 4.2.16-4.2.17: local decoder, so that e becomes the quantised residual ep.
    rpeDecode(xmaxc, Mc, out.xMc, base, e, 5);
  }
}
