import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pulseVector } from '../../../../media/codecs/truespeech/truespeech-decoder.ts';
import {
  createTrueSpeechParams,
  packTrueSpeechFrame,
  unpackTrueSpeechFrame,
  type TrueSpeechParams,
} from '../../../../media/codecs/truespeech/truespeech-frame.ts';
import { encodePulsePositions } from '../../../../media/codecs/truespeech/truespeech-pulse-search.ts';
import { REFLECTION_BITS } from '../../../../media/codecs/truespeech/truespeech-tables.ts';

const four = (max: number) => fc.array(fc.integer({ min: 0, max }), { minLength: 4, maxLength: 4 });

const arbParams: fc.Arbitrary<TrueSpeechParams> = fc
  .record({
    reflection: fc.tuple(...REFLECTION_BITS.map((b) => fc.integer({ min: 0, max: (1 << b) - 1 }))),
    interpolate: fc.integer({ min: 0, max: 1 }),
    lagBase: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 2, maxLength: 2 }),
    lagCode: four(127),
    pulseGain: four(15),
    pulsePositions: four(2 ** 27 - 1),
    pulseSigns: four(2 ** 14 - 1),
  })
  .map((r) => ({
    reflection: Uint8Array.from(r.reflection),
    interpolate: r.interpolate,
    lagBase: Uint8Array.from(r.lagBase),
    lagCode: Uint8Array.from(r.lagCode),
    pulseGain: Uint8Array.from(r.pulseGain),
    pulsePositions: Uint32Array.from(r.pulsePositions),
    pulseSigns: Uint16Array.from(r.pulseSigns),
  }));

/** The frame of a parameter set that is all zeros but for `set`. */
function frameWith(set: (p: TrueSpeechParams) => void): Uint8Array {
  const p = createTrueSpeechParams();
  set(p);
  return packTrueSpeechFrame(p);
}

/** Indices of the non-zero bytes of a frame, with their values. */
function nonZero(bytes: Uint8Array): Record<number, number> {
  const out: Record<number, number> = {};
  bytes.forEach((b, i) => {
    if (b !== 0) out[i] = b;
  });
  return out;
}

/** All k-subsets of [lo, lo + 30) in increasing order. */
function* combinations(k: number, lo: number, start = lo, prefix: number[] = []): Generator<number[]> {
  if (prefix.length === k) {
    yield prefix;
    return;
  }
  for (let i = start; i < lo + 30; i++) yield* combinations(k, lo, i + 1, [...prefix, i]);
}

describe('TrueSpeech frame packing', () => {
  it('round-trips any parameters through the 32-byte frame', () => {
    fc.assert(
      fc.property(arbParams, (p) => {
        const bytes = packTrueSpeechFrame(p);
        expect(bytes.length).toBe(32);
        expect(unpackTrueSpeechFrame(bytes)).toEqual(p);
      }),
      { numRuns: 300 },
    );
  });

  it('puts each field where ffmpeg reads it: little-endian 32-bit words, most significant bit first', () => {
    // Word 0 ends with k1 (5 bits) and the interpolation flag; it starts with k8 (3 bits).
    expect(nonZero(frameWith((p) => (p.interpolate = 1)))).toEqual({ 0: 0x01 });
    expect(nonZero(frameWith((p) => (p.reflection[0] = 31)))).toEqual({ 0: 0x3e });
    expect(nonZero(frameWith((p) => (p.reflection[7] = 7)))).toEqual({ 3: 0xe0 });
    // Word 1: the high nibble of the first lag base on top, subframe 0's lag code at the bottom.
    expect(nonZero(frameWith((p) => (p.lagBase[0] = 0x80)))).toEqual({ 7: 0x80 });
    expect(nonZero(frameWith((p) => (p.lagCode[0] = 127)))).toEqual({ 4: 0x7f });
    // The low bits of the first lag base lead words 4..7, one each.
    expect(nonZero(frameWith((p) => (p.lagBase[0] = 0x01)))).toEqual({ 19: 0x80 });
    expect(nonZero(frameWith((p) => (p.lagBase[0] = 0x08)))).toEqual({ 31: 0x80 });
    // Words 2 and 3 lead with the low and high nibble of the second lag base.
    expect(nonZero(frameWith((p) => (p.lagBase[1] = 0x21)))).toEqual({ 11: 0x10, 15: 0x20 });
    // Word 7 ends with subframe 3's pulse gain, after its 27-bit position code.
    expect(nonZero(frameWith((p) => (p.pulseGain[3] = 15)))).toEqual({ 28: 0x0f });
    expect(nonZero(frameWith((p) => (p.pulsePositions[3] = 1)))).toEqual({ 28: 0x10 });
  });

  it('rejects fields that do not fit and buffers that are too small with CAPSTAN_ERR_CODEC_INPUT', () => {
    const p = createTrueSpeechParams();
    p.interpolate = 2;
    expect(() => packTrueSpeechFrame(p)).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
    const q = createTrueSpeechParams();
    q.pulsePositions[0] = 2 ** 27;
    expect(() => packTrueSpeechFrame(q)).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
    expect(() => packTrueSpeechFrame(createTrueSpeechParams(), new Uint8Array(40), 10)).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
    expect(() => unpackTrueSpeechFrame(new Uint8Array(31))).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
  });

  it('numbers every placement of 3 + 4 pulses with a distinct code that the decoder places back', () => {
    // Exhaustive over each half (C(30,3) = 4060 and C(30,4) = 27405 placements): the code must
    // be a bijection onto 0..C-1, as the 12- and 15-bit fields require.
    const pulses = new Int16Array(60);
    const check = (positions: number[]): number => {
      const code = encodePulsePositions(positions);
      pulseVector(0, code, 0, pulses);
      const placed: number[] = [];
      pulses.forEach((v, i) => v !== 0 && placed.push(i));
      expect(placed).toEqual(positions);
      return code;
    };
    const secondFixed = [30, 31, 32, 33];
    const firstCodes = new Set<number>();
    for (const first of combinations(3, 0)) firstCodes.add(check([...first, ...secondFixed]) >>> 15);
    expect(firstCodes.size).toBe(4060);
    expect(Math.max(...firstCodes)).toBe(4059);
    const secondCodes = new Set<number>();
    for (const second of combinations(4, 30)) secondCodes.add(check([0, 1, 2, ...second]) & 0x7fff);
    expect(secondCodes.size).toBe(27405);
    expect(Math.max(...secondCodes)).toBe(27404);
  });
});
