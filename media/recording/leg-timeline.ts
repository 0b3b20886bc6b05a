/**
 * Places one leg's decoded audio on a recording's timeline (8 kHz samples since the recording
 * started). Pure and synchronous: no clock, no sockets; the caller gives each packet its arrival
 * position and reads the timeline out in order.
 *
 * Placement rule. A source (one SSRC with a continuous sequence) is anchored by its first packet:
 * that packet's first sample goes where the packet arrived (the recording sample index of its
 * arrival). Every later packet of the source goes to anchor + correction + (timestamp − first
 * timestamp), the difference taken as a signed 32-bit value so the timestamp may wrap. So
 * reordered packets land in place, and a gap in the timestamps stays a gap.
 *
 * What is not placed, and counted:
 * - duplicates: a sequence number already seen recently on this source;
 * - late: the packet's whole span is already read out (it arrived after the jitter window);
 *   a packet only partly read out keeps its unread tail (`partlyLate`);
 * - too early: it would land beyond the buffer (`capacitySamples` ahead of the read position);
 * - out of sequence: a sequence number far behind the newest one, unless the next number follows
 *   it (then the sender restarted its numbering: RFC 3550 appendix A.1 probation).
 *
 * A new source on the same leg (re-anchored at its first packet's arrival) starts when the SSRC
 * changes, when the sequence number jumps forward by more than `maxDropout`, when a restart passes
 * probation, or when a newer packet's timestamp agrees neither with its arrival (more than
 * `maxSkewSamples` away) nor with its sequence step (a sender that reset or froze its clock, e.g.
 * across a hold). Silence suppression (timestamps advance with arrival) and a burst after a
 * network stall (timestamps follow the sequence) keep the source.
 *
 * Loss concealment (at read time, when it is final that a packet never came). A span nothing was
 * placed in is concealed only when it is a loss: the packets on either side belong to the same
 * source and sequence numbers are missing between them, and the span is at most
 * `concealMaxGapSamples` long. The previous 20 ms are repeated, the first 20 ms at half amplitude
 * (−6 dB), the next 20 ms fading linearly to zero, the rest silence — a short loss does not click
 * and a repeated vowel is never sustained into a buzz. Everything else stays silence, on purpose:
 * a longer gap (an outage), silence suppression (consecutive sequence numbers with a timestamp
 * jump), hold, an inactive or one-way leg, the time before the first packet — so the recording's
 * length stays the wall-clock length and nothing is invented where the party was not talking.
 *
 * Clock drift. A sender's RTP clock is not the host's: 0.1 % fast or slow is 3.6 s an hour, which
 * would push the leg's audio out of the jitter window (slow: every packet late after ~3 min;
 * fast: too early after ~30 min) and apart from the other leg. The timeline measures, over
 * windows of `driftWindowSamples` (5 s) of arrivals, the 95th percentile of (place − arrival) of
 * in-order packets — the least-delayed packets, so jitter and a burst after a stall do not move
 * it — and when it is more than `driftDeadbandSamples` away from zero schedules a correction of
 * the anchor. The correction is applied in steps of at most `driftMaxStepSamples` (2 ms): at a
 * quiet packet (peak below `driftQuietPeak`) at most every `driftStepIntervalSamples`, or
 * regardless of content when none has come for `driftForceAfterSamples`. A step back overwrites
 * the few samples it overlaps (a slip); a step forward fills the hole it opens by interpolating
 * across it (a stretch). Both are inaudible in a quiet place and a 2 ms tick otherwise.
 */

import type { Timeline } from './timeline.ts';

export interface TimelinePacket {
  ssrc: number;
  sequenceNumber: number;
  /** RTP timestamp in 8 kHz units (a 48 kHz Opus clock is scaled before: see TimestampScaler). */
  timestamp: number;
  /** Decoded 8 kHz mono samples. */
  samples: Int16Array;
}

