import { describe, expect, it } from 'vitest';
import { OggPage } from '../../../../media/codecs/ogg/ogg-page.ts';
import { readOggPackets, readOggPages } from '../../../../media/codecs/ogg/ogg-page-reader.ts';
import { OggPageWriter } from '../../../../media/codecs/ogg/ogg-page-writer.ts';

function stream(serial: number): Buffer[] {
  const w = new OggPageWriter(serial);
  return [
    ...w.writePacket(Buffer.from('first'), 0n, { flush: true }),
    ...w.writePacket(new Uint8Array(600).fill(1), 10n, { flush: true }),
    ...w.writePacket(Buffer.from('last'), 20n, { eos: true }),
  ];
}

const invalid = (reason: string) => expect.objectContaining({ code: 'CAPSTAN_ERR_OGG_INVALID', details: expect.objectContaining({ reason }) });

describe('readOggPackets', () => {
  it('reassembles the packets of multiplexed bitstreams with their granule and flags', () => {
    const a = stream(1);
    const b = stream(2);
    const packets = readOggPackets(Buffer.concat([a[0]!, b[0]!, a[1]!, b[1]!, a[2]!, b[2]!]));
    expect(packets.map((p) => [p.serial, p.data.length, p.granule, p.bos, p.eos])).toEqual([
      [1, 5, 0n, true, false],
      [2, 5, 0n, true, false],
      [1, 600, 10n, false, false],
      [2, 600, 10n, false, false],
      [1, 4, 20n, false, true],
      [2, 4, 20n, false, true],
    ]);
  });

  it('reports -1 for packets that are not the last to end on their page', () => {
    const w = new OggPageWriter(3);
    w.writePacket(Buffer.from('a'), 1n);
    const pages = w.writePacket(Buffer.from('b'), 2n, { eos: true });
    expect(readOggPackets(Buffer.concat(pages)).map((p) => p.granule)).toEqual([-1n, 2n]);
  });

  it('rejects a missing page, a missing BOS, pages after EOS and a file ending inside a packet', () => {
    const [p0, p1, p2] = stream(5);
    expect(() => readOggPackets(Buffer.concat([p0!, p2!]))).toThrow(invalid('sequence'));
    expect(() => readOggPackets(Buffer.concat([p1!, p2!]))).toThrow(invalid('bos'));
    expect(() => readOggPackets(Buffer.concat([p0!, p1!, p2!, p2!]))).toThrow(invalid('eos'));
    const w = new OggPageWriter(6);
    const long = w.writePacket(new Uint8Array(70_000), 1n, { flush: true });
    expect(() => readOggPackets(long[0]!)).toThrow(invalid('truncated'));
  });

  it('rejects a continued flag without a pending packet and a pending packet without it', () => {
    const [p0, p1] = stream(5);
    const forged = OggPage.parse(p1!);
    forged.continued = true;
    expect(() => readOggPackets(Buffer.concat([p0!, forged.serialize()]))).toThrow(invalid('continued'));
    const w = new OggPageWriter(6);
    const [first, second] = w.writePacket(new Uint8Array(70_000), 1n, { flush: true });
    const notContinued = OggPage.parse(second!);
    notContinued.continued = false;
    expect(() => readOggPackets(Buffer.concat([first!, notContinued.serialize()]))).toThrow(invalid('continued'));
  });

  it('rejects bytes after the last page', () => {
    expect(() => readOggPages(Buffer.concat([...stream(1), Buffer.from('junk')]))).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_OGG_INVALID' }));
  });
});
