import { describe, expect, it } from 'vitest';
import { CapstanError } from '../../../core/errors.ts';
import { RtpPacket } from '../../../media/rtp/rtp-packet.ts';

/** Hex fixtures: hand-assembled per RFC 3550 §5.1, spaces between fields for reading. */
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// V=2 P=0 X=0 CC=0 | M=1 PT=0 | seq 0x1234 | ts 0xdeadbeef | ssrc 0x01020304 | payload ff 7f 00 80
const MINIMAL = hex('80 80 1234 deadbeef 01020304 ff7f0080');
// V=2 P=1 X=1 CC=2 | M=0 PT=8 | seq 0xffff | ts 0 | ssrc 0xcafebabe | csrc 1, 2 | ext profile 0xbede, 1 word | payload d5d5 | padding 3
const FULL = hex('b2 08 ffff 00000000 cafebabe 00000001 00000002 bede0001 10aa0000 d5d5 000003');

function reasonOf(buf: Buffer): string {
  try {
    RtpPacket.parse(buf);
  } catch (e) {
    expect(e).toBeInstanceOf(CapstanError);
    expect((e as CapstanError).code).toBe('CAPSTAN_ERR_RTP_INVALID');
    return (e as CapstanError).details!.reason as string;
  }
  throw new Error('parse accepted an invalid packet');
}

describe('RtpPacket', () => {
  it('parses the fixed header and payload of a minimal packet', () => {
    const p = RtpPacket.parse(MINIMAL);
    expect(p).toMatchObject({ marker: true, payloadType: 0, sequenceNumber: 0x1234, timestamp: 0xdeadbeef, ssrc: 0x01020304, paddingLength: 0 });
    expect(p.csrcs).toEqual([]);
    expect(p.extension).toBeUndefined();
    expect([...p.payload]).toEqual([0xff, 0x7f, 0x00, 0x80]);
  });

  it('parses CSRCs, a header extension and padding', () => {
    const p = RtpPacket.parse(FULL);
    expect(p).toMatchObject({ marker: false, payloadType: 8, sequenceNumber: 0xffff, timestamp: 0, ssrc: 0xcafebabe, paddingLength: 3 });
    expect(p.csrcs).toEqual([1, 2]);
    expect(p.extension?.profile).toBe(0xbede);
    expect([...p.extension!.data]).toEqual([0x10, 0xaa, 0, 0]);
    expect([...p.payload]).toEqual([0xd5, 0xd5]);
  });

  it('serializes parsed fixtures back to the same bytes', () => {
    for (const fixture of [MINIMAL, FULL]) expect(RtpPacket.parse(fixture).serialize().equals(fixture)).toBe(true);
  });

  it('round-trips a packet built from fields, masking sequence and timestamp', () => {
    const p = new RtpPacket({ payloadType: 96, sequenceNumber: 65536 + 7, timestamp: 2 ** 32 + 160, ssrc: 0xffffffff, payload: new Uint8Array(160).fill(0x55) });
    const back = RtpPacket.parse(p.serialize());
    expect(back).toMatchObject({ payloadType: 96, sequenceNumber: 7, timestamp: 160, ssrc: 0xffffffff });
    expect(back.payload.length).toBe(160);
  });

  it('refuses buffers shorter than the fixed header as too-short', () => {
    expect(reasonOf(Buffer.alloc(0))).toBe('too-short');
    expect(reasonOf(MINIMAL.subarray(0, 11))).toBe('too-short');
  });

  it('refuses versions other than 2 as bad-version', () => {
    const v1 = Buffer.from(MINIMAL);
    v1[0] = 0x40;
    expect(reasonOf(v1)).toBe('bad-version');
    const v0 = Buffer.from(MINIMAL);
    v0[0] = 0x00;
    expect(reasonOf(v0)).toBe('bad-version');
  });

  it('refuses a CSRC count that overruns the packet as bad-csrc', () => {
    expect(reasonOf(hex('8f 00 0001 00000001 00000001 00000001'))).toBe('bad-csrc');
  });

  it('refuses a truncated or overlong header extension as bad-extension', () => {
    expect(reasonOf(hex('90 00 0001 00000001 00000001 bede'))).toBe('bad-extension');
    expect(reasonOf(hex('90 00 0001 00000001 00000001 bede0002 00000000'))).toBe('bad-extension');
  });

  it('refuses zero padding or padding longer than the body as bad-padding', () => {
    expect(reasonOf(hex('a0 00 0001 00000001 00000001 aabb00'))).toBe('bad-padding');
    expect(reasonOf(hex('a0 00 0001 00000001 00000001 aabb05'))).toBe('bad-padding');
  });

  it('accepts padding that takes the whole body (empty payload)', () => {
    const p = RtpPacket.parse(hex('a0 00 0001 00000001 00000001 000004'.replace('000004', '00000004')));
    expect(p.payload.length).toBe(0);
    expect(p.paddingLength).toBe(4);
  });

  it('does not copy the payload: it is a view of the datagram', () => {
    const buf = Buffer.from(MINIMAL);
    const p = RtpPacket.parse(buf);
    buf[12] = 0x01;
    expect(p.payload[0]).toBe(0x01);
  });
});
