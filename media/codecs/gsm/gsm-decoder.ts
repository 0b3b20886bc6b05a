/**
 * GSM 06.10 full-rate decoder: the fixed-point decoder of GSM 06.10 section 4.3, following
 * libgsm 1.0 (decode.c, long_term.c Gsm_Long_Term_Synthesis_Filtering, short_term.c
 * Short_term_synthesis_filtering, rpe.c Gsm_RPE_Decoding) so its output is bit-exact with
 * libgsm's. Capstan records with ffmpeg-compatible files and lets players decode; this decoder
 * exists for tests, tools (inspect, transcoding) and quality measurements without outside tools.
 */

import { CapstanError } from '../../../core/errors.ts';
import { add, MAX_WORD, MIN_WORD, multR, sub, toWord } from './fixed-point.ts';
import { createGsmParams, GSM_FRAME_SAMPLES, type GsmParams } from './gsm-params.ts';
import { GSM_WAV49_BLOCK_SAMPLES, unpackToastFrame, unpackWav49Block } from './gsm-frame.ts';
import { decodeLARc, interpolatedRp, PART_LENGTH, PART_START, QLB, rpeDecode } from './gsm-encoder.ts';

export class GsmDecoder {
  /** drp[-120..-1] live in dp0[0..119]; dp0[120..159] is the current sub-frame. */
  private readonly dp0 = new Int16Array(160);
  private readonly LARpp: [Int16Array, Int16Array] = [new Int16Array(8), new Int16Array(8)];
  private j = 0;
  /** Last valid LTP lag, used when a received lag is out of range (libgsm initialises it to 40). */
  private nrp = 40;
  private readonly v = new Int16Array(9);
  private msr = 0;

  private readonly erp = new Int16Array(40);
  private readonly wt = new Int16Array(160);
  private readonly rrp = new Int16Array(8);
  private readonly params = createGsmParams();

  /** Decodes one frame's parameters into 160 samples. */
  decodeFrame(p: GsmParams, out: Int16Array = new Int16Array(GSM_FRAME_SAMPLES)): Int16Array {
    if (out.length < GSM_FRAME_SAMPLES) {
      throw new CapstanError('CAPSTAN_ERR_CODEC_INPUT', 'A decoded GSM frame needs room for 160 samples', { details: { codec: 'gsm', length: out.length } });
    }
    const dp0 = this.dp0;
    const erp = this.erp;
    const wt = this.wt;
    for (let j = 0; j < 4; j++) {
      rpeDecode(p.xmaxc[j]!, p.Mc[j]! & 3, p.xMc, j * 13, erp, 0);
      // 4.3.2 long-term synthesis filtering.
      const Ncr = p.Nc[j]!;
      const Nr = Ncr < 40 || Ncr > 120 ? this.nrp : Ncr;
      this.nrp = Nr;
      const brp = QLB[p.bc[j]! & 3]!;
      for (let k = 0; k < 40; k++) {
        dp0[120 + k] = add(erp[k]!, multR(brp, dp0[120 + k - Nr]!));
      }
      for (let k = 0; k < 40; k++) wt[j * 40 + k] = dp0[120 + k]!;
      dp0.copyWithin(0, 40, 160);
    }

    // 4.3.3-4.3.4 short-term synthesis filtering with interpolated coefficients.
    const cur = this.LARpp[this.j]!;
    this.j ^= 1;
    const prev = this.LARpp[this.j]!;
    decodeLARc(p.LARc, cur);
    const rrp = this.rrp;
    const v = this.v;
    for (let part = 0 as 0 | 1 | 2 | 3; part < 4; part = (part + 1) as 0 | 1 | 2 | 3) {
      interpolatedRp(part, prev, cur, rrp);
      const end = PART_START[part]! + PART_LENGTH[part]!;
      for (let k = PART_START[part]!; k < end; k++) {
        let sri = wt[k]!;
        for (let i = 7; i >= 0; i--) {
          const tmp1 = rrp[i]!;
          const vi = v[i]!;
          const t2 = tmp1 === MIN_WORD && vi === MIN_WORD ? MAX_WORD : toWord((tmp1 * vi + 16384) >> 15);
          sri = sub(sri, t2);
          const t1 = tmp1 === MIN_WORD && sri === MIN_WORD ? MAX_WORD : toWord((tmp1 * sri + 16384) >> 15);
          v[i + 1] = add(vi, t1);
        }
        v[0] = sri;
        out[k] = sri;
      }
    }

    // 4.3.5 post-processing: de-emphasis, truncation to 13 bits and upscaling.
    let msr = this.msr;
    for (let k = 0; k < 160; k++) {
      msr = add(out[k]!, multR(msr, 28180));
      out[k] = toWord(add(msr, msr) & 0xfff8);
    }
    this.msr = msr;
    return out;
  }

  /** Decodes a 33-byte toast frame. */
  decodeToast(frame: Uint8Array, offset = 0, out?: Int16Array): Int16Array {
    return this.decodeFrame(unpackToastFrame(frame, offset, this.params), out);
  }

  /** Decodes a 65-byte WAV49 block into 320 samples. */
  decodeMsBlock(block: Uint8Array, offset = 0, out: Int16Array = new Int16Array(GSM_WAV49_BLOCK_SAMPLES)): Int16Array {
    if (out.length < GSM_WAV49_BLOCK_SAMPLES) {
      throw new CapstanError('CAPSTAN_ERR_CODEC_INPUT', 'A decoded WAV49 block needs room for 320 samples', { details: { codec: 'gsm', length: out.length } });
    }
    const [a, b] = unpackWav49Block(block, offset);
    this.decodeFrame(a, out.subarray(0, 160));
    this.decodeFrame(b, out.subarray(160, 320));
    return out;
  }
}