export interface LegTimelineOptions {
  /** Samples the timeline can hold ahead of its read position. Default 16384 (about 2 s). */
  capacitySamples?: number;
  /** Distance between a newer packet's place and its arrival beyond which its timestamp is suspect. Default 8000 (1 s). */
  maxSkewSamples?: number;
  /** Largest plausible timestamp advance per sequence step. Default 1600 (200 ms). */
  maxSamplesPerSequenceStep?: number;
  /** Forward sequence jump that starts a new source. Default 3000 (RFC 3550 MAX_DROPOUT). */
  maxDropout?: number;
  /** Backward sequence distance still treated as reordering. Default 100 (RFC 3550 MAX_MISORDER). */
  maxMisorder?: number;
  /** Longest loss (span between received packets) that is concealed; longer stays silence. 0 turns concealment off. Default 800 (100 ms). */
  concealMaxGapSamples?: number;
  /** Whether clock drift is corrected. Default true. */
  driftCorrection?: boolean;
  /** Arrival span over which the drift is measured. Default 40000 (5 s). */
  driftWindowSamples?: number;
  /** Measured offset tolerated without correction. Default 80 (10 ms): half a packet, so a call whose clock is right is never touched. */
  driftDeadbandSamples?: number;
  /** Largest single correction step. Default 16 (2 ms). */
  driftMaxStepSamples?: number;
  /** Shortest distance between two steps. Default 800 (100 ms). */
  driftStepIntervalSamples?: number;
  /** Distance after which a step is taken even in a loud packet. Default 4000 (0.5 s). */
  driftForceAfterSamples?: number;
  /** Peak magnitude under which a packet counts as quiet (a place for a step). Default 1024 (−30 dBFS). */
  driftQuietPeak?: number;
}

/** Every option's default (documented on LegTimelineOptions). */
export const LEG_TIMELINE_DEFAULTS: Readonly<Required<LegTimelineOptions>> = Object.freeze({
  capacitySamples: 16384,
  maxSkewSamples: 8000,
  maxSamplesPerSequenceStep: 1600,
  maxDropout: 3000,
  maxMisorder: 100,
  concealMaxGapSamples: 800,
  driftCorrection: true,
  driftWindowSamples: 40000,
  driftDeadbandSamples: 80,
  driftMaxStepSamples: 16,
  driftStepIntervalSamples: 800,
  driftForceAfterSamples: 4000,
  driftQuietPeak: 1024,
});

export type PushOutcome = 'placed' | 'new-source' | 'duplicate' | 'late' | 'too-early' | 'out-of-sequence';

export interface LegTimelineStats {
  received: number;
  /** Packets whose samples (all or some) went on the timeline. */
  placed: number;
  duplicates: number;
  late: number;
  partlyLate: number;
  tooEarly: number;
  outOfSequence: number;
  /** Sources anchored (1 for a steady leg; each SSRC change or jump adds one). */
  sources: number;
  /** Packets expected from the sequence numbers but never received, over all sources. */
  lost: number;
  /** Samples filled by loss concealment (non-zero or not). */
  concealedSamples: number;
  /** Drift correction steps taken, and their total size in samples (absolute). */
  driftSteps: number;
  driftStepSamples: number;
  /** Net correction of the current source's anchor, in samples (negative: its clock runs fast). */
  driftCorrection: number;
}

/** A span of the timeline read out as silence whatever is placed in it (DTMF masking). */
export interface MaskSpan {
  start: number;
  /** Exclusive; Infinity while open. */
  end: number;
}

interface Source {
  ssrc: number;
  /** Sequential number of the source on this leg, to tell sources apart in the packet log. */
  index: number;
  anchor: number;
  firstTimestamp: number;
  /** Newest sequence number, extended with wrap cycles. */
  maxSeq: number;
  maxSeqTimestamp: number;
  baseSeq: number;
  uniqueReceived: number;
  /** Drift correction currently applied to the anchor, and still to apply. */
  correction: number;
  pending: number;
  lastStepAt: number;
  /** Rate estimate: corrections scheduled since the first window ended, and when it ended (-1: not yet). */
  scheduled: number;
  rateSince: number;
  feedForward: number;
  /** End of the newest in-order packet placed (for filling the hole a forward step opens). */
  newestEnd: number;
  /** Measurement window: arrival where it started, offsets seen, and its length. */
  windowStart: number;
  windowLength: number;
  offsets: Float64Array;
  offsetCount: number;
}

