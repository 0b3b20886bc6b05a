import discordOpus from '@discordjs/opus';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCapstanError } from '../../../../core/errors.ts';
import { createPayloadDecoder } from '../../../../media/codecs/payload-decoder.ts';
import { OpusRtpDecoder, opusPacketSamples48k } from '../../../../media/codecs/opus/opus-rtp-decoder.ts';

const { OpusEncoder } = discordOpus;

/** 20 ms frames of a 440 Hz tone encoded at 48 kHz, as a WebRTC endpoint would send. */
function encodedTone(frames: number): Buffer[] {
  const enc = new OpusEncoder(48000, 1);
  return Array.from({ length: frames }, (_, f) => {
    const pcm = Buffer.alloc(960 * 2);
    for (let i = 0; i < 960; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * (f * 960 + i)) / 48000)), 2 * i);
    return enc.encode(pcm);
  });
}

describe('Opus RTP decoding', () => {
  it('decodes 48 kHz Opus packets to 20 ms of 8 kHz samples carrying the tone', () => {
    const decoder = new OpusRtpDecoder();
    const out = encodedTone(25).map((p) => decoder.decode(p));
    for (const frame of out) expect(frame.length).toBe(160);
    // After the codec's start-up, the 440 Hz tone: energy, and a zero-crossing rate near 880/s.
    const tail = new Int16Array(out.slice(10).flatMap((f) => Array.from(f)));
    const rms = Math.sqrt(tail.reduce((s, v) => s + v * v, 0) / tail.length);
    expect(rms).toBeGreaterThan(3000);
    let crossings = 0;
    for (let i = 1; i < tail.length; i++) if ((tail[i - 1]! < 0) !== (tail[i]! < 0)) crossings++;
    expect(crossings / (tail.length / 8000)).toBeGreaterThan(800);
    expect(crossings / (tail.length / 8000)).toBeLessThan(960);
  });

  it('is what the payload decoder gives an Opus leg, whatever its clock rate says', () => {
    const decode = createPayloadDecoder({ payloadType: 111, name: 'opus', clockRate: 48000 });
    expect(decode(encodedTone(1)[0]!).length).toBe(160);
    expect(() => createPayloadDecoder({ payloadType: 96, name: 'L16', clockRate: 16000 })).toThrow(/cannot record L16 at 16000/);
  });

  it('reads the duration from the TOC and refuses invalid framing before libopus sees it', () => {
    expect(opusPacketSamples48k(Uint8Array.of(0xf8, 1, 2))).toBe(960); // CELT 20 ms, one frame
    expect(opusPacketSamples48k(Uint8Array.of(0x08))).toBe(960); // SILK NB 20 ms
    expect(opusPacketSamples48k(Uint8Array.of(0xf9, 1))).toBeUndefined(); // code 1, odd length
    expect(opusPacketSamples48k(Uint8Array.of(0xfb, 0))).toBeUndefined(); // code 3, no frames
    expect(opusPacketSamples48k(Uint8Array.of(0x1b, 3))).toBeUndefined(); // 3 × 60 ms > 120 ms
    expect(opusPacketSamples48k(new Uint8Array(0))).toBeUndefined();
  });

  it('never throws anything but CAPSTAN_ERR_CODEC_INPUT on random payloads, and never more than 120 ms', () => {
    const decoder = new OpusRtpDecoder();
    let refused = 0;
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), (payload) => {
        try {
          const out = decoder.decode(payload);
          expect(out.length).toBeGreaterThan(0);
          expect(out.length).toBeLessThanOrEqual(960);
        } catch (e) {
          expect(isCapstanError(e) && e.code === 'CAPSTAN_ERR_CODEC_INPUT' && e.details?.reason).toBe('bad-opus');
          refused++;
        }
      }),
      { numRuns: 3000 },
    );
    expect(refused).toBeGreaterThan(0);
    // And it still decodes real audio afterwards.
    expect(decoder.decode(encodedTone(1)[0]!).length).toBe(160);
  });
});
