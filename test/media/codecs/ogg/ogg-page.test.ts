import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oggCrc32 } from '../../../../media/codecs/ogg/ogg-crc.ts';
import { OggPage } from '../../../../media/codecs/ogg/ogg-page.ts';
import { readOggPackets, readOggPages } from '../../../../media/codecs/ogg/ogg-page-reader.ts';

/** A hand-made page fixture: 2 packets ("abc" and 300 x 0x5a), serial 0x01020304, sequence 7. */
function fixturePage(): Buffer {
  return new OggPage({
    continued: false,
    bos: true,
    eos: false,
    granule: 0x1122334455n,
    serial: 0x01020304,
    sequence: 7,
    segments: Uint8Array.of(3, 255, 45),
    body: Buffer.concat([Buffer.from('abc'), Buffer.alloc(300, 0x5a)]),
  }).serialize();
}

const invalid = (reason: string) => expect.objectContaining({ code: 'CAPSTAN_ERR_OGG_INVALID', details: expect.objectContaining({ reason }) });

describe('OggPage', () => {
  it('computes the Ogg CRC-32 (0x04C11DB7, MSB first, init 0, no final xor)', () => {
    // The CRC-32/POSIX (cksum) check value is 0x765E7680 with a final inversion; without it:
    expect(oggCrc32(Buffer.from('123456789'))).toBe(0x89a1897f);
    expect(oggCrc32(new Uint8Array(0))).toBe(0);
  });

  it('serializes the header fields little-endian at their RFC 3533 offsets', () => {
    const page = fixturePage();
    expect(page.toString('latin1', 0, 4)).toBe('OggS');
    expect(page[4]).toBe(0);
    expect(page[5]).toBe(0x02);
    expect(page.subarray(6, 14)).toEqual(Buffer.from([0x55, 0x44, 0x33, 0x22, 0x11, 0, 0, 0]));
    expect(page.readUInt32LE(14)).toBe(0x01020304);
    expect(page.readUInt32LE(18)).toBe(7);
    expect(page[26]).toBe(3);
    expect([...page.subarray(27, 30)]).toEqual([3, 255, 45]);
    expect(page.length).toBe(27 + 3 + 303);
    const zeroed = Buffer.from(page);
    zeroed.writeUInt32LE(0, 22);
    expect(page.readUInt32LE(22)).toBe(oggCrc32(zeroed));
  });

  it('parses what it serializes and splits the body into packet pieces', () => {
    const page = OggPage.parse(fixturePage());
    expect(page).toMatchObject({ continued: false, bos: true, eos: false, granule: 0x1122334455n, serial: 0x01020304, sequence: 7 });
    expect(page.pieces()).toEqual([
      { offset: 0, length: 3, complete: true },
      { offset: 3, length: 300, complete: true },
    ]);
  });

  it('accepts the pages of an Ogg Opus file written by ffmpeg (libogg CRCs)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'capstan-ogg-'));
    try {
      const file = join(dir, 'tone.opus');
      execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1:sample_rate=8000', '-c:a', 'libopus', file]);
      const pages = readOggPages(readFileSync(file));
      expect(pages.length).toBeGreaterThanOrEqual(3);
      expect(pages[0]!.bos).toBe(true);
      expect(pages.at(-1)!.eos).toBe(true);
      const packets = readOggPackets(pages);
      expect(packets[0]!.data.toString('latin1', 0, 8)).toBe('OpusHead');
      expect(packets[1]!.data.toString('latin1', 0, 8)).toBe('OpusTags');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a page without the capture pattern', () => {
    const page = fixturePage();
    page[0] = 0x6f; // "oggS"
    expect(() => OggPage.parse(page)).toThrow(invalid('capture'));
  });

  it('rejects a page whose CRC does not match, in the header or in the body', () => {
    const body = fixturePage();
    body[body.length - 1]! ^= 1;
    expect(() => OggPage.parse(body)).toThrow(invalid('crc'));
    const header = fixturePage();
    header[18]! ^= 0x80; // sequence number
    expect(() => OggPage.parse(header)).toThrow(invalid('crc'));
  });

  it('rejects truncated headers, segment tables and bodies', () => {
    const page = fixturePage();
    expect(() => OggPage.parse(page.subarray(0, 26))).toThrow(invalid('truncated'));
    expect(() => OggPage.parse(page.subarray(0, 28))).toThrow(invalid('truncated'));
    expect(() => OggPage.parse(page.subarray(0, page.length - 1))).toThrow(invalid('truncated'));
    expect(() => readOggPages(Buffer.concat([page, page.subarray(0, 10)]))).toThrow(invalid('truncated'));
  });

  it('rejects an unknown stream structure version and reserved flag bits', () => {
    for (const [offset, value, reason] of [
      [4, 1, 'version'],
      [5, 0x0a, 'flags'],
    ] as const) {
      const page = fixturePage();
      page[offset] = value;
      page.writeUInt32LE(0, 22);
      page.writeUInt32LE(oggCrc32(page), 22); // a valid CRC, so only the field is wrong
      expect(() => OggPage.parse(page)).toThrow(invalid(reason));
    }
  });

  it('refuses to serialize a body that does not match its segment table', () => {
    const page = new OggPage({ continued: false, bos: false, eos: false, granule: 0n, serial: 1, sequence: 0, segments: Uint8Array.of(4), body: Buffer.from('abc') });
    expect(() => page.serialize()).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_OGG_INVALID' }));
  });
});
