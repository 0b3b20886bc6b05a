import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createGsmParams, LARC_BITS, type GsmParams } from '../../../../media/codecs/gsm/gsm-params.ts';
import { packToastFrame, packWav49Block, unpackToastFrame, unpackWav49Block } from '../../../../media/codecs/gsm/gsm-frame.ts';

const arbParams: fc.Arbitrary<GsmParams> = fc
  .record({
    LARc: fc.tuple(...LARC_BITS.map((b) => fc.integer({ min: 0, max: (1 << b) - 1 }))),
    Nc: fc.array(fc.integer({ min: 0, max: 127 }), { minLength: 4, maxLength: 4 }),
    bc: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }),
    Mc: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }),
    xmaxc: fc.array(fc.integer({ min: 0, max: 63 }), { minLength: 4, maxLength: 4 }),
    xMc: fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 52, maxLength: 52 }),
  })
  .map((r) => ({
    LARc: Uint8Array.from(r.LARc),
    Nc: Uint8Array.from(r.Nc),
    bc: Uint8Array.from(r.bc),
    Mc: Uint8Array.from(r.Mc),
    xmaxc: Uint8Array.from(r.xmaxc),
    xMc: Uint8Array.from(r.xMc),
  }));

describe('GSM frame packing', () => {
  it('round-trips any parameters through the 33-byte toast frame', () => {
    fc.assert(
      fc.property(arbParams, (p) => {
        const bytes = packToastFrame(p);
        expect(bytes.length).toBe(33);
        expect(bytes[0]! >> 4).toBe(0xd);
        expect(unpackToastFrame(bytes)).toEqual(p);
      }),
      { numRuns: 200 },
    );
  });

  it('round-trips any two frames through the 65-byte WAV49 block', () => {
    fc.assert(
      fc.property(arbParams, arbParams, (a, b) => {
        const bytes = packWav49Block(a, b);
        expect(bytes.length).toBe(65);
        expect(unpackWav49Block(bytes)).toEqual([a, b]);
      }),
      { numRuns: 200 },
    );
  });

  it('writes toast fields most significant bit first after the 0xD signature', () => {
    const p = createGsmParams();
    p.LARc[0] = 0b100001;
    const bytes = packToastFrame(p);
    expect(bytes[0]).toBe(0xd8); // 1101 1000: signature, then the top 4 bits of LARc[0]
    expect(bytes[1]).toBe(0x40); // 01 000000: its low 2 bits, then LARc[1]
  });

  it('writes WAV49 fields least significant bit first and shares byte 32 between the two frames', () => {
    const a = createGsmParams();
    const b = createGsmParams();
    a.LARc[0] = 0b100001;
    a.xMc[51] = 7; // last 3 bits of frame 1: bits 257..259
    b.LARc[0] = 63; // first 6 bits of frame 2: bits 260..265
    const bytes = packWav49Block(a, b);
    expect(bytes[0]).toBe(0x21);
    expect(bytes[32]).toBe(0xfe); // low nibble: frame 1's last bits (0b1110); high nibble: frame 2
    expect(bytes[33]).toBe(0x03);
  });

  it('rejects a frame without the 0xD signature, short input and oversized fields', () => {
    const bytes = packToastFrame(createGsmParams());
    bytes[0] = 0x20 | (bytes[0]! & 0x0f);
    expect(() => unpackToastFrame(bytes)).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
    expect(() => unpackToastFrame(new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
    expect(() => unpackWav49Block(new Uint8Array(64))).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
    const p = createGsmParams();
    p.LARc[2] = 32; // LARc[2] has 5 bits
    expect(() => packToastFrame(p)).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
    expect(() => packWav49Block(p, createGsmParams())).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
  });
});
