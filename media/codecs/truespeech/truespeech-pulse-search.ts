/**
 * Fixed-codebook (pulse) search of the TrueSpeech encoder and the pulse-position code.
 *
 * A subframe's fixed excitation is 7 pulses: 3 at distinct positions in 0..29 and 4 in 30..59,
 * each +-1 or +-3 times one of 16 gains (PULSE_AMPLITUDES, FFmpeg's ts_562). The search
 * minimises |t - H e|^2, t the target left after the adaptive codebook and H the lower-triangular
 * convolution with the impulse response of the decoder's synthesis + post-filter chain, in the
 * usual CELP form: d = H^T t (backward-filtered target) and Phi = H^T H, so that
 * |t - H e|^2 = |t|^2 - 2 e.d + e^T Phi e and each trial costs a few multiplies.
 *
 * Search, in three steps (greedy, then iterative, as an exhaustive search over C(30,3) C(30,4)
 * 4^7 16 codes is out of the question):
 * 1. greedy placement with free amplitudes (matching pursuit: each pulse where it removes the
 *    most error given the ones already placed);
 * 2. for each gain near the level of those amplitudes, the amplitude codes by rounding then
 *    coordinate descent (each code the nearest to its least-squares value); keep the best gain;
 * 3. each pulse in turn is moved to the best free position of its half with its best
 *    amplitude, then step 2 again; twice.
 */

import { PULSE_AMPLITUDES, PULSE_POSITION_TABLE } from './truespeech-tables.ts';

const SUB = 60;
const HALF = 30;
const PULSES = 7;
/** Pulses 0..2 live in the first half, 3..6 in the second. */
const FIRST_HALF_PULSES = 3;
const AMPLITUDES = [1, 3, -1, -3] as const; // index = the 2-bit amplitude code
const GAINS = Float64Array.from({ length: 16 }, (_, g) => PULSE_AMPLITUDES[g * 4]!);

/**
 * The 27-bit position code of 7 pulse positions (3 ascending in 0..29, then 4 ascending in
 * 30..59): the combinatorial rank the decoder walks PULSE_POSITION_TABLE with (skipping a slot
 * costs the number of arrangements that would have had the pulse there).
 */
export function encodePulsePositions(pos: ArrayLike<number>): number {
  const rank = (first: number, count: number, row0: number, base: number): number => {
    let code = 0;
    let prev = -1;
    for (let k = 0; k < count; k++) {
      const p = pos[first + k]! - base;
      for (let i = prev + 1; i < p; i++) code += PULSE_POSITION_TABLE[(row0 + k) * HALF + i]!;
      prev = p;
    }
    return code;
  };
  return ((rank(0, 3, 1, 0) << 15) | rank(3, 4, 0, HALF)) >>> 0;
}

export interface PulseChoice {
  gain: number;
  /** 27-bit position code and 14-bit amplitude codes, ready for the frame. */
  positions: number;
  signs: number;
}

export class PulseSearch {
  private readonly phi = new Float64Array(SUB * SUB);
  private readonly d = new Float64Array(SUB);
  private readonly c = new Float64Array(SUB);
  private readonly pos = new Int32Array(PULSES);
  private readonly amp = new Float64Array(PULSES); // free amplitudes from the greedy step
  private readonly q = new Int32Array(PULSES); // amplitude codes 0..3
  private readonly bestQ = new Int32Array(PULSES);
  private readonly pd = new Float64Array(PULSES);
  private readonly pp = new Float64Array(PULSES * PULSES);
  private readonly occupied = new Uint8Array(SUB);
  private readonly s = new Float64Array(SUB);
  private readonly order = new Int32Array(PULSES);
  private readonly sortedPos = new Int32Array(PULSES);

  private h: Float64Array = new Float64Array(SUB);