const DUP_WINDOW = 1024;
/** Placed packets remembered to tell a loss from silence suppression at read time. */
const LOG_SIZE = 256;
/** Length of the concealment template and of each concealment phase: 20 ms. */
const CONCEAL_PERIOD = 160;
const MAX_OFFSETS = 1024;
/** Time of measurements before the drift rate is trusted for feed-forward: 30 s. */
const RATE_MIN_ELAPSED = 240_000;

function signed32(x: number): number {
  return x | 0;
}

function signed16(x: number): number {
  return (x << 16) >> 16;
}

/** Gain of concealment sample `k` of a loss: half for 20 ms, fading to zero over the next 20 ms. */
function concealGain(k: number): number {
  if (k < CONCEAL_PERIOD) return 0.5;
  if (k < 2 * CONCEAL_PERIOD) return (0.5 * (2 * CONCEAL_PERIOD - k)) / CONCEAL_PERIOD;
  return 0;
}

interface GapCarry {
  conceal: boolean;
  /** Samples of the gap already read out. */
  offset: number;
  template: Int16Array;
}

/** The options given, without the keys set to undefined (which would hide the defaults in a spread). */
export function definedOnly(options: LegTimelineOptions): LegTimelineOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as LegTimelineOptions;
}

export class LegTimeline implements Timeline {
  private readonly ring: Int16Array;
  /** 1 where a packet placed a sample in the ring slot, 0 where nothing did (yet). */
  private readonly filled: Uint8Array;
  private readonly maxSkew: number;
  private readonly maxStep: number;
  private readonly maxDropout: number;
  private readonly maxMisorder: number;
  private readonly concealMaxGap: number;
  private readonly drift: boolean;
  private readonly driftWindow: number;
  private readonly driftDeadband: number;
  private readonly driftMaxStep: number;
  private readonly driftStepInterval: number;
  private readonly driftForceAfter: number;
  private readonly driftQuietPeak: number;
  /** Last sequence number placed in each slot (seq % DUP_WINDOW), -1 when none. */
  private readonly seen = new Int32Array(DUP_WINDOW).fill(-1);
  /** Ring log of placed packets: start, end, extended sequence number, source index. */
  private readonly logStart = new Float64Array(LOG_SIZE);
  private readonly logEnd = new Float64Array(LOG_SIZE).fill(-1);
  private readonly logSeq = new Float64Array(LOG_SIZE);
  private readonly logSource = new Int32Array(LOG_SIZE);
  private logNext = 0;
  /** The last CONCEAL_PERIOD samples read out (the template for a loss starting a read). */
  private readonly history = new Int16Array(CONCEAL_PERIOD);
  private carry: GapCarry | undefined;
  private masks: MaskSpan[] = [];
  private source: Source | undefined;
  /** Sequence number that would confirm a restart (probation), or -1. */
  private probationSeq = -1;
  private readPos = 0;
  /** End of the latest audio placed: a stop keeps packets already received whole. */
  private placedEnd = 0;
  private lostInEndedSources = 0;
  private readonly counters = {
    received: 0,
    placed: 0,
    duplicates: 0,
    late: 0,
    partlyLate: 0,
    tooEarly: 0,
    outOfSequence: 0,
    sources: 0,
    concealedSamples: 0,
    driftSteps: 0,
    driftStepSamples: 0,
  };

  constructor(options: LegTimelineOptions = {}) {
    const o = { ...LEG_TIMELINE_DEFAULTS, ...definedOnly(options) };
    this.ring = new Int16Array(o.capacitySamples);
    this.filled = new Uint8Array(o.capacitySamples);
    this.maxSkew = o.maxSkewSamples;
    this.maxStep = o.maxSamplesPerSequenceStep;
    this.maxDropout = o.maxDropout;
    this.maxMisorder = o.maxMisorder;
    this.concealMaxGap = o.concealMaxGapSamples;
    this.drift = o.driftCorrection;
    this.driftWindow = o.driftWindowSamples;
    this.driftDeadband = o.driftDeadbandSamples;
    this.driftMaxStep = o.driftMaxStepSamples;
    this.driftStepInterval = o.driftStepIntervalSamples;
    this.driftForceAfter = o.driftForceAfterSamples;
    this.driftQuietPeak = o.driftQuietPeak;
  }

