import { describe, expect, it } from 'vitest';
import type { LegRole } from '../../../media/control-api.ts';
import { DtmfCollector, type TelephoneEventPacket } from '../../../media/recording/dtmf-collector.ts';
import { LegTimeline } from '../../../media/recording/leg-timeline.ts';

const SSRC = 0x1234;

function legs(): Map<LegRole, LegTimeline> {
  return new Map<LegRole, LegTimeline>([
    ['caller', new LegTimeline()],
    ['callee', new LegTimeline()],
  ]);
}

/** Audio: packet i of the caller (ts 1000 + 160 i) arriving at 800 + 160 i. */
function audio(t: LegTimeline, from: number, to: number, value = 5000): void {
  for (let i = from; i < to; i++) t.push({ ssrc: SSRC, sequenceNumber: i, timestamp: 1000 + 160 * i, samples: new Int16Array(160).fill(value) }, 800 + 160 * i);
}

function ev(timestamp: number, event: number, duration: number, end = false): TelephoneEventPacket {
  return { ssrc: SSRC, timestamp, event: { event, end, volume: 10, duration } };
}

describe('DtmfCollector', () => {
  it('keeps a digit with its start on the leg timeline and its final duration; end retransmissions change nothing', () => {
    const timelines = legs();
    const c = new DtmfCollector({ timelines });
    audio(timelines.get('caller')!, 0, 10);
    // A '5' starting at RTP timestamp 1000 + 1600 (lands at sample 800 + 1600 = 2400).
    const ts = 1000 + 1600;
    expect(c.push('caller', ev(ts, 5, 0), 2410)).toBe('started');
    expect(c.push('caller', ev(ts, 5, 400), 2810)).toBe('updated');
    expect(c.push('caller', ev(ts, 5, 800, true), 3210)).toBe('ended');
    expect(c.push('caller', ev(ts, 5, 800, true), 3220)).toBe('repeated');
    expect(c.push('caller', ev(ts, 5, 800, true), 3230)).toBe('repeated');
    expect(c.push('caller', ev(ts, 5, 400), 3240)).toBe('repeated'); // a late update
    expect(c.results()).toEqual([{ leg: 'caller', digit: '5', atMs: 300, durationMs: 100 }]);
  });

  it('places an event before any audio by its arrival minus the duration it reports', () => {
    const c = new DtmfCollector({ timelines: legs() });
    c.push('callee', ev(99, 11, 320), 4000);
    expect(c.results()).toEqual([{ leg: 'callee', digit: '#', atMs: (4000 - 320) / 8, durationMs: 40 }]);
  });

  it('ends an event whose end packets were lost at its last duration when the next starts, and at the stop', () => {
    const timelines = legs();
    const c = new DtmfCollector({ timelines });
    audio(timelines.get('caller')!, 0, 5);
    c.push('caller', ev(1000, 1, 480), 1300);
    c.push('caller', ev(1000 + 4000, 2, 160), 5000); // a new event (new timestamp): '1' ended at 60 ms
    c.push('caller', ev(1000 + 4000, 2, 320), 5200);
    expect(c.results(800 + 4000 + 200)).toEqual([
      { leg: 'caller', digit: '1', atMs: 100, durationMs: 60 },
      { leg: 'caller', digit: '2', atMs: 600, durationMs: 25 },
    ]);
    expect(c.push('caller', ev(1000, 1, 480, true), 5300)).toBe('repeated'); // its end, late: ignored
  });

  it('ignores events that are not DTMF (fax and modem tones)', () => {
    const c = new DtmfCollector({ timelines: legs() });
    expect(c.push('caller', ev(0, 36, 800), 100)).toBe('not-dtmf');
    expect(c.results()).toEqual([]);
  });

  it('masks the event span out of the audio when asked, and only that span', () => {
    const timelines = legs();
    const caller = timelines.get('caller')!;
    const c = new DtmfCollector({ timelines, mask: true });
    audio(caller, 0, 20);
    const ts = 1000 + 1600; // lands at 2400
    c.push('caller', ev(ts, 9, 0), 2410);
    c.push('caller', ev(ts, 9, 800, true), 3300);
    const out = caller.read(800 + 20 * 160);
    expect(out.subarray(800, 2400).every((v) => v === 5000)).toBe(true);
    expect(out.subarray(2400, 3200).every((v) => v === 0)).toBe(true);
    expect(out.subarray(3200).every((v) => v === 5000)).toBe(true);
  });

  it('does not mute the rest of the call when an event never ends', () => {
    const timelines = legs();
    const caller = timelines.get('caller')!;
    const c = new DtmfCollector({ timelines, mask: true });
    audio(caller, 0, 40);
    c.push('caller', ev(1000, 3, 400), 900); // lands at 800; then nothing more of it
    const out = caller.read(800 + 40 * 160);
    expect(out.subarray(800, 800 + 400).every((v) => v === 0)).toBe(true);
    // Masked up to 100 ms past the known duration, then the audio again.
    expect(out.subarray(800 + 400 + 800).every((v) => v === 5000)).toBe(true);
  });

  it('leaves the audio alone when masking is off', () => {
    const timelines = legs();
    const caller = timelines.get('caller')!;
    const c = new DtmfCollector({ timelines });
    audio(caller, 0, 10);
    c.push('caller', ev(1000 + 320, 4, 800, true), 1200);
    expect(caller.read(800 + 1600).subarray(800).every((v) => v === 5000)).toBe(true);
  });
});
