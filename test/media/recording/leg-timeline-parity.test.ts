/**
 * The native leg timeline (media/native/leg_timeline.c) against the TypeScript one: the same
 * random streams — reordering, loss, duplicates, SSRC changes, sequence and timestamp jumps,
 * clock drift, stalls, masks, reads of every length — must give the same samples, the same push
 * outcomes and the same counters. The native socket set records G.711 and L16 legs on the C
 * timeline and everything else on the TypeScript one, so any difference would make a
 * recording depend on the transport.
 */
import { describe, expect, it } from 'vitest';
import { LegTimeline, type LegTimelineOptions } from '../../../media/recording/leg-timeline.ts';
import { seededRandom as rng } from '../../helpers/seeded-random.ts';
import { nativeTimeline } from '../../helpers/timelines.ts';

interface Scenario {
  seed: number;
  packets: number;
  options: LegTimelineOptions;
  /** No source changes or jumps: one source long enough for the drift rate's feed-forward (30 s). */
  calm?: boolean;
}

/** Counters summed over every stream compared: the streams must reach every rule. */
const reached: Record<string, number> = {};

/** Runs one random stream through both timelines; answers where they first differ, or undefined. */
function compare({ seed, packets, options, calm = false }: Scenario): string | undefined {
  const random = rng(seed);
  const ts = new LegTimeline(options);
  const c = nativeTimeline(options);
  const int = (n: number) => Math.floor(random() * n);
  let ssrc = int(2 ** 32);
  let seq = int(65536);
  let timestamp = int(2 ** 32);
  const clock = 1 + (random() - 0.5) * 0.004; // up to ±0.2 % drift
  const ptime = [80, 160, 160, 160, 240, 480][int(6)]!;
  let sendAt = int(4000);
  let readAt = 0;
  const delayed: { at: number; seq: number; ts: number; ssrc: number; samples: Int16Array }[] = [];
  const loud = random() < 0.5;
  for (let k = 0; k < packets; k++) {
    // The sender: mostly steady; sometimes a new SSRC, a sequence or timestamp jump, a silence gap.
    const event = calm ? 1 : random();
    if (event < 0.002) ssrc = int(2 ** 32);
    else if (event < 0.004) seq = (seq + 3000 + int(20000)) & 0xffff;
    else if (event < 0.006) timestamp = (timestamp + int(2 ** 32)) >>> 0;
    else if (event < 0.008) seq = (seq - 200 - int(1000)) & 0xffff; // a restart further back
    else if (event < 0.02) timestamp = (timestamp + ptime * (1 + int(30))) >>> 0; // silence suppression
    const samples = new Int16Array(random() < 0.01 ? int(3) : ptime);
    const amplitude = loud ? 12000 : random() < 0.5 ? 200 : 3000;
    for (let i = 0; i < samples.length; i++) samples[i] = Math.round(Math.sin((k * samples.length + i) / 7) * amplitude + (random() - 0.5) * 50);
    // The network: jitter, stalls, loss, duplicates.
    const jitter = random() < 0.05 ? int(2400) : int(400);
    const stall = !calm && random() < 0.003 ? 4000 + int(8000) : 0;
    if (random() > 0.03) delayed.push({ at: sendAt + jitter + stall, seq, ts: timestamp, ssrc, samples });
    if (random() < 0.02) delayed.push({ at: sendAt + jitter + int(800), seq, ts: timestamp, ssrc, samples });
    seq = (seq + 1) & 0xffff;
    timestamp = (timestamp + ptime) >>> 0;
    sendAt += Math.round(ptime / clock);
    // Deliver what has arrived, in arrival order, with reads in between (as the write timer would).
    delayed.sort((a, b) => a.at - b.at);
    while (delayed.length > 0 && delayed[0]!.at <= sendAt) {
      const p = delayed.shift()!;
      const arrival = p.at + random(); // fractional, as (arrivalMs − t0) × 8 is
      const packet = { ssrc: p.ssrc, sequenceNumber: p.seq, timestamp: p.ts, samples: p.samples };
      const a = ts.push(packet, arrival);
      const b = c.push(packet, arrival);
      if (a !== b) return `packet ${k} (seq ${p.seq}): ${a} vs ${b}`;
      if (random() < 0.01) {
        const position = ts.positionOf(p.ssrc, p.ts);
        if (position !== c.positionOf(p.ssrc, p.ts)) return `positionOf after packet ${k}`;
      }
    }
    if (random() < 0.004) {
      const start = readAt + int(4000);
      const end = random() < 0.3 ? Infinity : start + int(3000);
      ts.addMask(start, end);
      c.addMask(start, end);
    }
    if (sendAt - 1600 > readAt && random() < 0.2) {
      // Reads of every length: short ones, a tick's, and now and then more than the ring holds.
      const until = random() < 0.01 ? readAt + (options.capacitySamples ?? 16384) + int(4000) : sendAt - 1600 + random() * 10;
      const scratch = new Int16Array(Math.max(0, Math.floor(until) - readAt) + int(3)).fill(-7);
      const x = ts.readInto(until, random() < 0.5 ? scratch.slice() : undefined);
      const y = c.readInto(until, random() < 0.5 ? scratch : undefined);
      readAt = Math.max(readAt, Math.floor(until));
      if (x.length !== y.length) return `read to ${until}: ${x.length} vs ${y.length} samples`;
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return `read to ${until}: sample ${i} is ${x[i]} vs ${y[i]}`;
    }
  }
  const x = ts.read(sendAt + 2000);
  const y = c.read(sendAt + 2000);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return `final read: sample ${i} is ${x[i]} vs ${y[i]}`;
  expect(c.stats).toEqual(ts.stats);
  for (const [key, value] of Object.entries(ts.stats)) reached[key] = (reached[key] ?? 0) + Math.abs(value);
  expect([c.position, c.audioEnd]).toEqual([ts.position, ts.audioEnd]);
  c.close?.();
  return undefined;
}

