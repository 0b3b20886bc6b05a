import { describe, expect, it } from 'vitest';
import type { TimelinePacket } from '../../../media/recording/leg-timeline.ts';
import { timelineImplementations } from '../../helpers/timelines.ts';

/** A 20 ms packet (160 samples) whose samples all carry `value`, so placement is visible. */
function pkt(seq: number, ts: number, value: number, ssrc = 1): TimelinePacket {
  return { ssrc, sequenceNumber: seq, timestamp: ts, samples: new Int16Array(160).fill(value) };
}

/** Value of each 160-sample block of `samples` (asserting each block is uniform). */
function blocks(samples: Int16Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < samples.length; i += 160) {
    const block = samples.subarray(i, i + 160);
    expect(block.every((v) => v === block[0])).toBe(true);
    out.push(block[0]!);
  }
  return out;
}

describe.each(timelineImplementations)('LegTimeline: $name', ({ create }) => {
  it('places in-order packets from the first packet\'s arrival on', () => {
    const t = create();
    for (let i = 0; i < 4; i++) expect(t.push(pkt(100 + i, 5000 + 160 * i, i + 1), 320 + 160 * i)).toBe(i === 0 ? 'new-source' : 'placed');
    expect(blocks(t.read(320 + 640 + 160))).toEqual([0, 0, 1, 2, 3, 4, 0]);
    expect(t.stats).toMatchObject({ received: 4, placed: 4, sources: 1, lost: 0 });
  });

  it('places by timestamp, not by arrival time, within a source', () => {
    const t = create();
    t.push(pkt(1, 0, 1), 0);
    t.push(pkt(2, 160, 2), 400); // arrived 240 samples late, still placed at 160
    expect(blocks(t.read(320))).toEqual([1, 2]);
  });

  it('puts reordered packets in place', () => {
    const t = create();
    t.push(pkt(1, 0, 1), 0);
    t.push(pkt(3, 320, 3), 320);
    t.push(pkt(2, 160, 2), 330);
    t.push(pkt(5, 640, 5), 640);
    t.push(pkt(4, 480, 4), 650);
    expect(blocks(t.read(800))).toEqual([1, 2, 3, 4, 5]);
    expect(t.stats.lost).toBe(0);
  });

  it('puts a packet that precedes the first one before the anchor', () => {
    const t = create();
    t.push(pkt(2, 160, 2), 1120);
    expect(t.push(pkt(1, 0, 1), 1130)).toBe('placed');
    expect(blocks(t.read(1280))).toEqual([0, 0, 0, 0, 0, 0, 1, 2]);
  });

  it('drops and counts duplicates', () => {
    const t = create();
    t.push(pkt(1, 0, 1), 0);
    expect(t.push(pkt(1, 0, 9), 10)).toBe('duplicate');
    t.push(pkt(2, 160, 2), 160);
    expect(t.push(pkt(1, 0, 9), 170)).toBe('duplicate');
    expect(blocks(t.read(320))).toEqual([1, 2]);
    expect(t.stats).toMatchObject({ duplicates: 2, placed: 2 });
  });

  it('leaves silence for lost packets when concealment is off, and counts them', () => {
    const t = create({ concealMaxGapSamples: 0 });
    t.push(pkt(1, 0, 1), 0);
    t.push(pkt(4, 480, 4), 480);
    expect(blocks(t.read(640))).toEqual([1, 0, 0, 4]);
    expect(t.stats.lost).toBe(2);
  });

  it('drops packets whose span was already read out, and keeps the unread tail of a partly late one', () => {
    const t = create();
    t.push(pkt(1, 0, 1), 0);
    t.push(pkt(4, 480, 4), 480);
    t.read(400); // up to the middle of packet 3's span
    expect(t.push(pkt(2, 160, 2), 500)).toBe('late');
    expect(t.push(pkt(3, 320, 3), 500)).toBe('placed');
    const rest = t.read(640);
    expect(rest.length).toBe(240);
    expect(rest.subarray(0, 80).every((v) => v === 3)).toBe(true);
    expect(rest.subarray(80).every((v) => v === 4)).toBe(true);
    expect(t.stats).toMatchObject({ late: 1, partlyLate: 1 });
  });

  it('re-anchors a new SSRC at its arrival, as a new source on the same leg', () => {
    const t = create();
    t.push(pkt(1, 0, 1), 0);
    t.push(pkt(2, 160, 2), 160);
    // New SSRC with unrelated sequence and timestamp, arriving after a 160-sample gap.
    expect(t.push(pkt(7000, 123456789, 7, 2), 480)).toBe('new-source');
    t.push(pkt(7001, 123456789 + 160, 8, 2), 640);
    expect(blocks(t.read(800))).toEqual([1, 2, 0, 7, 8]);
    expect(t.stats.sources).toBe(2);
  });

  it('re-anchors on a forward sequence jump beyond the dropout limit', () => {
    const t = create();
    t.push(pkt(1, 0, 1), 0);
    expect(t.push(pkt(1 + 5000, 160, 5), 160)).toBe('new-source');
    expect(t.stats.sources).toBe(2);
  });

  it('re-anchors when the timestamp fits neither the arrival nor the sequence (a reset sender clock)', () => {
    const t = create();
    t.push(pkt(1, 8_000_000, 1), 0);
    t.push(pkt(2, 8_000_160, 2), 160);
    expect(t.push(pkt(3, 17, 3), 320)).toBe('new-source');
    expect(t.push(pkt(4, 177, 4), 480)).toBe('placed');
    expect(blocks(t.read(640))).toEqual([1, 2, 3, 4]);
  });

  it('keeps the source across silence suppression (timestamps jump with the arrival)', () => {
    const t = create();
    t.push(pkt(1, 0, 1), 0);
    t.read(24000); // the recording reads on while the sender is quiet
    // Next packet after 3 s of suppressed silence: seq +1, timestamp +24000, arrival +24000.
    expect(t.push(pkt(2, 24160, 2), 24160)).toBe('placed');
    expect(t.stats.sources).toBe(1);
  });

  it('handles the 32-bit timestamp and 16-bit sequence wrap', () => {
    const t = create();
    const ts0 = 2 ** 32 - 320;
    t.push(pkt(65534, ts0, 1), 0);
    t.push(pkt(65535, ts0 + 160, 2), 160);
    expect(t.push(pkt(0, (ts0 + 320) >>> 0, 3), 320)).toBe('placed');
    expect(t.push(pkt(1, (ts0 + 480) >>> 0, 4), 480)).toBe('placed');
    expect(blocks(t.read(640))).toEqual([1, 2, 3, 4]);
    expect(t.stats).toMatchObject({ sources: 1, lost: 0 });
  });

  it('treats a single stale packet far behind as out of sequence, and a confirmed restart as a new source', () => {
    const t = create();
    t.push(pkt(1000, 0, 1), 0);
    expect(t.push(pkt(500, 160, 9), 160)).toBe('out-of-sequence');
    expect(t.push(pkt(1001, 160, 2), 160)).toBe('placed');
    expect(t.push(pkt(10, 320, 3), 320)).toBe('out-of-sequence');
    expect(t.push(pkt(11, 480, 4), 480)).toBe('new-source');
    expect(t.stats.sources).toBe(2);
  });

  it('drops packets beyond its capacity ahead of the read position as too early', () => {
    const t = create({ capacitySamples: 1600 });
    t.push(pkt(1, 0, 1), 0);
    expect(t.push(pkt(2, 1600, 2), 160)).toBe('too-early');
  });

  it('reads silence before the first packet and after the last', () => {
    const t = create();
    expect(t.read(480).every((v) => v === 0)).toBe(true);
    t.push(pkt(1, 0, 5), 480);
    expect(blocks(t.read(960))).toEqual([5, 0, 0]);
  });

  it('reuses its ring without leaking old samples', () => {
    const t = create({ capacitySamples: 480 });
    for (let i = 0; i < 30; i++) {
      if (i % 2 === 0) t.push(pkt(i, i * 160, i + 1), i * 160);
      expect(t.read((i + 1) * 160).every((v) => v === (i % 2 === 0 ? i + 1 : 0))).toBe(true);
    }
  });
});
