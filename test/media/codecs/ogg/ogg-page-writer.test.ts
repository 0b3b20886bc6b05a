import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OggPage } from '../../../../media/codecs/ogg/ogg-page.ts';
import { readOggPackets } from '../../../../media/codecs/ogg/ogg-page-reader.ts';
import { OggPageWriter } from '../../../../media/codecs/ogg/ogg-page-writer.ts';

const parse = (pages: Buffer[]): OggPage[] => pages.map((p) => OggPage.parse(p));

describe('OggPageWriter', () => {
  it('puts a flushed first packet alone on a BOS page with sequence 0', () => {
    const w = new OggPageWriter(0xdeadbeef);
    const [page, ...rest] = parse(w.writePacket(Buffer.from('head'), 0n, { flush: true }));
    expect(rest).toEqual([]);
    expect(page).toMatchObject({ bos: true, eos: false, continued: false, granule: 0n, serial: 0xdeadbeef, sequence: 0 });
    expect([...page!.segments]).toEqual([4]);
    const [second] = parse(w.writePacket(Buffer.from('tags'), 0n, { flush: true }));
    expect(second).toMatchObject({ bos: false, sequence: 1 });
  });

  it('laces packets as 255s and a final remainder, ending exact multiples of 255 with a 0', () => {
    const lacing = (length: number): number[] => {
      const w = new OggPageWriter(1);
      const [page] = parse(w.writePacket(new Uint8Array(length), 5n, { flush: true }));
      return [...page!.segments];
    };
    expect(lacing(0)).toEqual([0]);
    expect(lacing(254)).toEqual([254]);
    expect(lacing(255)).toEqual([255, 0]);
    expect(lacing(300)).toEqual([255, 45]);
    expect(lacing(510)).toEqual([255, 255, 0]);
  });

  it('continues a packet longer than one page on the next page, granule -1 where no packet ends', () => {
    const w = new OggPageWriter(1);
    const packet = new Uint8Array(70_000).map((_, i) => i & 0xff);
    const pages = parse(w.writePacket(packet, 960n, { flush: true }));
    expect(pages.map((p) => [p.continued, p.segments.length, p.granule])).toEqual([
      [false, 255, -1n],
      [true, 20, 960n], // 70000 = 274 x 255 + 130: 275 lacing values
    ]);
    expect(readOggPackets(pages)[0]!.data.equals(Buffer.from(packet))).toBe(true);
  });

  it('ends a 255 x 255-byte packet with a lone 0 lacing value on a continued page', () => {
    const w = new OggPageWriter(1);
    const pages = parse(w.writePacket(new Uint8Array(255 * 255), 1n, { eos: true }));
    expect(pages).toHaveLength(2);
    expect(pages[0]).toMatchObject({ granule: -1n, eos: false });
    expect(pages[1]).toMatchObject({ continued: true, granule: 1n, eos: true });
    expect([...pages[1]!.segments]).toEqual([0]);
  });

  it('fills pages up to the target size and gives each the granule of its last complete packet', () => {
    const w = new OggPageWriter(1, { targetPageBytes: 1000 });
    const out: Buffer[] = [];
    for (let i = 1; i <= 10; i++) out.push(...w.writePacket(new Uint8Array(300), BigInt(i * 960)));
    out.push(...w.end());
    const pages = parse(out);
    // 300-byte packets: a page closes once its body reaches 1000 bytes, i.e. after 4 packets.
    expect(pages.map((p) => [p.body.length, p.granule, p.eos])).toEqual([
      [1200, 3840n, false],
      [1200, 7680n, false],
      [600, 9600n, true],
    ]);
  });

  it('closes a page at 255 segments even below the target size', () => {
    const w = new OggPageWriter(1);
    const out: Buffer[] = [];
    for (let i = 0; i < 300; i++) out.push(...w.writePacket(new Uint8Array(1), BigInt(i)));
    expect(parse(out).map((p) => [p.segments.length, p.granule])).toEqual([[255, 254n]]);
  });

  it('marks the last page EOS, emits an empty EOS page when nothing is pending, and refuses more', () => {
    const w = new OggPageWriter(9);
    w.writePacket(Buffer.from('x'), 10n, { flush: true });
    const [eosPage] = parse(w.end());
    expect(eosPage).toMatchObject({ eos: true, granule: 10n, sequence: 1 });
    expect(eosPage!.segments.length).toBe(0);
    expect(w.end()).toEqual([]);
    expect(() => w.writePacket(Buffer.from('y'), 11n)).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CLOSED' }));
  });

  it('rejects negative or decreasing granule positions and bad serial numbers', () => {
    const w = new OggPageWriter(1);
    expect(() => w.writePacket(Buffer.from('a'), -1n)).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
    w.writePacket(Buffer.from('a'), 100n);
    expect(() => w.writePacket(Buffer.from('b'), 99n)).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
    expect(() => new OggPageWriter(2 ** 32)).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
  });

  it('round-trips any sequence of packets through the reader', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ size: fc.oneof(fc.integer({ min: 0, max: 600 }), fc.constantFrom(255, 510, 65025, 65280)), flush: fc.boolean() }), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.integer({ min: 1, max: 5000 }),
        (specs, target) => {
          const w = new OggPageWriter(77, { targetPageBytes: target });
          const packets = specs.map((s, i) => new Uint8Array(s.size).fill(i & 0xff));
          const out: Buffer[] = [];
          packets.forEach((p, i) => out.push(...w.writePacket(p, BigInt(i), { flush: specs[i]!.flush, eos: i === packets.length - 1 })));
          const back = readOggPackets(Buffer.concat(out));
          expect(back.map((p) => p.data.length)).toEqual(packets.map((p) => p.length));
          back.forEach((p, i) => expect(p.data.equals(Buffer.from(packets[i]!))).toBe(true));
          expect(back.at(-1)).toMatchObject({ eos: true, granule: BigInt(packets.length - 1) });
          expect(back[0]!.bos).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});
