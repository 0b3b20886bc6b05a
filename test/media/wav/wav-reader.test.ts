import { describe, expect, it } from 'vitest';
import { buildWavHeader, encodeWavSamples } from '../../../media/wav/wav-format.ts';
import { parseWav, readPcm8k } from '../../../media/wav/wav-reader.ts';

function pcmWav(channels: number, sampleRate: number, interleaved: Int16Array): Buffer {
  const data = encodeWavSamples('pcm16', interleaved);
  return Buffer.concat([buildWavHeader({ encoding: 'pcm16', channels, sampleRate }, data.length).header, data]);
}

function reasonOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    expect(e).toMatchObject({ code: 'CAPSTAN_ERR_AUDIO_FILE' });
    return (e as { details: { reason: unknown } }).details.reason;
  }
  throw new Error('accepted');
}

describe('readPcm8k', () => {
  it('reads mono 16-bit PCM at 8 kHz', () => {
    const audio = readPcm8k(pcmWav(1, 8000, Int16Array.of(1, -2, 32767, -32768)));
    expect(audio.frames).toBe(4);
    expect([...audio.channels[0]!]).toEqual([1, -2, 32767, -32768]);
  });

  it('deinterleaves stereo', () => {
    const audio = readPcm8k(pcmWav(2, 8000, Int16Array.of(1, 10, 2, 20, 3, 30)));
    expect([...audio.channels[0]!]).toEqual([1, 2, 3]);
    expect([...audio.channels[1]!]).toEqual([10, 20, 30]);
  });

  it('skips unknown chunks before data', () => {
    const plain = pcmWav(1, 8000, Int16Array.of(5, 6));
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc\0')]); // odd size + pad
    const withList = Buffer.concat([plain.subarray(0, 36), list, plain.subarray(36)]);
    withList.writeUInt32LE(withList.length - 8, 4);
    expect([...readPcm8k(withList).channels[0]!]).toEqual([5, 6]);
  });

  it('refuses other sample rates, channel counts and formats with CAPSTAN_ERR_AUDIO_FILE', () => {
    expect(reasonOf(() => readPcm8k(pcmWav(1, 16000, Int16Array.of(0))))).toBe('unsupported-rate');
    expect(reasonOf(() => readPcm8k(pcmWav(3, 8000, Int16Array.of(0, 0, 0))))).toBe('unsupported-channels');
    const ulaw = Buffer.concat([buildWavHeader({ encoding: 'ulaw', channels: 1, sampleRate: 8000 }, 2).header, Buffer.from([0xff, 0xff])]);
    expect(reasonOf(() => readPcm8k(ulaw))).toBe('unsupported-format');
  });

  it('refuses what is not a WAV file', () => {
    expect(reasonOf(() => readPcm8k(Buffer.from('ID3 not a wav at all')))).toBe('not-wav');
    expect(reasonOf(() => readPcm8k(Buffer.from('RIFF\x04\0\0\0WAVE')))).toBe('no-data');
  });
});

describe('parseWav', () => {
  it('reports only the whole blocks present when the data chunk claims more', () => {
    const full = pcmWav(2, 8000, new Int16Array(100));
    const cut = full.subarray(0, full.length - 3);
    const info = parseWav(cut);
    expect(info.declaredDataBytes).toBe(200);
    expect(info.dataBytes).toBe(196);
    expect(info.frames).toBe(49);
  });
});