  /** The next sample index `read` will return; everything before it is written out. */
  get position(): number {
    return this.readPos;
  }

  /** Sample index just past the latest audio placed on this leg. */
  get audioEnd(): number {
    return this.placedEnd;
  }

  get stats(): LegTimelineStats {
    const s = this.source;
    const lostNow = s ? s.maxSeq - s.baseSeq + 1 - s.uniqueReceived : 0;
    return { ...this.counters, lost: this.lostInEndedSources + Math.max(0, lostNow), driftCorrection: s?.correction ?? 0 };
  }

  /**
   * Where an RTP timestamp (8 kHz units) of the current source lands on the timeline, or
   * undefined when `ssrc` is not the current source (no audio from it yet). Used to place
   * telephone events, which share the audio's SSRC and clock.
   */
  positionOf(ssrc: number, timestamp: number): number | undefined {
    const s = this.source;
    if (!s || s.ssrc !== ssrc >>> 0) return undefined;
    return s.anchor + s.correction + signed32((timestamp >>> 0) - s.firstTimestamp);
  }

  /**
   * Reads [start, end) out as silence whatever is placed there. The span may be changed (its end
   * set) until it is read out; an `end` of Infinity masks everything from `start` on until then.
   */
  addMask(start: number, end = Infinity): MaskSpan {
    const span: MaskSpan = { start: Math.floor(start), end };
    this.masks.push(span);
    return span;
  }

  /**
   * Places a packet that arrived at recording sample `arrivalSample`.
   * Never throws on packet content: every outcome is counted.
   */
  push(packet: TimelinePacket, arrivalSample: number): PushOutcome {
    this.counters.received++;
    const arrival = Math.max(0, Math.floor(arrivalSample));
    const seq = packet.sequenceNumber & 0xffff;
    const ts = packet.timestamp >>> 0;
    const s = this.source;

    if (!s || s.ssrc !== packet.ssrc >>> 0) return this.startSource(packet, arrival);

    const d = signed16(seq - (s.maxSeq & 0xffff));
    let position = s.anchor + s.correction + signed32(ts - s.firstTimestamp);
    if (d > 0) {
      if (d > this.maxDropout) return this.startSource(packet, arrival);
      const tsStep = signed32(ts - s.maxSeqTimestamp);
      const fitsArrival = Math.abs(position - arrival) <= this.maxSkew;
      const fitsSequence = tsStep >= 0 && tsStep <= d * this.maxStep;
      if (!fitsArrival && !fitsSequence) return this.startSource(packet, arrival);
      s.maxSeq += d;
      s.maxSeqTimestamp = ts;
      this.probationSeq = -1;
      if (this.drift) position = this.trackDrift(s, packet.samples, position, arrival);
      return this.place(packet, position, s.maxSeq, true);
    }
    if (d < -this.maxMisorder) {
      if (seq === this.probationSeq) return this.startSource(packet, arrival);
      this.probationSeq = (seq + 1) & 0xffff;
      this.counters.outOfSequence++;
      return 'out-of-sequence';
    }
    if (this.seen[seq % DUP_WINDOW] === seq) {
      this.counters.duplicates++;
      return 'duplicate';
    }
    return this.place(packet, position, s.maxSeq + d, false);
  }

  /**
   * Returns the samples from the read position up to `until` (exclusive) and moves the read
   * position there. Where nothing was placed: concealment for a short loss, silence otherwise
   * (see the class comment). Masked spans read as silence. Packets for that span arriving later
   * are late.
   */
  read(until: number): Int16Array {
    return this.readInto(until, undefined);
  }

