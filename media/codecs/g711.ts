/**
 * ITU-T G.711 µ-law and A-law, as pure functions over 16-bit linear PCM.
 *
 * The quantization is the reference one (the Sun/CCITT g711.c that the ITU software tools and
 * ffmpeg share): µ-law works on the top 14 bits, A-law on the top 13, both with the
 * even-bit inversion of the transmitted code. Encoding and decoding go through tables built
 * once from those formulas, because the media path converts every sample of every call.
 */

const SIGN_BIT = 0x80;
const QUANT_MASK = 0x0f;
const SEG_SHIFT = 4;
const SEG_MASK = 0x70;
const ULAW_BIAS = 0x84;
const ULAW_CLIP = 8159; // 14-bit magnitude above which µ-law saturates

const ULAW_SEG_END = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
const ALAW_SEG_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

function segment(value: number, ends: readonly number[]): number {
  for (let i = 0; i < ends.length; i++) if (value <= ends[i]!) return i;
  return ends.length;
}

function computeUlaw(sample: number): number {
  let v = sample >> 2;
  let mask: number;
  if (v < 0) {
    v = -v;
    mask = 0x7f;
  } else {
    mask = 0xff;
  }
  if (v > ULAW_CLIP) v = ULAW_CLIP;
  v += ULAW_BIAS >> 2;
  const seg = segment(v, ULAW_SEG_END);
  if (seg >= 8) return 0x7f ^ mask;
  return ((seg << 4) | ((v >> (seg + 1)) & 0x0f)) ^ mask;
}

function computeUlawDecode(code: number): number {
  const u = ~code & 0xff;
  let t = ((u & QUANT_MASK) << 3) + ULAW_BIAS;
  t <<= (u & SEG_MASK) >> SEG_SHIFT;
  return u & SIGN_BIT ? ULAW_BIAS - t : t - ULAW_BIAS;
}

function computeAlaw(sample: number): number {
  let v = sample >> 3;
  let mask: number;
  if (v >= 0) {
    mask = 0xd5;
  } else {
    mask = 0x55;
    v = -v - 1;
  }
  const seg = segment(v, ALAW_SEG_END);
  if (seg >= 8) return 0x7f ^ mask;
  let a = seg << SEG_SHIFT;
  a |= seg < 2 ? (v >> 1) & QUANT_MASK : (v >> seg) & QUANT_MASK;
  return a ^ mask;
}

function computeAlawDecode(code: number): number {
  const a = code ^ 0x55;
  let t = (a & QUANT_MASK) << 4;
  const seg = (a & SEG_MASK) >> SEG_SHIFT;
  if (seg === 0) t += 8;
  else {
    t += 0x108;
    if (seg > 1) t <<= seg - 1;
  }
  return a & SIGN_BIT ? t : -t;
}

// µ-law only looks at the top 14 bits and A-law at the top 13, so tables of 16384 and 8192
// entries cover every 16-bit input.
const ULAW_ENCODE = new Uint8Array(1 << 14);
for (let i = 0; i < ULAW_ENCODE.length; i++) ULAW_ENCODE[i] = computeUlaw((i - (1 << 13)) << 2);
const ALAW_ENCODE = new Uint8Array(1 << 13);
for (let i = 0; i < ALAW_ENCODE.length; i++) ALAW_ENCODE[i] = computeAlaw((i - (1 << 12)) << 3);
const ULAW_DECODE = new Int16Array(256);
const ALAW_DECODE = new Int16Array(256);
for (let c = 0; c < 256; c++) {
  ULAW_DECODE[c] = computeUlawDecode(c);
  ALAW_DECODE[c] = computeAlawDecode(c);
}

/** A copy of the decode table (code → 16-bit sample) of 'PCMU' or 'PCMA', for native decoders. */
export function g711DecodeTable(name: 'PCMU' | 'PCMA'): Int16Array {
  return (name === 'PCMU' ? ULAW_DECODE : ALAW_DECODE).slice();
}

/** One 16-bit sample to its µ-law code. Values outside -32768..32767 are wrapped to 16 bits. */
export function linearToUlaw(sample: number): number {
  return ULAW_ENCODE[((sample << 16) >> 18) + (1 << 13)]!;
}

/** One µ-law code (0..255) to its 16-bit sample. */
export function ulawToLinear(code: number): number {
  return ULAW_DECODE[code & 0xff]!;
}

/** One 16-bit sample to its A-law code. */
export function linearToAlaw(sample: number): number {
  return ALAW_ENCODE[((sample << 16) >> 19) + (1 << 12)]!;
}

/** One A-law code (0..255) to its 16-bit sample. */
export function alawToLinear(code: number): number {
  return ALAW_DECODE[code & 0xff]!;
}

/** Encodes PCM to µ-law; writes into `out` when given (same length), else allocates. */
export function ulawEncode(pcm: Int16Array, out: Uint8Array = new Uint8Array(pcm.length)): Uint8Array {
  for (let i = 0; i < pcm.length; i++) out[i] = ULAW_ENCODE[(pcm[i]! >> 2) + (1 << 13)]!;
  return out;
}

/** Decodes µ-law to PCM; writes into `out` when given (same length), else allocates. */
export function ulawDecode(codes: Uint8Array, out: Int16Array = new Int16Array(codes.length)): Int16Array {
  for (let i = 0; i < codes.length; i++) out[i] = ULAW_DECODE[codes[i]!]!;
  return out;
}

/** Encodes PCM to A-law; writes into `out` when given (same length), else allocates. */
export function alawEncode(pcm: Int16Array, out: Uint8Array = new Uint8Array(pcm.length)): Uint8Array {
  for (let i = 0; i < pcm.length; i++) out[i] = ALAW_ENCODE[(pcm[i]! >> 3) + (1 << 12)]!;
  return out;
}

/** Decodes A-law to PCM; writes into `out` when given (same length), else allocates. */
export function alawDecode(codes: Uint8Array, out: Int16Array = new Int16Array(codes.length)): Int16Array {
  for (let i = 0; i < codes.length; i++) out[i] = ALAW_DECODE[codes[i]!]!;
  return out;
}
