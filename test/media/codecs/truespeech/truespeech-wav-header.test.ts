import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRUESPEECH_WAV_HEADER_BYTES, trueSpeechWav, trueSpeechWavHeader } from '../../../../media/codecs/truespeech/truespeech-wav-header.ts';
import { randomFrames } from './ffmpeg-truespeech.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'capstan-truespeech-wav-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('TrueSpeech WAV header', () => {
  it('writes the 50-byte fmt chunk of format 0x0022, a fact chunk and the data size', () => {
    const h = trueSpeechWavHeader(100, 23_990);
    expect(h.length).toBe(TRUESPEECH_WAV_HEADER_BYTES);
    expect(h.toString('latin1', 0, 4)).toBe('RIFF');
    expect(h.readUInt32LE(4)).toBe(90 - 8 + 3200);
    expect(h.toString('latin1', 8, 16)).toBe('WAVEfmt ');
    expect(h.readUInt32LE(16)).toBe(50);
    expect([h.readUInt16LE(20), h.readUInt16LE(22), h.readUInt32LE(24), h.readUInt32LE(28)]).toEqual([0x0022, 1, 8000, 1067]);
    expect([h.readUInt16LE(32), h.readUInt16LE(34), h.readUInt16LE(36)]).toEqual([32, 1, 32]); // block align, bits, cbSize
    expect([h.readUInt16LE(38), h.readUInt16LE(40)]).toEqual([1, 240]); // revision, samples per block
    expect(h.subarray(42, 70).every((b) => b === 0)).toBe(true);
    expect(h.toString('latin1', 70, 74)).toBe('fact');
    expect([h.readUInt32LE(74), h.readUInt32LE(78)]).toEqual([4, 23_990]);
    expect(h.toString('latin1', 82, 86)).toBe('data');
    expect(h.readUInt32LE(86)).toBe(3200);
  });

  it('makes files that ffprobe reads as 8 kHz mono TrueSpeech of the right duration', () => {
    const path = join(dir, 'probe.wav');
    writeFileSync(path, trueSpeechWav(randomFrames(100)));
    const info = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,codec_tag,sample_rate,channels,bit_rate,extradata_size:format=duration', '-of', 'json', path]).toString(),
    ) as { streams: Array<Record<string, unknown>>; format: { duration: string } };
    // bit_rate is the header's 1067 bytes/s; the 32 extra fmt bytes reach the decoder as extradata.
    expect(info.streams[0]).toMatchObject({ codec_name: 'truespeech', codec_tag: '0x0022', sample_rate: '8000', channels: 1, bit_rate: '8536', extradata_size: 32 });
    // 100 frames of 240 samples = 3 s.
    expect(Number(info.format.duration)).toBeCloseTo(3, 2);
  });
});