  /**
   * As `read`, into `scratch` when it is long enough (the result is then a view of it, valid
   * until the scratch is reused): the mixer reads every leg of every recording four times a
   * second, and a fresh array each time is garbage the collector must chase.
   */
  readInto(until: number, scratch: Int16Array | undefined): Int16Array {
    const n = Math.max(0, Math.floor(until) - this.readPos);
    const cap = this.ring.length;
    const fromRing = Math.min(n, cap);
    // A scratch is overwritten from the ring below; only a read longer than the ring leaves a tail to clear.
    const out = scratch && scratch.length >= n ? scratch.subarray(0, n) : new Int16Array(n);
    if (fromRing < n) out.fill(0, fromRing);
    if (n === 0) return out;
    const start = this.readPos;
    let idx = start % cap;
    let done = 0;
    while (done < fromRing) {
      const run = Math.min(fromRing - done, cap - idx);
      out.set(this.ring.subarray(idx, idx + run), done);
      done += run;
      idx = (idx + run) % cap;
    }
    this.fillGaps(out, start, fromRing);
    // Cleared only now (the gap search looks at the filled flags of this span) so each slot
    // reads as silence when the ring comes round again.
    idx = start % cap;
    done = 0;
    while (done < fromRing) {
      const run = Math.min(fromRing - done, cap - idx);
      this.ring.fill(0, idx, idx + run);
      this.filled.fill(0, idx, idx + run);
      done += run;
      idx = (idx + run) % cap;
    }
    this.applyMasks(out, start);
    this.remember(out);
    this.readPos += n;
    return out;
  }

  // ---- placement -------------------------------------------------------------------------------

  private startSource(packet: TimelinePacket, arrival: number): PushOutcome {
    if (this.source) {
      const s = this.source;
      this.lostInEndedSources += Math.max(0, s.maxSeq - s.baseSeq + 1 - s.uniqueReceived);
    }
    const seq = packet.sequenceNumber & 0xffff;
    this.counters.sources++;
    this.source = {
      ssrc: packet.ssrc >>> 0,
      index: this.counters.sources,
      anchor: arrival,
      firstTimestamp: packet.timestamp >>> 0,
      maxSeq: seq,
      maxSeqTimestamp: packet.timestamp >>> 0,
      baseSeq: seq,
      uniqueReceived: 0,
      correction: 0,
      pending: 0,
      lastStepAt: arrival,
      scheduled: 0,
      rateSince: -1,
      feedForward: 0,
      newestEnd: arrival,
      windowStart: arrival,
      windowLength: this.driftWindow,
      offsets: this.source?.offsets ?? new Float64Array(this.drift ? MAX_OFFSETS : 0),
      offsetCount: 0,
    };
    this.seen.fill(-1);
    this.probationSeq = -1;
    const outcome = this.place(packet, arrival, seq, true);
    return outcome === 'placed' ? 'new-source' : outcome;
  }

  private place(packet: TimelinePacket, position: number, extSeq: number, newest: boolean): PushOutcome {
    const seq = packet.sequenceNumber & 0xffff;
    const samples = packet.samples;
    const end = position + samples.length;
    const s = this.source!;
    // Marked seen whatever happens next, so a retransmitted late packet counts as a duplicate.
    this.seen[seq % DUP_WINDOW] = seq;
    s.uniqueReceived++;
    if (newest) s.newestEnd = end;
    if (end <= this.readPos) {
      this.counters.late++;
      return 'late';
    }
    const cap = this.ring.length;
    if (end > this.readPos + cap) {
      this.counters.tooEarly++;
      return 'too-early';
    }
    let skip = 0;
    if (position < this.readPos) {
      skip = this.readPos - position;
      this.counters.partlyLate++;
    }
    this.write(samples, position + skip, skip);
    const l = this.logNext;
    this.logStart[l] = position;
    this.logEnd[l] = end;
    this.logSeq[l] = extSeq;
    this.logSource[l] = s.index;
    this.logNext = (l + 1) % LOG_SIZE;
    this.counters.placed++;
    if (end > this.placedEnd) this.placedEnd = end;
    return 'placed';
  }

