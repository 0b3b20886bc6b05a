import { describe, expect, it } from 'vitest';
import { codecRegistry } from '../../../media/codecs/codec-registry.ts';

/** Encodes `pcm` with a fresh encoder of `mime`, pushing chunks of the given sizes in turn. */
function encode(mime: string, pcm: Int16Array, chunkSizes: number[]): Buffer {
  const enc = codecRegistry.require(mime).createEncoder(1);
  const parts: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; at < pcm.length; i++) {
    const n = chunkSizes[i % chunkSizes.length]!;
    parts.push(enc.push(pcm.subarray(at, at + n)), enc.flush());
    at += n;
  }
  parts.push(enc.end(), enc.end());
  return Buffer.concat(parts);
}

const signal = Int16Array.from({ length: 5000 }, (_, i) => Math.round(9000 * Math.sin(i / 9) + 2000 * Math.sin(i / 2.3)));

describe('block encoders', () => {
  for (const mime of ['audio/GSM', 'audio/x-truespeech', 'audio/PCMU']) {
    it(`give ${mime} the same bytes however the input is chunked, and only whole blocks`, () => {
      const whole = encode(mime, signal, [signal.length]);
      expect(encode(mime, signal, [1, 7, 319, 160, 333])).toEqual(whole);
      expect(encode(mime, signal, [800])).toEqual(whole);
      const codec = codecRegistry.require(mime);
      if (codec.container !== 'wav') throw new Error('wav expected');
      const { blockAlign, samplesPerBlock } = codec.wavFormat(1);
      expect(whole.length).toBe(Math.ceil(signal.length / samplesPerBlock) * blockAlign);
    });
  }

  it('pad the last partial block with silence: the same bytes as encoding the zero-padded input', () => {
    const padded = new Int16Array(Math.ceil(signal.length / 320) * 320);
    padded.set(signal);
    expect(encode('audio/GSM', signal, [1000])).toEqual(encode('audio/GSM', padded, [1000]));
  });

  for (const mime of ['audio/GSM', 'audio/x-truespeech', 'audio/PCMU', 'audio/PCMA', 'audio/L16']) {
    it(`give ${mime}'s pushTransient the bytes push gives, in memory the encoder reuses`, () => {
      const fresh = codecRegistry.require(mime).createEncoder(1);
      const reusing = codecRegistry.require(mime).createEncoder(1);
      expect(reusing.pushTransient).toBeTypeOf('function');
      const expected: Uint8Array[] = [];
      const got: Uint8Array[] = [];
      const buffers = new Set<ArrayBufferLike>();
      let at = 0;
      // Mixed chunk sizes: partial blocks carry over between push and pushTransient alike.
      for (const n of [333, 1000, 7, 960, 1000, 1000, 500]) {
        expected.push(fresh.push(signal.subarray(at, at + n)));
        const bytes = reusing.pushTransient!(signal.subarray(at, at + n));
        if (bytes.length > 0) buffers.add(bytes.buffer);
        got.push(Uint8Array.from(bytes)); // copied at once, as the contract asks
        at += n;
      }
      expected.push(fresh.end());
      got.push(reusing.end());
      expect(Buffer.concat(got)).toEqual(Buffer.concat(expected));
      // Grown at most a few times, then reused: not an array per call.
      expect(buffers.size).toBeLessThanOrEqual(2);
      // And the transient bytes really are overwritten by the next call.
      const enc = codecRegistry.require(mime).createEncoder(1);
      const first = enc.pushTransient!(signal.subarray(0, 960));
      const copy = Uint8Array.from(first);
      enc.pushTransient!(signal.subarray(2000, 2960));
      expect(Buffer.from(first)).not.toEqual(Buffer.from(copy));
    });
  }

  it('return nothing until a block is complete, and refuse input after end', () => {
    const enc = codecRegistry.require('audio/GSM').createEncoder(1);
    expect(enc.push(signal.subarray(0, 319)).length).toBe(0);
    expect(enc.push(signal.subarray(319, 320)).length).toBe(65);
    enc.end();
    expect(() => enc.push(signal.subarray(0, 10))).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CLOSED' }));
    expect(() => enc.pushTransient!(signal.subarray(0, 10))).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CLOSED' }));
  });
});
