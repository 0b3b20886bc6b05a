/**
 * The 16/32-bit fixed-point primitives of GSM 06.10 (ETSI EN 300 961, section 4.2 "basic
 * operations"), with the exact overflow behaviour of libgsm 1.0 (Jutta Degener and Carsten
 * Bormann, TU Berlin: src/add.c and the macros of inc/private.h), because bit-exactness with
 * libgsm depends on where it saturates and where it silently truncates to 16 bits.
 *
 * Values are plain JavaScript numbers. A "word" is an integer in [-32768, 32767]; a "longword"
 * is an integer that libgsm keeps in a C `long`. Every longword the encoder builds stays well
 * inside ±2^53, so doubles hold them exactly; where libgsm stores a wider result into a 16-bit
 * `word` the C assignment truncates modulo 2^16, which `toWord` reproduces.
 */

export const MIN_WORD = -32768;
export const MAX_WORD = 32767;
export const MIN_LONGWORD = -2147483648;
export const MAX_LONGWORD = 2147483647;

/** C assignment of an integer to a 16-bit `short`: keeps the low 16 bits, two's complement. */
export function toWord(x: number): number {
  return (x << 16) >> 16;
}

/** Saturating 16-bit addition (GSM_ADD / gsm_add). */
export function add(a: number, b: number): number {
  const s = a + b;
  return s > MAX_WORD ? MAX_WORD : s < MIN_WORD ? MIN_WORD : s;
}

/** Saturating 16-bit subtraction (GSM_SUB / gsm_sub). */
export function sub(a: number, b: number): number {
  const s = a - b;
  return s > MAX_WORD ? MAX_WORD : s < MIN_WORD ? MIN_WORD : s;
}

/**
 * Rounded Q15 product as the GSM_MULT_R macro computes it, stored into a word. The macro has no
 * special case for MIN_WORD * MIN_WORD (gsm_mult_r has): 32768 then wraps to -32768 on storage,
 * exactly as in libgsm where the macro is used. Both operands are words, so a*b + 16384 fits in
 * 31 bits and the int32 shift is exact.
 */
export function multR(a: number, b: number): number {
  return toWord((a * b + 16384) >> 15);
}

/** Q15 product with saturation of the single overflowing case (gsm_mult). */
export function mult(a: number, b: number): number {
  if (a === MIN_WORD && b === MIN_WORD) return MAX_WORD;
  return (a * b) >> 15;
}

/** 16-bit absolute value, saturating |-32768| to 32767 (GSM_ABS). */
export function abs(a: number): number {
  return a < 0 ? (a === MIN_WORD ? MAX_WORD : -a) : a;
}

/** Saturating 32-bit addition (GSM_L_ADD). Exact in doubles for 32-bit operands. */
export function lAdd(a: number, b: number): number {
  const s = a + b;
  return s > MAX_LONGWORD ? MAX_LONGWORD : s < MIN_LONGWORD ? MIN_LONGWORD : s;
}

/**
 * gsm_norm: the number of left shifts that normalise a non-zero 32-bit value (so that bit 30
 * differs from the sign bit). libgsm uses a byte lookup table; a count of leading zeros of the
 * value (or of its complement when negative) minus one is the same function.
 */
export function norm(a: number): number {
  if (a < 0) {
    if (a <= -1073741824) return 0;
    a = ~a;
  }
  return Math.clz32(a) - 1;
}

/** Arithmetic shift right of a word with libgsm's handling of out-of-range counts (gsm_asr). */
export function asr(a: number, n: number): number {
  if (n >= 16) return a < 0 ? -1 : 0;
  if (n <= -16) return 0;
  if (n < 0) return toWord(a << -n);
  return a >> n;
}

/** Arithmetic shift left of a word, negative counts shifting right (gsm_asl). */
export function asl(a: number, n: number): number {
  if (n >= 16) return 0;
  if (n <= -16) return a < 0 ? -1 : 0;
  if (n < 0) return asr(a, -n);
  return toWord(a << n);
}

/**
 * gsm_div: 15-bit fractional division num/denum for 0 <= num <= denum (bit-serial, as specified
 * on p. 46 of the standard). libgsm returns 0 for num == 0 instead of asserting.
 */
export function div(num: number, denum: number): number {
  if (num === 0) return 0;
  let lNum = num;
  let result = 0;
  for (let k = 15; k > 0; k--) {
    result <<= 1;
    lNum <<= 1;
    if (lNum >= denum) {
      lNum -= denum;
      result++;
    }
  }
  return result;
}
