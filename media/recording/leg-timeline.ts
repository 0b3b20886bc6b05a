/**
 * Places one leg's decoded audio on a recording's timeline (8 kHz samples since the recording
 * started). Pure and synchronous: no clock, no sockets; the caller gives each packet its arrival
 * position and reads the timeline out in order.
 *
 * Placement rule. A source (one SSRC with a continuous sequence) is anchored by its first packet:
 * that packet's first sample goes where the packet arrived (the recording sample index of its
 * arrival). Every later packet of the source goes to anchor + (timestamp − first timestamp), the
 * difference taken as a signed 32-bit value so the timestamp may wrap. So reordered packets land
 * in place, and a gap in the timestamps stays a gap (read out as silence).
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
 */

export interface TimelinePacket {
  ssrc: number;
  sequenceNumber: number;
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
}

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
}

interface Source {
  ssrc: number;
  anchor: number;
  firstTimestamp: number;
  /** Newest sequence number, extended with wrap cycles. */
  maxSeq: number;
  maxSeqTimestamp: number;
  baseSeq: number;
  uniqueReceived: number;
}

const DUP_WINDOW = 1024;

function signed32(x: number): number {
  return x | 0;
}

function signed16(x: number): number {
  return (x << 16) >> 16;
}

export class LegTimeline {
  private readonly ring: Int16Array;
  private readonly maxSkew: number;
  private readonly maxStep: number;
  private readonly maxDropout: number;
  private readonly maxMisorder: number;
  /** Last sequence number placed in each slot (seq % DUP_WINDOW), -1 when none. */
  private readonly seen = new Int32Array(DUP_WINDOW).fill(-1);
  private source: Source | undefined;
  /** Sequence number that would confirm a restart (probation), or -1. */
  private probationSeq = -1;
  private readPos = 0;
  /** End of the latest audio placed: a stop keeps packets already received whole. */
  private placedEnd = 0;
  private lostInEndedSources = 0;
  private readonly counters = { received: 0, placed: 0, duplicates: 0, late: 0, partlyLate: 0, tooEarly: 0, outOfSequence: 0, sources: 0 };

  constructor(options: LegTimelineOptions = {}) {
    this.ring = new Int16Array(options.capacitySamples ?? 16384);
    this.maxSkew = options.maxSkewSamples ?? 8000;
    this.maxStep = options.maxSamplesPerSequenceStep ?? 1600;
    this.maxDropout = options.maxDropout ?? 3000;
    this.maxMisorder = options.maxMisorder ?? 100;
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
    return { ...this.counters, lost: this.lostInEndedSources + Math.max(0, lostNow) };
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
    const position = s.anchor + signed32(ts - s.firstTimestamp);
    if (d > 0) {
      if (d > this.maxDropout) return this.startSource(packet, arrival);
      const tsStep = signed32(ts - s.maxSeqTimestamp);
      const fitsArrival = Math.abs(position - arrival) <= this.maxSkew;
      const fitsSequence = tsStep >= 0 && tsStep <= d * this.maxStep;
      if (!fitsArrival && !fitsSequence) return this.startSource(packet, arrival);
      s.maxSeq += d;
      s.maxSeqTimestamp = ts;
      this.probationSeq = -1;
    } else if (d < -this.maxMisorder) {
      if (seq === this.probationSeq) return this.startSource(packet, arrival);
      this.probationSeq = (seq + 1) & 0xffff;
      this.counters.outOfSequence++;
      return 'out-of-sequence';
    } else if (this.seen[seq % DUP_WINDOW] === seq) {
      this.counters.duplicates++;
      return 'duplicate';
    }
    return this.place(packet, position);
  }

  /**
   * Returns the samples from the read position up to `until` (exclusive), silence where nothing
   * was placed, and moves the read position there. Packets for that span arriving later are late.
   */
  read(until: number): Int16Array {
    const n = Math.max(0, Math.floor(until) - this.readPos);
    const out = new Int16Array(n);
    const cap = this.ring.length;
    const fromRing = Math.min(n, cap);
    let idx = this.readPos % cap;
    let done = 0;
    while (done < fromRing) {
      const run = Math.min(fromRing - done, cap - idx);
      out.set(this.ring.subarray(idx, idx + run), done);
      // Cleared so the slot reads as silence when the ring comes round again.
      this.ring.fill(0, idx, idx + run);
      done += run;
      idx = (idx + run) % cap;
    }
    this.readPos += n;
    return out;
  }

  private startSource(packet: TimelinePacket, arrival: number): PushOutcome {
    if (this.source) {
      const s = this.source;
      this.lostInEndedSources += Math.max(0, s.maxSeq - s.baseSeq + 1 - s.uniqueReceived);
    }
    const seq = packet.sequenceNumber & 0xffff;
    this.source = {
      ssrc: packet.ssrc >>> 0,
      anchor: arrival,
      firstTimestamp: packet.timestamp >>> 0,
      maxSeq: seq,
      maxSeqTimestamp: packet.timestamp >>> 0,
      baseSeq: seq,
      uniqueReceived: 0,
    };
    this.seen.fill(-1);
    this.probationSeq = -1;
    this.counters.sources++;
    const outcome = this.place(packet, arrival);
    return outcome === 'placed' ? 'new-source' : outcome;
  }

  private place(packet: TimelinePacket, position: number): PushOutcome {
    const seq = packet.sequenceNumber & 0xffff;
    const samples = packet.samples;
    const end = position + samples.length;
    // Marked seen whatever happens next, so a retransmitted late packet counts as a duplicate.
    this.seen[seq % DUP_WINDOW] = seq;
    this.source!.uniqueReceived++;
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
    let idx = (position + skip) % cap;
    let i = skip;
    while (i < samples.length) {
      const run = Math.min(samples.length - i, cap - idx);
      this.ring.set(samples.subarray(i, i + run), idx);
      i += run;
      idx = (idx + run) % cap;
    }
    this.counters.placed++;
    if (end > this.placedEnd) this.placedEnd = end;
    return 'placed';
  }
}
