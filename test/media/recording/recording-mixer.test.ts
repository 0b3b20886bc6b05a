import { describe, expect, it } from 'vitest';
import { LegTimeline } from '../../../media/recording/leg-timeline.ts';
import { RecordingMixer } from '../../../media/recording/recording-mixer.ts';

function leg(value: number, packets: number, firstArrival = 0): LegTimeline {
  const t = new LegTimeline();
  for (let i = 0; i < packets; i++) {
    t.push({ ssrc: value, sequenceNumber: i, timestamp: i * 160, samples: new Int16Array(160).fill(value) }, firstArrival + i * 160);
  }
  return t;
}

describe('RecordingMixer', () => {
  it('puts the caller on the left channel and the callee on the right', () => {
    const m = new RecordingMixer({ caller: leg(100, 2), callee: leg(-200, 2) }, 2);
    const out = m.mix(320);
    expect(out.length).toBe(640);
    expect([out[0], out[1], out[638], out[639]]).toEqual([100, -200, 100, -200]);
    expect(m.frames).toBe(320);
  });

  it('sums the legs into one channel with clipping', () => {
    const m = new RecordingMixer({ caller: leg(30000, 1), callee: leg(30000, 1) }, 1);
    const out = m.mix(160);
    expect(out.length).toBe(160);
    expect(out.every((v) => v === 32767)).toBe(true);
    const low = new RecordingMixer({ caller: leg(-30000, 1), callee: leg(-30000, 1) }, 1).mix(160);
    expect(low.every((v) => v === -32768)).toBe(true);
  });

  it('writes silence for a silent leg and for a missing one', () => {
    const silent = new RecordingMixer({ caller: leg(5, 2), callee: new LegTimeline() }, 2).mix(320);
    for (let i = 0; i < 320; i++) expect([silent[2 * i], silent[2 * i + 1]]).toEqual([5, 0]);
    const oneLeg = new RecordingMixer({ callee: leg(7, 1) }, 2).mix(160);
    expect([oneLeg[0], oneLeg[1]]).toEqual([0, 7]);
  });

  it('fills gaps with silence and continues in order across calls', () => {
    const m = new RecordingMixer({ caller: leg(9, 1, 320) }, 1);
    const a = m.mix(200);
    const b = m.mix(640);
    expect(a.every((v) => v === 0)).toBe(true);
    expect([...b.subarray(0, 120)].every((v) => v === 0)).toBe(true);
    expect([...b.subarray(120, 280)].every((v) => v === 9)).toBe(true);
    expect([...b.subarray(280)].every((v) => v === 0)).toBe(true);
    expect(m.position).toBe(640);
  });

  it("writes zeros for a 'silence' pause and marks it", () => {
    const m = new RecordingMixer({ caller: leg(3, 10) }, 1);
    m.pause(480, 'silence');
    m.resume(800);
    const out = m.mix(1600);
    expect(out.length).toBe(1600);
    expect(out.subarray(0, 480).every((v) => v === 3)).toBe(true);
    expect(out.subarray(480, 800).every((v) => v === 0)).toBe(true);
    expect(out.subarray(800).every((v) => v === 3)).toBe(true);
    expect(m.pauses).toEqual([{ mode: 'silence', startSample: 480, endSample: 800, fileFrame: 480 }]);
  });

  it("writes nothing for a 'skip' pause, discards the legs' audio in it, and marks where it sits in the file", () => {
    const caller = new LegTimeline();
    for (let i = 0; i < 10; i++) caller.push({ ssrc: 1, sequenceNumber: i, timestamp: i * 160, samples: new Int16Array(160).fill(i + 1) }, i * 160);
    const m = new RecordingMixer({ caller }, 1);
    const before = m.mix(160);
    m.pause(320, 'skip');
    m.resume(960);
    const out = m.mix(1600);
    expect(before.every((v) => v === 1)).toBe(true);
    // 160..320 (packet 2), then 960..1600 (packets 7..10): 160 + 640 samples.
    expect(out.length).toBe(800);
    expect(out[0]).toBe(2);
    expect(out[160]).toBe(7);
    expect(m.frames).toBe(960);
    expect(m.pauses).toEqual([{ mode: 'skip', startSample: 320, endSample: 960, fileFrame: 320 }]);
  });

  it('ignores a pause while paused and a resume while not paused', () => {
    const m = new RecordingMixer({}, 1);
    m.resume(10);
    m.pause(100, 'skip');
    m.pause(200, 'silence');
    m.resume(300);
    expect(m.pauses).toHaveLength(1);
    expect(m.pauses[0]).toMatchObject({ mode: 'skip', startSample: 100, endSample: 300 });
    expect(m.mix(400).length).toBe(200);
  });

  it('keeps an open pause running until resumed, across several mixes', () => {
    const m = new RecordingMixer({}, 2);
    m.pause(100, 'skip');
    expect(m.mix(300).length).toBe(200);
    expect(m.mix(500).length).toBe(0);
    m.resume(600);
    expect(m.mix(700).length).toBe(200);
  });

  it('does not pause what is already mixed', () => {
    const m = new RecordingMixer({}, 1);
    m.mix(500);
    m.pause(100, 'skip');
    expect(m.pauses[0]!.startSample).toBe(500);
  });
});
