/**
 * Clock drift over long calls, simulated: the pure LegTimeline is fed synthetic packets with the
 * send times of a sender whose clock runs fast or slow against the host's, and arrival times with
 * network delay and jitter, and read out every 100 ms 200 ms behind "now" as the recording does.
 */
import { describe, expect, it } from 'vitest';
import type { LegTimelineOptions } from '../../../media/recording/leg-timeline.ts';
import type { Timeline } from '../../../media/recording/timeline.ts';
import { seededRandom as rng } from '../../helpers/seeded-random.ts';
import { timelineImplementations } from '../../helpers/timelines.ts';

const RATE = 8000;

interface LegSpec {
  /** Sender clock rate relative to the host's: 1.001 is 0.1 % fast. */
  clock: number;
  ssrc: number;
  seed: number;
  baseDelayMs: number;
  jitterMs: number;
  /** Extra delay for packet k (a stall), in ms. */
  stall?: (k: number) => number;
}

interface LegRun {
  timeline: Timeline;
  /** Largest |landing − (send + base delay)| in samples, after `settleS` and over the whole run. */
  worstAfterSettle: number;
  worstOverall: number;
  /** Landing − ideal of each second's first packet (for comparing the legs). */
  errorBySecond: Map<number, number>;
  samplesRead: number;
  contentChecked: number;
}

/** Simulates `seconds` of one leg; checks every 997th packet's audio where it landed. */
function simulate(
  create: (options?: LegTimelineOptions) => Timeline,
  seconds: number,
  spec: LegSpec,
  options: LegTimelineOptions = {},
  settleS = 10,
): LegRun {
  const random = rng(spec.seed);
  const timeline = create(options);
  const count = Math.floor((seconds - 0.5) * 50 * spec.clock);
  const sendS = new Float64Array(count);
  const arrivalS = new Float64Array(count);
  const order = new Uint32Array(count);
  for (let k = 0; k < count; k++) {
    sendS[k] = 0.1 + (k * 0.02) / spec.clock;
    arrivalS[k] = sendS[k]! + (spec.baseDelayMs + random() * spec.jitterMs + (spec.stall?.(k) ?? 0)) / 1000;
    order[k] = k;
  }
  order.sort((a, b) => arrivalS[a]! - arrivalS[b]!);
  const checks = new Map<number, number>();
  const errorBySecond = new Map<number, number>();
  let worstAfterSettle = 0;
  let worstOverall = 0;
  let next = 0;
  let samplesRead = 0;
  let contentChecked = 0;
  for (let tick = 0.1; tick <= seconds + 1e-9; tick += 0.1) {
    while (next < count && arrivalS[order[next]!]! < tick) {
      const k = order[next++]!;
      const ts = (123_456 + 160 * k) >>> 0;
      // Sample values carry the packet number, so where the audio landed can be checked.
      const value = (k % 30000) + 1;
      timeline.push({ ssrc: spec.ssrc, sequenceNumber: (500 + k) & 0xffff, timestamp: ts, samples: new Int16Array(160).fill(value) }, arrivalS[k]! * RATE);
      const landing = timeline.positionOf(spec.ssrc, ts)!;
      const error = landing - (sendS[k]! + spec.baseDelayMs / 1000) * RATE;
      worstOverall = Math.max(worstOverall, Math.abs(error));
      if (sendS[k]! > settleS) worstAfterSettle = Math.max(worstAfterSettle, Math.abs(error));
      if (k % 50 === 0) errorBySecond.set(Math.round(sendS[k]!), error);
      if (k % 997 === 0) checks.set(Math.round(landing) + 80, value);
    }
    const until = Math.round(Math.min(seconds, tick - 0.2) * RATE);
    if (until <= timeline.position) continue;
    const from = timeline.position;
    const out = timeline.read(until);
    samplesRead += out.length;
    for (const [at, value] of checks) {
      if (at >= from && at < until) {
        expect(out[at - from]).toBe(value);
        contentChecked++;
        checks.delete(at);
      }
    }
  }
  const rest = timeline.read(seconds * RATE);
  samplesRead += rest.length;
  return { timeline, worstAfterSettle, worstOverall, errorBySecond, samplesRead, contentChecked };
}

