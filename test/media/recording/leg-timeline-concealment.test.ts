import { describe, expect, it } from 'vitest';
import type { TimelinePacket } from '../../../media/recording/leg-timeline.ts';
import { timelineImplementations } from '../../helpers/timelines.ts';

/** A 20 ms packet whose sample i is `base + i`, so a repetition of it is recognisable. */
function ramp(seq: number, ts: number, base: number, ssrc = 1): TimelinePacket {
  return { ssrc, sequenceNumber: seq, timestamp: ts, samples: Int16Array.from({ length: 160 }, (_, i) => base + i) };
}

function flat(seq: number, ts: number, value: number, ssrc = 1): TimelinePacket {
  return { ssrc, sequenceNumber: seq, timestamp: ts, samples: new Int16Array(160).fill(value) };
}

/** What the concealment of a loss after `ramp(_, _, base)` must be, sample k of the gap. */
function expectedConcealment(base: number, k: number): number {
  const v = base + (k % 160);
  if (k < 160) return Math.round(v * 0.5);
  if (k < 320) return Math.round((v * 0.5 * (320 - k)) / 160);
  return 0;
}

describe.each(timelineImplementations)('LegTimeline loss concealment: $name', ({ create }) => {
  it('repeats the previous 20 ms at half amplitude, then fades to silence over the next 20 ms', () => {
    const t = create();
    t.push(ramp(1, 0, 1000), 0);
    // Packets 2, 3 and 4 are lost: a 60 ms gap between packet 1 and packet 5.
    t.push(ramp(5, 640, 3000), 640);
    const out = t.read(800);
    expect(Array.from(out.subarray(0, 160))).toEqual(Array.from({ length: 160 }, (_, i) => 1000 + i));
    for (let k = 0; k < 480; k++) expect(out[160 + k], `gap sample ${k}`).toBe(expectedConcealment(1000, k));
    expect(Array.from(out.subarray(640, 800))).toEqual(Array.from({ length: 160 }, (_, i) => 3000 + i));
    expect(t.stats).toMatchObject({ lost: 3, concealedSamples: 320 });
  });

  it('conceals the same way when the loss straddles several reads', () => {
    const whole = create();
    const pieces = create();
    for (const t of [whole, pieces]) {
      t.push(ramp(1, 0, 500), 0);
      t.push(ramp(2, 160, 700), 160);
      t.push(ramp(4, 480, 900), 480); // packet 3 lost
    }
    const expected = whole.read(640);
    const got = new Int16Array(640);
    for (let at = 0; at < 640; at += 70) got.set(pieces.read(Math.min(640, at + 70)), at);
    expect(Array.from(got)).toEqual(Array.from(expected));
    expect(expected[320]).toBe(Math.round(700 * 0.5));
  });

  it('leaves a gap longer than 100 ms silent: an outage is not invented audio', () => {
    const t = create();
    t.push(ramp(1, 0, 1000), 0);
    t.push(ramp(8, 1120, 2000), 1120); // six packets (120 ms) lost
    const out = t.read(1280);
    expect(out.subarray(160, 1120).every((v) => v === 0)).toBe(true);
    expect(t.stats.concealedSamples).toBe(0);
  });

  it('keeps silence suppression silent: consecutive sequence numbers across a timestamp jump are no loss', () => {
    const t = create();
    t.push(ramp(1, 0, 1000), 0);
    t.push(ramp(2, 480, 2000), 480); // the sender paused for 40 ms (DTX), nothing lost
    expect(t.read(640).subarray(160, 480).every((v) => v === 0)).toBe(true);
  });

  it('keeps a one-way or held leg silent after its last packet', () => {
    const t = create();
    for (let i = 0; i < 5; i++) t.push(flat(i, i * 160, 7000), i * 160);
    const out = t.read(8000 * 30); // 30 s of nothing from this party
    expect(out.length).toBe(240_000);
    expect(out.subarray(800).every((v) => v === 0)).toBe(true);
    // When the party comes back (continuing its sequence), the hold is still silence, not a loss.
    t.push(flat(5, 240_000, 5000), 240_000);
    expect(t.read(240_160).every((v) => v === 5000)).toBe(true);
    expect(t.stats.concealedSamples).toBe(0);
  });

  it('does not conceal across a change of source', () => {
    const t = create();
    t.push(ramp(1, 0, 1000), 0);
    t.push(ramp(9, 777_777, 2000, 2), 320); // new SSRC after 20 ms of nothing
    expect(t.read(480).subarray(160, 320).every((v) => v === 0)).toBe(true);
  });

  it('uses a packet that arrives late but within the jitter window instead of concealing', () => {
    const t = create();
    t.push(ramp(1, 0, 1000), 0);
    t.push(ramp(3, 320, 3000), 320);
    t.push(ramp(2, 160, 2000), 600); // reordered, still before the read
    const out = t.read(480);
    expect(Array.from(out.subarray(160, 320))).toEqual(Array.from({ length: 160 }, (_, i) => 2000 + i));
    expect(t.stats.concealedSamples).toBe(0);
  });

  it('masks a span as silence, open-ended until its end is set', () => {
    const t = create();
    for (let i = 0; i < 10; i++) t.push(flat(i, i * 160, 100 + i), i * 160);
    const span = t.addMask(400);
    expect(t.read(800).subarray(400).every((v) => v === 0)).toBe(true);
    span.end = 1000;
    const rest = t.read(1600);
    expect(rest.subarray(0, 200).every((v) => v === 0)).toBe(true);
    expect(rest[200]).toBe(106);
  });
});
