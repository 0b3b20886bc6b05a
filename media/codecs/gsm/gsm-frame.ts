/**
 * The two byte layouts of GSM 06.10 frames.
 *
 * - The 33-byte "toast" frame (libgsm's gsm_encode without GSM_OPT_WAV49; RTP payload type 3,
 *   RFC 3551 section 4.5.8): a 4-bit signature 0xD, then the 260 parameter bits, each field most
 *   significant bit first.
 * - The MS-GSM / WAV49 block (WAVE format tag 0x0031, libgsm's GSM_OPT_WAV49, ffmpeg
 *   `libgsm_ms`, sox `-e gsm-full-rate`): two consecutive frames, 520 bits in 65 bytes, with no
 *   signature, each field least significant bit first and filling each byte from its least
 *   significant bit. The first frame ends in the low nibble of byte 32 and the second begins in
 *   its high nibble (libgsm's `frame_chain`).
 */

import { CapstanError } from '../../../core/errors.ts';
import { createGsmParams, forEachField, GSM_FRAME_BITS, readFields, type GsmParams } from './gsm-params.ts';

/** Bytes per toast frame. */
export const GSM_TOAST_FRAME_BYTES = 33;
/** The signature nibble of a toast frame (GSM_MAGIC in libgsm). */
export const GSM_MAGIC = 0xd;
/** Bytes per WAV49 block (two frames). */
export const GSM_WAV49_BLOCK_BYTES = 65;
/** Samples per WAV49 block. */
export const GSM_WAV49_BLOCK_SAMPLES = 320;

function badField(name: string, value: number, bits: number): CapstanError {
  return new CapstanError('CAPSTAN_ERR_CODEC_INPUT', `GSM parameter ${name}=${value} does not fit in ${bits} bits`, {
    details: { codec: 'gsm', field: name, value, bits },
  });
}

/** Writes p as a 33-byte toast frame into out[offset..offset+33). */
export function packToastFrame(p: GsmParams, out: Uint8Array = new Uint8Array(GSM_TOAST_FRAME_BYTES), offset = 0): Uint8Array {
  if (offset < 0 || out.length - offset < GSM_TOAST_FRAME_BYTES) {
    throw new CapstanError('CAPSTAN_ERR_CODEC_INPUT', 'No room for a 33-byte GSM frame', { details: { codec: 'gsm', offset, length: out.length } });
  }
  // MSB-first bit accumulator: `acc` holds `n` pending bits, flushed a byte at a time.
  let acc = GSM_MAGIC;
  let n = 4;
  let pos = offset;
  forEachField(p, (value, bits, name) => {
    if (value >>> bits !== 0) throw badField(name, value, bits);
    acc = (acc << bits) | value;
    n += bits;
    while (n >= 8) {
      n -= 8;
      out[pos++] = (acc >>> n) & 0xff;
    }
    acc &= (1 << n) - 1;
  });
  return out;
}

/** Reads a toast frame; throws CAPSTAN_ERR_CODEC_INPUT when it is short or lacks the 0xD signature. */
export function unpackToastFrame(bytes: Uint8Array, offset = 0, p: GsmParams = createGsmParams()): GsmParams {
  if (offset < 0 || bytes.length - offset < GSM_TOAST_FRAME_BYTES) {
    throw new CapstanError('CAPSTAN_ERR_CODEC_INPUT', 'A GSM frame needs 33 bytes', { details: { codec: 'gsm', offset, length: bytes.length } });
  }
  const first = bytes[offset]!;
  if (first >> 4 !== GSM_MAGIC) {
    throw new CapstanError('CAPSTAN_ERR_CODEC_INPUT', 'A GSM frame must start with the 0xD signature', {
      details: { codec: 'gsm', offset, signature: first >> 4 },
    });
  }
  let bitPos = 4;
  readFields(p, (bits) => {
    let v = 0;
    for (let i = 0; i < bits; i++, bitPos++) {
      v = (v << 1) | ((bytes[offset + (bitPos >> 3)]! >> (7 - (bitPos & 7))) & 1);
    }
    return v;
  });
  return p;
}

/** Writes two frames as one 65-byte WAV49 block into out[offset..offset+65). */
export function packWav49Block(
  first: GsmParams,
  second: GsmParams,
  out: Uint8Array = new Uint8Array(GSM_WAV49_BLOCK_BYTES),
  offset = 0,
): Uint8Array {
  if (offset < 0 || out.length - offset < GSM_WAV49_BLOCK_BYTES) {
    throw new CapstanError('CAPSTAN_ERR_CODEC_INPUT', 'No room for a 65-byte WAV49 block', { details: { codec: 'gsm', offset, length: out.length } });
  }
  // LSB-first accumulator: new bits go above the `n` pending ones; bytes leave from the bottom.
  let acc = 0;
  let n = 0;
  let pos = offset;
  const visit = (value: number, bits: number, name: string): void => {
    if (value >>> bits !== 0) throw badField(name, value, bits);
    acc |= value << n;
    n += bits;
    while (n >= 8) {
      out[pos++] = acc & 0xff;
      acc >>>= 8;
      n -= 8;
    }
  };
  forEachField(first, visit);
  forEachField(second, visit);
  // 520 bits is a whole number of bytes: nothing is left over.
  return out;
}

/** Reads a 65-byte WAV49 block into two frames' parameters. */
export function unpackWav49Block(bytes: Uint8Array, offset = 0): [GsmParams, GsmParams] {
  if (offset < 0 || bytes.length - offset < GSM_WAV49_BLOCK_BYTES) {
    throw new CapstanError('CAPSTAN_ERR_CODEC_INPUT', 'A WAV49 block needs 65 bytes', { details: { codec: 'gsm', offset, length: bytes.length } });
  }
  let bitPos = 0;
  const read = (bits: number): number => {
    let v = 0;
    for (let i = 0; i < bits; i++, bitPos++) {
      v |= ((bytes[offset + (bitPos >> 3)]! >> (bitPos & 7)) & 1) << i;
    }
    return v;
  };
  const a = createGsmParams();
  const b = createGsmParams();
  readFields(a, read);
  if (bitPos !== GSM_FRAME_BITS) throw new CapstanError('CAPSTAN_ERR_INTERNAL', 'GSM field table is not 260 bits');
  readFields(b, read);
  return [a, b];
}