describe.each(timelineImplementations)('LegTimeline clock drift correction: $name', ({ create }) => {
  it('keeps two legs drifting 0.1 % each way within one packet of wall-clock alignment over a simulated hour', () => {
    const hour = 3600;
    const fast = simulate(create, hour, { clock: 1.001, ssrc: 1, seed: 7, baseDelayMs: 20, jitterMs: 40 });
    const slow = simulate(create, hour, { clock: 0.999, ssrc: 2, seed: 8, baseDelayMs: 35, jitterMs: 60 });
    for (const leg of [fast, slow]) {
      // Every packet's audio within one 20 ms packet of when it was spoken (plus the path's delay).
      expect(leg.worstAfterSettle).toBeLessThanOrEqual(160);
      expect(leg.worstOverall).toBeLessThanOrEqual(2 * 160 + 8 * 60);
      // The recording is exactly as long as the wall-clock hour, and nothing was lost on the way.
      expect(leg.samplesRead).toBe(hour * RATE);
      expect(leg.timeline.stats).toMatchObject({ late: 0, partlyLate: 0, tooEarly: 0, lost: 0, sources: 1 });
      expect(leg.contentChecked).toBeGreaterThan(150);
    }
    // 3.6 s each way were taken up by small steps.
    expect(fast.timeline.stats.driftCorrection).toBeLessThan(-0.99 * 3.6 * RATE);
    expect(slow.timeline.stats.driftCorrection).toBeGreaterThan(0.99 * 3.6 * RATE);
    expect(fast.timeline.stats.driftStepSamples).toBeLessThan(1.05 * 3.6 * RATE + 2000);
    // The two channels stay aligned with each other: what was said at the same moment lines up.
    let worstBetween = 0;
    for (const [second, error] of fast.errorBySecond) {
      const other = slow.errorBySecond.get(second);
      // After the first minute (the rate estimate needs 30 s of measurements to take over).
      if (second > 60 && other !== undefined) worstBetween = Math.max(worstBetween, Math.abs(error - other));
    }
    expect(worstBetween).toBeLessThanOrEqual(160);
  });

  it('without correction, the same slow clock loses its audio as late within minutes', () => {
    const run = simulate(create, 600, { clock: 0.999, ssrc: 2, seed: 8, baseDelayMs: 35, jitterMs: 60 }, { driftCorrection: false });
    expect(run.timeline.stats.late).toBeGreaterThan(1000);
    expect(run.worstOverall).toBeGreaterThan(1600);
  });

  it('leaves a leg with an accurate clock alone, however much it jitters', () => {
    const run = simulate(create, 600, { clock: 1, ssrc: 3, seed: 9, baseDelayMs: 10, jitterMs: 150 });
    // The only correction is the first packet's own delay (it anchored the leg where it
    // arrived, up to 150 ms late): taken once, then no hunting back and forth on jitter.
    const { driftCorrection, driftStepSamples } = run.timeline.stats;
    expect(Math.abs(driftCorrection)).toBeLessThanOrEqual(8 * 150);
    // Jitter of up to 150 ms makes the measurement noisy: a few small steps back and forth in
    // quiet places, far fewer than 0.1 % of drift needs (4800 samples in these 10 minutes).
    expect(driftStepSamples - Math.abs(driftCorrection)).toBeLessThanOrEqual(1200);
    expect(run.worstAfterSettle).toBeLessThanOrEqual(160);
    expect(run.timeline.stats.late).toBe(0);
  });

  it('does not take a network stall and its burst for drift', () => {
    // At 60 s the network stalls for 150 ms: 8 packets arrive together afterwards.
    const stall = (k: number) => (k >= 3000 && k < 3008 ? 150 - (k - 3000) * 20 : 0);
    const run = simulate(create, 120, { clock: 1, ssrc: 4, seed: 10, baseDelayMs: 10, jitterMs: 5, stall });
    expect(Math.abs(run.timeline.stats.driftCorrection)).toBeLessThanOrEqual(24);
    expect(run.timeline.stats).toMatchObject({ late: 0, lost: 0 });
  });
});