  /**
   * Sets the (weighted) impulse response h (60 samples, kept by reference) and computes Phi;
   * every search until the next call uses them (one per subframe filter, shared by trials).
   */
  setImpulseResponse(h: Float64Array): void {
    this.h = h;
    const phi = this.phi;
    // Phi[i][j] = sum_{m=0}^{59-j} h[m + j - i] h[m], filled along diagonals (j >= i).
    for (let diag = 0; diag < SUB; diag++) {
      let acc = 0;
      for (let j = SUB - 1; j >= diag; j--) {
        const m = SUB - 1 - j;
        acc += h[m + diag]! * h[m]!;
        const i = j - diag;
        phi[i * SUB + j] = acc;
        phi[j * SUB + i] = acc;
      }
    }
  }

  /** Searches the pulses for target t (60 samples). */
  search(t: Float64Array, out: PulseChoice): PulseChoice {
    const h = this.h;
    const phi = this.phi;
    const d = this.d;
    for (let j = 0; j < SUB; j++) {
      let acc = 0;
      for (let n = j; n < SUB; n++) acc += t[n]! * h[n - j]!;
      d[j] = acc;
    }

    // 1. Greedy placement.
    const c = this.c;
    c.set(d);
    const occ = this.occupied;
    occ.fill(0);
    let inFirst = 0;
    let inSecond = 0;
    for (let k = 0; k < PULSES; k++) {
      let best = -1;
      let bestScore = -1;
      const lo = inFirst < FIRST_HALF_PULSES ? 0 : HALF;
      const hi = inSecond < PULSES - FIRST_HALF_PULSES ? SUB : HALF;
      for (let j = lo; j < hi; j++) {
        if (occ[j]) continue;
        const e = phi[j * SUB + j]!;
        const score = e > 0 ? (c[j]! * c[j]!) / e : 0;
        if (score > bestScore) {
          bestScore = score;
          best = j;
        }
      }
      const e = phi[best * SUB + best]!;
      const a = e > 0 ? c[best]! / e : 0;
      for (let i = 0; i < SUB; i++) c[i] = c[i]! - a * phi[i * SUB + best]!;
      occ[best] = 1;
      if (best < HALF) this.pos[inFirst++] = best;
      else this.pos[FIRST_HALF_PULSES + inSecond++] = best;
      this.amp[best < HALF ? inFirst - 1 : FIRST_HALF_PULSES + inSecond - 1] = a;
    }

    // 2. and 3.
    let gain = this.quantise(true);
    for (let iter = 0; iter < 2; iter++) {
      if (!this.movePulses(GAINS[gain]!)) break;
      gain = this.quantise(false);
    }

    // The code lists pulses in position order (halves stay apart: 0..2 < 30 <= 3..6).
    const order = this.order;
    for (let k = 0; k < PULSES; k++) order[k] = k;
    for (let a = 1; a < PULSES; a++) {
      const k = order[a]!;
      let b = a;
      for (; b > 0 && this.pos[order[b - 1]!]! > this.pos[k]!; b--) order[b] = order[b - 1]!;
      order[b] = k;
    }
    let signs = 0;
    for (let a = 0; a < PULSES; a++) {
      this.sortedPos[a] = this.pos[order[a]!]!;
      signs = (signs << 2) | this.bestQ[order[a]!]!;
    }
    out.gain = gain;
    out.positions = encodePulsePositions(this.sortedPos);
    out.signs = signs;
    return out;
  }

