/**
 * The 32-byte TrueSpeech 8.5 frame (240 samples, 30 ms at 8 kHz) and its parameters.
 *
 * Layout (as FFmpeg's libavcodec/truespeech.c reads it, truespeech_read_frame): the frame is
 * eight 32-bit little-endian words, each read from its most significant bit down. Field widths
 * in reading order:
 *
 *   word 0: k8:3 k7:3 k6:3 k5:4 k4:4 k3:4 k2:5 k1:5 flag:1
 *   word 1: lagBase[0] bits 7..4 :4, lagCode[3]:7 lagCode[2]:7 lagCode[1]:7 lagCode[0]:7
 *   word 2: lagBase[1] bits 3..0 :4, pulseSigns[1]:14 pulseSigns[0]:14
 *   word 3: lagBase[1] bits 7..4 :4, pulseSigns[3]:14 pulseSigns[2]:14
 *   word 4+q (q = 0..3): lagBase[0] bit q :1, pulsePositions[q]:27, pulseGain[q]:4
 *
 * 31 + 1 + 16 + 28 + 56 + 108 + 16 = 256 bits. The names are ours; FFmpeg calls them vector,
 * flag, offset1, offset2, pulseval, pulsepos and pulseoff.
 */

import { CapstanError } from '../../../core/errors.ts';
import { REFLECTION_BITS } from './truespeech-tables.ts';

export const TRUESPEECH_FRAME_BYTES = 32;
export const TRUESPEECH_FRAME_SAMPLES = 240;
export const TRUESPEECH_SUBFRAME_SAMPLES = 60;

export interface TrueSpeechParams {
  /** Codebook index of each reflection coefficient k1..k8 (5,5,4,4,4,3,3,3 bits). */
  reflection: Uint8Array;
  /** 1: subframes 0 and 1 interpolate between the previous and this frame's filter; 0: they keep the previous one. */
  interpolate: number;
  /** Per half-frame 8-bit base of the adaptive-codebook lag (lag = base + 18 + code / 25). */
  lagBase: Uint8Array;
  /** Per subframe 7-bit adaptive-codebook code: filter pair code % 25, lag step code / 25; 127 = none. */
  lagCode: Uint8Array;
  /** Per subframe 4-bit pulse gain index. */
  pulseGain: Uint8Array;
  /** Per subframe 27-bit enumeration of 3 pulse positions in 0..29 (high 12 bits) and 4 in 30..59 (low 15 bits). */
  pulsePositions: Uint32Array;
  /** Per subframe 7 x 2-bit pulse amplitude codes (+1, +3, -1, -3 times the gain), first pulse in the top bits. */
  pulseSigns: Uint16Array;
}

export function createTrueSpeechParams(): TrueSpeechParams {
  return {
    reflection: new Uint8Array(8),
    interpolate: 0,
    lagBase: new Uint8Array(2),
    lagCode: new Uint8Array(4),
    pulseGain: new Uint8Array(4),
    pulsePositions: new Uint32Array(4),
    pulseSigns: new Uint16Array(4),
  };
}

