/**
 * What a recording needs of one leg's timeline: place packets, read the audio out in order, mask
 * spans, find where a timestamp lands, and count. Two implementations follow the same rules
 * (media/recording/leg-timeline.ts, where the rules are written down): LegTimeline in TypeScript,
 * and NativeLegTimeline, which the native socket set fills as it receives (no JavaScript per
 * packet); test/media/recording/leg-timeline-parity.test.ts holds them to the same output.
 */
import type { LegTimelineStats, MaskSpan, PushOutcome, TimelinePacket } from './leg-timeline.ts';

export interface Timeline {
  /** The next sample index `read` will return; everything before it is written out. */
  readonly position: number;
  /** Sample index just past the latest audio placed on this leg. */
  readonly audioEnd: number;
  readonly stats: LegTimelineStats;
  /** Places a packet that arrived at recording sample `arrivalSample`. Never throws on packet content. */
  push(packet: TimelinePacket, arrivalSample: number): PushOutcome;
  /** The samples from the read position up to `until` (exclusive); moves the read position there. */
  read(until: number): Int16Array;
  /** As `read`, into `scratch` when it is long enough (the result is then a view of it). */
  readInto(until: number, scratch: Int16Array | undefined): Int16Array;
  /** Reads [start, end) out as silence; `end` may be changed until it is read out. */
  addMask(start: number, end?: number): MaskSpan;
  /** Where an RTP timestamp (8 kHz units) of the current source lands, or undefined for another SSRC. */
  positionOf(ssrc: number, timestamp: number): number | undefined;
  /** Releases what the timeline holds outside the JavaScript heap; reads and pushes after it are refused. Idempotent. */
  close?(): void;
}