  /** Copies samples[from..] to the ring at timeline position `at`, marking the slots filled. */
  private write(samples: Int16Array, at: number, from: number): void {
    // A plain loop: for a packet's 160 samples, subarray + set + fill cost more in calls than in copying.
    const ring = this.ring;
    const filled = this.filled;
    const cap = ring.length;
    let idx = at % cap;
    for (let i = from; i < samples.length; i++) {
      ring[idx] = samples[i]!;
      filled[idx] = 1;
      if (++idx === cap) idx = 0;
    }
  }

  // ---- drift -----------------------------------------------------------------------------------

  /** Measures the in-order packet's offset, maybe takes a correction step; returns its place. */
  private trackDrift(s: Source, samples: Int16Array, position: number, arrival: number): number {
    if (s.offsetCount < s.offsets.length) s.offsets[s.offsetCount++] = position + s.pending - arrival;
    if (arrival - s.windowStart >= s.windowLength || s.offsetCount === s.offsets.length) {
      const offsets = s.offsets.subarray(0, s.offsetCount).sort();
      const error = offsets[Math.min(offsets.length - 1, Math.floor(offsets.length * 0.95))]!;
      const first = s.rateSince < 0;
      let change = Math.abs(error) > this.driftDeadband ? -Math.round(error) : 0;
      if (first) {
        // The first window only aligns the anchor (the first packet's own delay): not drift.
        s.rateSince = arrival;
      } else {
        // Feed-forward: the correction a window needs at the rate measured so far (everything
        // scheduled since the first window over the time since), so a steady drift is taken up
        // as it happens instead of after it has built up past the deadband.
        const elapsed = arrival - s.rateSince;
        if (elapsed >= RATE_MIN_ELAPSED) {
          s.feedForward += (s.scheduled / elapsed) * (arrival - s.windowStart);
          const whole = Math.trunc(s.feedForward);
          s.feedForward -= whole;
          change += whole;
        }
        s.scheduled += change;
      }
      s.pending += change;
      s.windowStart = arrival;
      s.windowLength = this.driftWindow;
      s.offsetCount = 0;
    }
    if (s.pending === 0) return position;
    const since = position - s.lastStepAt;
    if (since < this.driftStepInterval) return position;
    if (since < this.driftForceAfter && !this.quiet(samples)) return position;
    const step = Math.max(-this.driftMaxStep, Math.min(this.driftMaxStep, s.pending));
    const previousEnd = s.newestEnd;
    s.pending -= step;
    s.correction += step;
    s.lastStepAt = position + step;
    this.counters.driftSteps++;
    this.counters.driftStepSamples += Math.abs(step);
    const placed = position + step;
    if (step > 0 && previousEnd === position) this.stretch(previousEnd, placed, samples[0] ?? 0);
    return placed;
  }

