/**
 * DTMF of a recording: the RFC 4733 telephone events of each leg, kept as metadata on the
 * recording's timeline ({leg, digit, atMs, durationMs}) and, when asked, masked out of the audio
 * (read as silence over the event's span, so a card number keyed in is not in the file).
 * Pure and synchronous, like the timelines it writes masks into.
 *
 * An event is the packets of one SSRC with the same RTP timestamp: the first one opens it (its
 * start is where that timestamp lands on the leg's timeline, or, before any audio of that SSRC,
 * its arrival minus the duration it already reports), later ones extend its duration, the E bit
 * ends it; the end packet's retransmissions (RFC 4733 §2.5.1.4 sends it three times) and late
 * updates change nothing. An event whose end packets are all lost ends at its last known
 * duration, when the next event of the leg starts or when the recording stops.
 *
 * Masking starts with the first packet; until the end is known the mask runs `maskGuardSamples`
 * past the duration reported so far (updates come every 50 ms, well within it), so a lost end
 * never mutes the rest of the call.
 */
import type { LegRole } from '../control-api.ts';
import { dtmfDigit, type TelephoneEvent } from '../rtp/telephone-event.ts';
import type { MaskSpan } from './leg-timeline.ts';
import type { Timeline } from './timeline.ts';

export interface DtmfEntry {
  leg: LegRole;
  digit: string;
  atMs: number;
  durationMs: number;
}

export interface DtmfCollectorOptions {
  /** The recording's timelines, for placing events (and masking). */
  timelines: ReadonlyMap<LegRole, Timeline>;
  /** Read the events' spans out of the audio as silence. Default false. */
  mask?: boolean;
  /** How far a mask runs past the duration known so far while the event has not ended. Default 800 (100 ms). */
  maskGuardSamples?: number;
}

/** The part of a telephone-event packet the collector uses, in 8 kHz units. */
export interface TelephoneEventPacket {
  ssrc: number;
  /** RTP timestamp in 8 kHz units (scaled from the leg's clock when it is not 8 kHz). */
  timestamp: number;
  /** The parsed payload, its duration in 8 kHz samples. */
  event: TelephoneEvent;
}

export type DtmfPushOutcome = 'started' | 'updated' | 'ended' | 'repeated' | 'not-dtmf';

interface OpenEvent {
  leg: LegRole;
  ssrc: number;
  timestamp: number;
  digit: string;
  start: number;
  duration: number;
  ended: boolean;
  mask: MaskSpan | undefined;
}

const SAMPLES_PER_MS = 8;
/** Recent (ssrc, timestamp) keys per leg, so a retransmitted end after the next event starts is ignored. */
const RECENT_KEYS = 8;

export class DtmfCollector {
  private readonly timelines: ReadonlyMap<LegRole, Timeline>;
  private readonly mask: boolean;
  private readonly guard: number;
  private readonly events: OpenEvent[] = [];
  private readonly current = new Map<LegRole, OpenEvent>();
  private readonly recent = new Map<LegRole, string[]>();

  constructor(options: DtmfCollectorOptions) {
    this.timelines = options.timelines;
    this.mask = options.mask ?? false;
    this.guard = options.maskGuardSamples ?? 800;
  }

  /** Takes one telephone-event packet of `leg` that arrived at recording sample `arrivalSample`. */
  push(leg: LegRole, packet: TelephoneEventPacket, arrivalSample: number): DtmfPushOutcome {
    const digit = dtmfDigit(packet.event.event);
    if (digit === undefined) return 'not-dtmf';
    const ssrc = packet.ssrc >>> 0;
    const timestamp = packet.timestamp >>> 0;
    const duration = Math.max(0, packet.event.duration);
    const open = this.current.get(leg);
    if (open && open.ssrc === ssrc && open.timestamp === timestamp) {
      if (open.ended) return 'repeated';
      if (duration > open.duration) open.duration = duration;
      if (packet.event.end) open.ended = true;
      this.updateMask(open);
      return open.ended ? 'ended' : 'updated';
    }
    const key = `${ssrc}:${timestamp}`;
    const recent = this.recent.get(leg) ?? [];
    if (recent.includes(key)) return 'repeated';
    if (open && !open.ended) {
      // Its end packets never came: it ended at the last duration it reported.
      open.ended = true;
      this.updateMask(open);
    }
    const timeline = this.timelines.get(leg);
    const start = timeline?.positionOf(ssrc, timestamp) ?? Math.max(0, Math.floor(arrivalSample) - duration);
    const event: OpenEvent = { leg, ssrc, timestamp, digit, start, duration, ended: packet.event.end, mask: undefined };
    if (this.mask && timeline) event.mask = timeline.addMask(start, this.maskEnd(event));
    this.events.push(event);
    this.current.set(leg, event);
    recent.push(key);
    if (recent.length > RECENT_KEYS) recent.shift();
    this.recent.set(leg, recent);
    return event.ended ? 'ended' : 'started';
  }

  /** The events so far, in timeline order; those still open end at their last known duration, at most at `endSample`. */
  results(endSample = Infinity): DtmfEntry[] {
    return this.events
      .filter((e) => e.start < endSample)
      .sort((a, b) => a.start - b.start)
      .map((e) => ({
        leg: e.leg,
        digit: e.digit,
        atMs: e.start / SAMPLES_PER_MS,
        durationMs: Math.min(e.duration, endSample - e.start) / SAMPLES_PER_MS,
      }));
  }

  private maskEnd(e: OpenEvent): number {
    return e.start + e.duration + (e.ended ? 0 : this.guard);
  }

  private updateMask(e: OpenEvent): void {
    if (e.mask) e.mask.end = this.maskEnd(e);
  }
}