/** Visits the fields in bit order; `get` returns the value to write, `set` receives the value read. */
function fields(p: TrueSpeechParams, visit: (bits: number, get: () => number, set: (v: number) => void, name: string) => void): void {
  for (let i = 7; i >= 0; i--) {
    visit(REFLECTION_BITS[i]!, () => p.reflection[i]!, (v) => (p.reflection[i] = v), `reflection[${i}]`);
  }
  visit(1, () => p.interpolate, (v) => (p.interpolate = v), 'interpolate');
  visit(4, () => p.lagBase[0]! >> 4, (v) => (p.lagBase[0] = v << 4), 'lagBase[0]');
  for (let q = 3; q >= 0; q--) visit(7, () => p.lagCode[q]!, (v) => (p.lagCode[q] = v), `lagCode[${q}]`);
  visit(4, () => p.lagBase[1]! & 15, (v) => (p.lagBase[1] = v), 'lagBase[1]');
  visit(14, () => p.pulseSigns[1]!, (v) => (p.pulseSigns[1] = v), 'pulseSigns[1]');
  visit(14, () => p.pulseSigns[0]!, (v) => (p.pulseSigns[0] = v), 'pulseSigns[0]');
  visit(4, () => p.lagBase[1]! >> 4, (v) => (p.lagBase[1] = p.lagBase[1]! | (v << 4)), 'lagBase[1]');
  visit(14, () => p.pulseSigns[3]!, (v) => (p.pulseSigns[3] = v), 'pulseSigns[3]');
  visit(14, () => p.pulseSigns[2]!, (v) => (p.pulseSigns[2] = v), 'pulseSigns[2]');
  for (let q = 0; q < 4; q++) {
    visit(1, () => (p.lagBase[0]! >> q) & 1, (v) => (p.lagBase[0] = p.lagBase[0]! | (v << q)), 'lagBase[0]');
    visit(27, () => p.pulsePositions[q]!, (v) => (p.pulsePositions[q] = v), `pulsePositions[${q}]`);
    visit(4, () => p.pulseGain[q]!, (v) => (p.pulseGain[q] = v), `pulseGain[${q}]`);
  }
}

/** Writes p as a 32-byte frame into out[offset..offset+32). Throws when a field does not fit. */
export function packTrueSpeechFrame(p: TrueSpeechParams, out: Uint8Array = new Uint8Array(TRUESPEECH_FRAME_BYTES), offset = 0): Uint8Array {
  if (offset < 0 || out.length - offset < TRUESPEECH_FRAME_BYTES) {
    throw new CapstanError('CAPSTAN_ERR_CODEC_INPUT', 'No room for a 32-byte TrueSpeech frame', { details: { codec: 'truespeech', offset, length: out.length } });
  }
  // The lagBase fields are written in pieces; check the whole values once.
  for (const v of p.lagBase) if (v > 255) throw badField('lagBase', v, 8);
  let word = 0;
  let used = 0;
  let pos = offset;
  fields(p, (bits, get, _set, name) => {
    const v = get();
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw badField(name, v, bits);
    // Fields never straddle a word boundary (each word's fields add up to 32 bits).
    word = ((word << bits) | v) >>> 0;
    used += bits;
    if (used === 32) {
      out[pos] = word & 0xff;
      out[pos + 1] = (word >>> 8) & 0xff;
      out[pos + 2] = (word >>> 16) & 0xff;
      out[pos + 3] = word >>> 24;
      pos += 4;
      word = 0;
      used = 0;
    }
  });
  return out;
}

/** Reads a 32-byte frame at offset. Every bit pattern is a valid frame. */
export function unpackTrueSpeechFrame(bytes: Uint8Array, offset = 0, p: TrueSpeechParams = createTrueSpeechParams()): TrueSpeechParams {
  if (offset < 0 || bytes.length - offset < TRUESPEECH_FRAME_BYTES) {
    throw new CapstanError('CAPSTAN_ERR_CODEC_INPUT', 'A TrueSpeech frame needs 32 bytes', { details: { codec: 'truespeech', offset, length: bytes.length } });
  }
  p.lagBase[0] = 0;
  p.lagBase[1] = 0;
  let pos = offset;
  let word = 0;
  let left = 0;
  fields(p, (bits, _get, set) => {
    if (left === 0) {
      word = (bytes[pos]! | (bytes[pos + 1]! << 8) | (bytes[pos + 2]! << 16) | (bytes[pos + 3]! << 24)) >>> 0;
      pos += 4;
      left = 32;
    }
    left -= bits;
    set((word >>> left) & ((1 << bits) - 1));
  });
  return p;
}

function badField(name: string, value: number, bits: number): CapstanError {
  return new CapstanError('CAPSTAN_ERR_CODEC_INPUT', `TrueSpeech parameter ${name}=${value} does not fit in ${bits} bits`, {
    details: { codec: 'truespeech', field: name, value, bits },
  });
}
