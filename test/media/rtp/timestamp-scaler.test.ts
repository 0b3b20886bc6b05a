import { describe, expect, it } from 'vitest';
import { TimestampScaler } from '../../../media/rtp/timestamp-scaler.ts';

describe('TimestampScaler', () => {
  it('passes 8 kHz timestamps through', () => {
    const s = new TimestampScaler(8000);
    expect(s.toSamples(2 ** 32 - 1)).toBe(2 ** 32 - 1);
    expect(s.toSampleCount(160)).toBe(160);
  });

  it('maps a 48 kHz clock to 8 kHz steps exactly across its 32-bit wrap', () => {
    const s = new TimestampScaler(48000);
    let ts = 2 ** 32 - 960 * 3;
    let previous = s.toSamples(ts);
    for (let i = 0; i < 10; i++) {
      ts = (ts + 960) >>> 0;
      const now = s.toSamples(ts);
      expect(((now - previous) | 0)).toBe(160);
      previous = now;
    }
    expect(s.toSampleCount(960 * 5)).toBe(800);
  });

  it('keeps converting over a day-long call (the reference moves on)', () => {
    const s = new TimestampScaler(48000);
    let ts = 12345;
    let previous = s.toSamples(ts);
    // 24 h in steps of 10 s (480000 ticks): differences stay exact.
    for (let i = 0; i < 8640; i++) {
      ts = (ts + 480_000) >>> 0;
      const now = s.toSamples(ts);
      expect(((now - previous) | 0)).toBe(80_000);
      previous = now;
    }
  });

  it('maps reordered (older) timestamps back consistently', () => {
    const s = new TimestampScaler(48000);
    const a = s.toSamples(1_000_000);
    const b = s.toSamples(1_000_960);
    expect(s.toSamples(1_000_000)).toBe(a);
    expect(((b - a) | 0)).toBe(160);
  });
});
