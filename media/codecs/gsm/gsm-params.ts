/**
 * The 76 parameters of one GSM 06.10 full-rate frame (160 samples, 20 ms at 8 kHz, 260 bits),
 * in the order of table 1.1 of the standard and of libgsm's gsm_encode.c.
 */

/** Samples per GSM frame (20 ms at 8 kHz). */
export const GSM_FRAME_SAMPLES = 160;
/** Bits of coded parameters per frame. */
export const GSM_FRAME_BITS = 260;

export interface GsmParams {
  /** Log-area ratios, coded: 6, 6, 5, 5, 4, 4, 3, 3 bits. */
  readonly LARc: Uint8Array;
  /** LTP lag per sub-frame, 7 bits (40..120 from the encoder). */
  readonly Nc: Uint8Array;
  /** LTP gain per sub-frame, 2 bits. */
  readonly bc: Uint8Array;
  /** RPE grid position per sub-frame, 2 bits. */
  readonly Mc: Uint8Array;
  /** Block amplitude per sub-frame, 6 bits. */
  readonly xmaxc: Uint8Array;
  /** 13 RPE pulses per sub-frame (4 x 13 = 52), 3 bits each. */
  readonly xMc: Uint8Array;
}

export function createGsmParams(): GsmParams {
  return {
    LARc: new Uint8Array(8),
    Nc: new Uint8Array(4),
    bc: new Uint8Array(4),
    Mc: new Uint8Array(4),
    xmaxc: new Uint8Array(4),
    xMc: new Uint8Array(52),
  };
}

/** Bit widths of LARc[0..7]. */
export const LARC_BITS: readonly number[] = [6, 6, 5, 5, 4, 4, 3, 3];

/**
 * Visits the 76 parameters in bitstream order with their widths. Both frame layouts (the
 * 33-byte "toast" frame and the WAV49 block) use this order; they differ only in bit order.
 */
export function forEachField(p: GsmParams, visit: (value: number, bits: number, name: string) => void): void {
  for (let i = 0; i < 8; i++) visit(p.LARc[i]!, LARC_BITS[i]!, 'LARc');
  for (let k = 0; k < 4; k++) {
    visit(p.Nc[k]!, 7, 'Nc');
    visit(p.bc[k]!, 2, 'bc');
    visit(p.Mc[k]!, 2, 'Mc');
    visit(p.xmaxc[k]!, 6, 'xmaxc');
    for (let i = 0; i < 13; i++) visit(p.xMc[k * 13 + i]!, 3, 'xMc');
  }
}

/** The inverse of forEachField: fills p from a reader returning `bits`-wide unsigned values. */
export function readFields(p: GsmParams, read: (bits: number) => number): void {
  for (let i = 0; i < 8; i++) p.LARc[i] = read(LARC_BITS[i]!);
  for (let k = 0; k < 4; k++) {
    p.Nc[k] = read(7);
    p.bc[k] = read(2);
    p.Mc[k] = read(2);
    p.xmaxc[k] = read(6);
    for (let i = 0; i < 13; i++) p.xMc[k * 13 + i] = read(3);
  }
}