  private quiet(samples: Int16Array): boolean {
    const limit = this.driftQuietPeak;
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i]!;
      if (v >= limit || v <= -limit) return false;
    }
    return true;
  }

  /** Fills [from, to) — the hole a forward step opened — by interpolating across it. */
  private stretch(from: number, to: number, next: number): void {
    const cap = this.ring.length;
    if (from <= this.readPos || to > this.readPos + cap) return;
    const previous = this.filled[(from - 1) % cap] ? this.ring[(from - 1) % cap]! : 0;
    const n = to - from;
    const fill = new Int16Array(n);
    for (let i = 0; i < n; i++) fill[i] = Math.round(previous + ((next - previous) * (i + 1)) / (n + 1));
    this.write(fill, from, 0);
  }

  // ---- read-time gap handling ------------------------------------------------------------------

  /** Conceals the losses among the unfilled runs of out[0, fromRing) (timeline `start` on). */
  private fillGaps(out: Int16Array, start: number, fromRing: number): void {
    const until = start + out.length;
    let i = 0;
    while (i < fromRing) {
      const a = this.nextWithFlag(start + i, start + fromRing, 0);
      if (a === undefined) break;
      const b = this.nextWithFlag(a, start + fromRing, 1) ?? until;
      this.fillRun(out, start, a, b, until);
      i = b - start;
    }
    if (fromRing < out.length) {
      // A read longer than the ring: the rest was never placed. Silence; a loss cannot span it.
      this.carry = { conceal: false, offset: 0, template: this.history };
    } else if (this.filledAt(until - 1)) {
      this.carry = undefined;
    }
  }

  private fillRun(out: Int16Array, start: number, a: number, b: number, until: number): void {
    let gap: GapCarry;
    if (a === start && this.carry) {
      gap = this.carry;
    } else {
      const template = this.templateBefore(out, start, a);
      gap = { conceal: this.concealMaxGap > 0 && this.isLoss(a, b, until), offset: 0, template };
    }
    const { template } = gap;
    if (gap.conceal && template.length > 0) {
      for (let p = a; p < b; p++) {
        const k = gap.offset + (p - a);
        if (k >= 2 * CONCEAL_PERIOD) break;
        out[p - start] = Math.round(template[k % template.length]! * concealGain(k));
        this.counters.concealedSamples++;
      }
    }
    gap.offset += b - a;
    this.carry = b === until ? gap : undefined;
  }

  /** Whether the unfilled run starting at `a` is a loss (see the class comment). */
  private isLoss(a: number, b: number, until: number): boolean {
    let right = b;
    if (b === until) {
      // The run reaches the end of this read: look ahead for where the audio resumes.
      const found = this.nextWithFlag(until, Math.min(this.readPos + this.ring.length, a + this.concealMaxGap + 1), 1);
      if (found === undefined) return false;
      right = found;
    }
    if (right - a > this.concealMaxGap) return false;
    const left = this.logIndex(this.logEnd, a);
    const next = this.logIndex(this.logStart, right);
    if (left < 0 || next < 0 || this.logSource[left] !== this.logSource[next]) return false;
    return this.logSeq[next]! - this.logSeq[left]! > 1;
  }

  /** Newest log entry whose `field` equals `value`, or -1. */
  private logIndex(field: Float64Array, value: number): number {
    for (let k = 1; k <= LOG_SIZE; k++) {
      const i = (this.logNext - k + LOG_SIZE) % LOG_SIZE;
      if (field[i] === value && this.logEnd[i]! >= 0) return i;
    }
    return -1;
  }

  /** Up to CONCEAL_PERIOD samples before timeline position `a`, from this read and the last ones. */
  private templateBefore(out: Int16Array, start: number, a: number): Int16Array {
    const inOut = a - start;
    if (inOut >= CONCEAL_PERIOD) return out.slice(inOut - CONCEAL_PERIOD, inOut);
    const t = new Int16Array(CONCEAL_PERIOD);
    t.set(this.history.subarray(inOut), 0);
    t.set(out.subarray(0, inOut), CONCEAL_PERIOD - inOut);
    return t;
  }

  /** First timeline position in [from, to) whose filled flag is `flag`, or undefined. */
  private nextWithFlag(from: number, to: number, flag: 0 | 1): number | undefined {
    const cap = this.ring.length;
    let pos = from;
    while (pos < to) {
      const idx = pos % cap;
      const stop = Math.min(cap, idx + (to - pos));
      const hit = this.filled.subarray(idx, stop).indexOf(flag);
      if (hit >= 0) return pos + hit;
      pos += stop - idx;
    }
    return undefined;
  }

  private filledAt(pos: number): boolean {
    return this.filled[pos % this.ring.length] === 1;
  }

  private applyMasks(out: Int16Array, start: number): void {
    if (this.masks.length === 0) return;
    const end = start + out.length;
    for (const m of this.masks) {
      const from = Math.max(m.start, start);
      const to = Math.min(m.end, end);
      if (to > from) out.fill(0, from - start, to - start);
    }
    this.masks = this.masks.filter((m) => m.end > end);
  }

  private remember(out: Int16Array): void {
    const n = out.length;
    if (n >= CONCEAL_PERIOD) {
      this.history.set(out.subarray(n - CONCEAL_PERIOD));
    } else {
      this.history.copyWithin(0, n);
      this.history.set(out, CONCEAL_PERIOD - n);
    }
  }
}
