/**
 * A leg timeline in the native socket set's memory (media/native/leg_timeline.c: LegTimeline's
 * rules in C). The set places a recorded leg's G.711 or L16 audio on it as the batch arrives, so
 * those packets cost no JavaScript; this class reads the audio out for the mixer, takes the
 * packets JavaScript still handles (push), masks DTMF and answers positions and counters.
 *
 * Made by NativeUdpTransport.createTimeline; close() frees it (a recording closes its timelines
 * once stopped). Reads and pushes after close throw.
 */
import { CapstanError } from '../../core/errors.ts';
import { definedOnly, LEG_TIMELINE_DEFAULTS, type LegTimelineOptions, type LegTimelineStats, type MaskSpan, type PushOutcome, type TimelinePacket } from './leg-timeline.ts';
import type { Timeline } from './timeline.ts';

/** The addon functions a native timeline uses (media/native/recording_targets.c). */
export interface NativeTimelineAddon {
  timelineCreate(handle: unknown, options: Float64Array): number;
  timelinePush(handle: unknown, id: number, ssrc: number, sequenceNumber: number, timestamp: number, samples: Int16Array, arrivalSample: number): number;
  timelineRead(handle: unknown, id: number, until: number, out: Int16Array, masks: Float64Array, maskCount: number): number;
  timelinePositionOf(handle: unknown, id: number, ssrc: number, timestamp: number): number | undefined;
  timelineState(handle: unknown, id: number, out: Float64Array): void;
  timelineClose(handle: unknown, id: number): boolean;
}

/** leg_timeline.h's option order. */
const OPTION_ORDER = [
  'capacitySamples',
  'maxSkewSamples',
  'maxSamplesPerSequenceStep',
  'maxDropout',
  'maxMisorder',
  'concealMaxGapSamples',
  'driftCorrection',
  'driftWindowSamples',
  'driftDeadbandSamples',
  'driftMaxStepSamples',
  'driftStepIntervalSamples',
  'driftForceAfterSamples',
  'driftQuietPeak',
] as const satisfies readonly (keyof LegTimelineOptions)[];

/** leg_timeline.h's outcome order. */
const OUTCOMES: readonly PushOutcome[] = ['placed', 'new-source', 'duplicate', 'late', 'too-early', 'out-of-sequence'];

/** leg_timeline.h's state fields: the counters of LegTimelineStats in order, then the read position and the audio's end. */
const STAT_FIELDS = [
  'received',
  'placed',
  'duplicates',
  'late',
  'partlyLate',
  'tooEarly',
  'outOfSequence',
  'sources',
  'lost',
  'concealedSamples',
  'driftSteps',
  'driftStepSamples',
  'driftCorrection',
] as const satisfies readonly (keyof LegTimelineStats)[];
/** After the counters: the read position (which this class mirrors), then the audio's end. */
const AUDIO_END = STAT_FIELDS.length + 1;
const STATE_FIELDS = AUDIO_END + 1;

/**
 * The options as the native timeline takes them, or undefined when it cannot follow them
 * exactly (a fractional or out-of-range value: the TypeScript timeline takes those).
 */
export function nativeTimelineOptions(options: LegTimelineOptions = {}): Float64Array | undefined {
  const o = { ...LEG_TIMELINE_DEFAULTS, ...definedOnly(options) };
  const out = new Float64Array(OPTION_ORDER.length);
  for (let i = 0; i < OPTION_ORDER.length; i++) {
    const v = o[OPTION_ORDER[i]!];
    const n = typeof v === 'boolean' ? Number(v) : v;
    if (!Number.isSafeInteger(n) || n < 0) return undefined;
    out[i] = n;
  }
  return out[0]! >= 1 && out[0]! <= 1 << 24 ? out : undefined;
}

export class NativeLegTimeline implements Timeline {
  /** The timeline's id in its socket set (what a socket's recording targets name). */
  readonly id: number;
  private readonly addon: NativeTimelineAddon;
  private readonly handle: unknown;
  private readonly state = new Float64Array(STATE_FIELDS);
  private masks: MaskSpan[] = [];
  private maskBuffer = new Float64Array(8);
  private readPos = 0;
  private closed = false;

  /** @throws CapstanError CAPSTAN_ERR_NATIVE_UDP when the set cannot make one (closed, out of memory). */
  constructor(addon: NativeTimelineAddon, handle: unknown, options: Float64Array) {
    this.addon = addon;
    this.handle = handle;
    const id = addon.timelineCreate(handle, options);
    if (id < 0) throw new CapstanError('CAPSTAN_ERR_NATIVE_UDP', `the native socket set cannot make a timeline (errno ${-id})`, { details: { reason: 'timeline', errno: -id } });
    this.id = id;
  }

  get position(): number {
    return this.readPos;
  }

  get audioEnd(): number {
    return this.refresh()[AUDIO_END]!;
  }

  get stats(): LegTimelineStats {
    const s = this.refresh();
    return Object.fromEntries(STAT_FIELDS.map((name, i) => [name, s[i]!])) as unknown as LegTimelineStats;
  }

  push(packet: TimelinePacket, arrivalSample: number): PushOutcome {
    const outcome = this.addon.timelinePush(this.handle, this.id, packet.ssrc >>> 0, packet.sequenceNumber & 0xffff, packet.timestamp >>> 0, packet.samples, arrivalSample);
    return OUTCOMES[outcome]!;
  }

  read(until: number): Int16Array {
    return this.readInto(until, undefined);
  }

  readInto(until: number, scratch: Int16Array | undefined): Int16Array {
    const n = Math.max(0, Math.floor(until) - this.readPos);
    const out = scratch && scratch.length >= n ? scratch.subarray(0, n) : new Int16Array(n);
    if (n === 0) return out;
    const masks = this.masks;
    if (this.maskBuffer.length < 2 * masks.length) this.maskBuffer = new Float64Array(4 * masks.length);
    for (let i = 0; i < masks.length; i++) {
      this.maskBuffer[2 * i] = masks[i]!.start;
      this.maskBuffer[2 * i + 1] = masks[i]!.end;
    }
    this.addon.timelineRead(this.handle, this.id, until, out, this.maskBuffer, masks.length);
    this.readPos += n;
    const end = this.readPos;
    if (masks.length > 0) this.masks = masks.filter((m) => m.end > end);
    return out;
  }

  addMask(start: number, end = Infinity): MaskSpan {
    const span: MaskSpan = { start: Math.floor(start), end };
    this.masks.push(span);
    return span;
  }

  positionOf(ssrc: number, timestamp: number): number | undefined {
    if (this.closed) return undefined;
    return this.addon.timelinePositionOf(this.handle, this.id, ssrc >>> 0, timestamp >>> 0);
  }

  /** Frees the native timeline; its last counters stay readable. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.refresh();
    this.closed = true;
    this.addon.timelineClose(this.handle, this.id);
  }

  private refresh(): Float64Array {
    if (!this.closed) this.addon.timelineState(this.handle, this.id, this.state);
    return this.state;
  }
}