describe('native leg timeline against the TypeScript one', () => {
  it('gives the same samples, outcomes and counters for 120 random streams with the default options', () => {
    for (let seed = 1; seed <= 120; seed++) expect(compare({ seed, packets: 1500, options: {} }), `seed ${seed}`).toBeUndefined();
  });

  it('does so with small rings, short drift windows and concealment off or long', () => {
    for (let seed = 1000; seed < 1080; seed++) {
      const random = rng(seed);
      const options: LegTimelineOptions = {
        capacitySamples: [480, 1600, 4096, 16384][Math.floor(random() * 4)]!,
        concealMaxGapSamples: [0, 160, 800, 2400][Math.floor(random() * 4)]!,
        driftCorrection: random() < 0.8,
        driftWindowSamples: [4000, 8000, 40000][Math.floor(random() * 3)]!,
        driftDeadbandSamples: [0, 20, 80][Math.floor(random() * 3)]!,
        driftMaxStepSamples: [1, 16, 64][Math.floor(random() * 3)]!,
        driftStepIntervalSamples: [0, 160, 800][Math.floor(random() * 3)]!,
        driftForceAfterSamples: [800, 4000][Math.floor(random() * 2)]!,
        maxMisorder: [20, 100][Math.floor(random() * 2)]!,
        maxDropout: [500, 3000][Math.floor(random() * 2)]!,
      };
      expect(compare({ seed, packets: 1500, options }), `seed ${seed} ${JSON.stringify(options)}`).toBeUndefined();
    }
  });

  it('reached every rule in those streams (each counter of the timeline moved)', () => {
    for (const key of ['duplicates', 'late', 'partlyLate', 'tooEarly', 'outOfSequence', 'lost', 'concealedSamples', 'driftSteps', 'driftCorrection']) {
      expect(reached[key], key).toBeGreaterThan(0);
    }
    expect(reached.sources).toBeGreaterThan(2 * 200);
  });

  it('does so over streams long enough for the drift rate to take over (over 30 s)', () => {
    for (let seed = 5000; seed < 5006; seed++) {
      expect(compare({ seed, packets: 6000, options: { driftWindowSamples: 8000 }, calm: true }), `seed ${seed}`).toBeUndefined();
    }
  });
});
