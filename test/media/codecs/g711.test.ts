import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  alawDecode,
  alawEncode,
  alawToLinear,
  linearToAlaw,
  linearToUlaw,
  ulawDecode,
  ulawEncode,
  ulawToLinear,
} from '../../../media/codecs/g711.ts';
import { buildWavHeader } from '../../../media/wav/wav-format.ts';

const ALL_CODES = Uint8Array.from({ length: 256 }, (_, i) => i);

function ffmpegAvailable(): boolean {
  try {
    execFileSync('ffmpeg', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('G.711 µ-law', () => {
  it('decodes the reference code points', () => {
    expect(ulawToLinear(0xff)).toBe(0);
    expect(ulawToLinear(0x7f)).toBe(0);
    expect(ulawToLinear(0x80)).toBe(32124);
    expect(ulawToLinear(0x00)).toBe(-32124);
    expect(ulawToLinear(0xfe)).toBe(8);
    expect(ulawToLinear(0x7e)).toBe(-8);
  });

  it('encodes silence, the extremes and values beyond the clip point', () => {
    expect(linearToUlaw(0)).toBe(0xff);
    expect(linearToUlaw(32767)).toBe(0x80);
    expect(linearToUlaw(-32768)).toBe(0x00);
    expect(linearToUlaw(32124)).toBe(0x80);
  });

  it('re-encodes every decoded code to itself except negative zero', () => {
    const back = ulawEncode(ulawDecode(ALL_CODES));
    for (let c = 0; c < 256; c++) expect(back[c], `code ${c}`).toBe(c === 0x7f ? 0xff : c);
  });

  it('decodes all 256 codes to a stable table', () => {
    // Pinned: the table agrees with ffmpeg (below); this catches any later change to it.
    const hash = createHash('sha256').update(ulawDecode(ALL_CODES)).digest('hex');
    expect(hash).toBe('3dab54339e520bb2c924826e3b72a917a2b612e9fd12fc867500f1d983a75827');
    const decoded = ulawDecode(ALL_CODES);
    for (let c = 0; c < 128; c++) expect(decoded[c]! + decoded[c + 128]!).toBe(0);
  });

  it('keeps the quantization error within half a step over the whole 16-bit range', () => {
    for (let x = -32768; x <= 32767; x += 7) {
      const y = ulawToLinear(linearToUlaw(x));
      // Largest µ-law step is 1024 at the top segment; beyond the clip point the error grows with x.
      if (Math.abs(x) <= 32124) expect(Math.abs(y - x)).toBeLessThanOrEqual(1024);
    }
  });
});

describe('G.711 A-law', () => {
  it('decodes the reference code points', () => {
    expect(alawToLinear(0xd5)).toBe(8);
    expect(alawToLinear(0x55)).toBe(-8);
    expect(alawToLinear(0xaa)).toBe(32256);
    expect(alawToLinear(0x2a)).toBe(-32256);
  });

  it('encodes silence and the extremes', () => {
    expect(linearToAlaw(0)).toBe(0xd5);
    expect(linearToAlaw(-1)).toBe(0x55);
    expect(linearToAlaw(32767)).toBe(0xaa);
    expect(linearToAlaw(-32768)).toBe(0x2a);
  });

  it('re-encodes every decoded code to itself', () => {
    expect([...alawEncode(alawDecode(ALL_CODES))]).toEqual([...ALL_CODES]);
  });

  it('decodes all 256 codes to a stable table', () => {
    expect(createHash('sha256').update(alawDecode(ALL_CODES)).digest('hex')).toBe('e04788d110e58ff8c70c93b8480190d973e3b67876b6119abbaec766cc75c174');
  });
});

describe('G.711 against ffmpeg as an outside decoder', () => {
  it.skipIf(!ffmpegAvailable())('decodes every µ-law and A-law code as ffmpeg does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'g711-'));
    try {
      for (const [encoding, decode] of [['ulaw', ulawDecode], ['alaw', alawDecode]] as const) {
        const wav = join(dir, `${encoding}.wav`);
        const header = buildWavHeader({ encoding, channels: 1, sampleRate: 8000 }, 256).header;
        writeFileSync(wav, Buffer.concat([header, ALL_CODES]));
        const raw = join(dir, `${encoding}.raw`);
        execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', wav, '-f', 's16le', '-acodec', 'pcm_s16le', raw]);
        const theirs = new Int16Array(new Uint8Array(readFileSync(raw)).buffer);
        expect([...theirs]).toEqual([...decode(ALL_CODES)]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