  /**
   * Step 2: best gain and amplitude codes for the current positions. Starts each gain from the
   * free amplitudes (first time) or the current quantised excitation.
   */
  private quantise(fromFree: boolean): number {
    const pd = this.pd;
    const pp = this.pp;
    for (let k = 0; k < PULSES; k++) {
      pd[k] = this.d[this.pos[k]!]!;
      for (let l = 0; l < PULSES; l++) pp[k * PULSES + l] = this.phi[this.pos[k]! * SUB + this.pos[l]!]!;
    }
    const q = this.q;
    const start = this.amp;
    if (!fromFree) {
      // The current excitation in amplitude units, as the starting point for every gain.
      for (let k = 0; k < PULSES; k++) start[k] = AMPLITUDES[this.bestQ[k]!]! * this.currentGain;
    }
    // Only gains near the level of the starting amplitudes (+-1 and +-3 average 2) can win.
    let level = 0;
    for (let k = 0; k < PULSES; k++) level += Math.abs(start[k]!);
    level /= 2 * PULSES;
    let g0 = 0;
    while (g0 < 15 && GAINS[g0 + 1]! <= level) g0++;
    // After a pulse move the gain changes by a step at most: a narrower range then.
    const gLo = Math.max(0, g0 - (fromFree ? 2 : 1));
    const gHi = Math.min(15, g0 + (fromFree ? 3 : 2));
    let bestE = Infinity;
    let bestG = 0;
    for (let g = gLo; g <= gHi; g++) {
      const G = GAINS[g]!;
      for (let k = 0; k < PULSES; k++) q[k] = nearestCode(start[k]! / G);
      for (let pass = 0; pass < 2; pass++) {
        for (let k = 0; k < PULSES; k++) {
          let sk = 0;
          for (let l = 0; l < PULSES; l++) if (l !== k) sk += AMPLITUDES[q[l]!]! * pp[k * PULSES + l]!;
          q[k] = nearestCode((pd[k]! - G * sk) / (G * pp[k * PULSES + k]!));
        }
      }
      let e = 0;
      for (let k = 0; k < PULSES; k++) {
        const a = AMPLITUDES[q[k]!]!;
        e -= 2 * G * a * pd[k]!;
        for (let l = 0; l < PULSES; l++) e += G * G * a * AMPLITUDES[q[l]!]! * pp[k * PULSES + l]!;
      }
      if (e < bestE) {
        bestE = e;
        bestG = g;
        this.bestQ.set(q);
      }
    }
    this.currentGain = GAINS[bestG]!;
    return bestG;
  }

  private currentGain = 1;

  /**
   * Step 3: moves each pulse to its best free position and amplitude; true if any moved. S[j]
   * (the correlation of every position with the current excitation through Phi) is kept up to
   * date as pulses move, so trying a position costs a handful of operations.
   */
  private movePulses(G: number): boolean {
    const phi = this.phi;
    const d = this.d;
    const occ = this.occupied;
    const S = this.s;
    S.fill(0);
    for (let l = 0; l < PULSES; l++) {
      const a = AMPLITUDES[this.bestQ[l]!]!;
      const row = this.pos[l]! * SUB;
      for (let j = 0; j < SUB; j++) S[j] = S[j]! + a * phi[row + j]!;
    }
    let moved = false;
    for (let k = 0; k < PULSES; k++) {
      const lo = k < FIRST_HALF_PULSES ? 0 : HALF;
      const hi = lo + HALF;
      const own = this.pos[k]!;
      const ownA = AMPLITUDES[this.bestQ[k]!]!;
      const ownRow = own * SUB;
      let bestJ = own;
      let bestV = this.bestQ[k]!;
      let bestE = Infinity;
      for (let j = lo; j < hi; j++) {
        if (occ[j] && j !== own) continue;
        // r = d_j - G x (correlation with the other pulses); error change of amplitude a at j
        // is G^2 Phi_jj a^2 - 2 G a r, smallest at the code nearest r / (G Phi_jj).
        const pjj = phi[j * SUB + j]!;
        const r = d[j]! - G * (S[j]! - ownA * phi[ownRow + j]!);
        const v = nearestCode(r / (G * pjj));
        const a = AMPLITUDES[v]!;
        const e = G * (G * pjj * a * a - 2 * a * r);
        if (e < bestE) {
          bestE = e;
          bestJ = j;
          bestV = v;
        }
      }
      if (bestJ === own && bestV === this.bestQ[k]) continue;
      moved = true;
      const newA = AMPLITUDES[bestV]!;
      const newRow = bestJ * SUB;
      for (let j = 0; j < SUB; j++) S[j] = S[j]! - ownA * phi[ownRow + j]! + newA * phi[newRow + j]!;
      occ[own] = 0;
      occ[bestJ] = 1;
      this.pos[k] = bestJ;
      this.bestQ[k] = bestV;
    }
    return moved;
  }
}

/** The amplitude code (+1, +3, -1, -3) nearest a real amplitude in gain units. */
function nearestCode(x: number): number {
  return x >= 0 ? (x >= 2 ? 1 : 0) : x <= -2 ? 3 : 2;
}
