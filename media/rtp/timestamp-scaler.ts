/**
 * Maps one leg's RTP timestamps from its codec's clock to the recording's 8 kHz units.
 *
 * Opus runs its RTP clock at 48 kHz whatever it encodes (RFC 7587 §4.1), while the timelines
 * count 8 kHz samples. Dividing each timestamp by 6 would break the 32-bit wrap (2^32 is not a
 * multiple of 6): instead every timestamp is mapped by its signed distance from a reference, so
 * differences — all the timeline uses — are exact, and the output wraps at 2^32 like a real
 * 8 kHz clock. The reference moves forward once the distance passes 2^30 (6 hours at 48 kHz),
 * so a call of any length keeps converting.
 */
export class TimestampScaler {
  /** Clock ticks per 8 kHz sample (6 for Opus). */
  readonly ratio: number;
  private refIn = 0;
  private refOut = 0;
  private started = false;

  constructor(clockRate: number) {
    if (!Number.isInteger(clockRate) || clockRate <= 0 || clockRate % 8000 !== 0) {
      throw new RangeError(`clock rate must be a positive multiple of 8000, got ${clockRate}`);
    }
    this.ratio = clockRate / 8000;
  }

  /** The timestamp in 8 kHz units (uint32). */
  toSamples(timestamp: number): number {
    const ts = timestamp >>> 0;
    if (this.ratio === 1) return ts;
    if (!this.started) {
      this.started = true;
      this.refIn = ts;
      this.refOut = Math.floor(ts / this.ratio) >>> 0;
      return this.refOut;
    }
    const d = (ts - this.refIn) | 0;
    const out = (this.refOut + Math.round(d / this.ratio)) >>> 0;
    if (d > 2 ** 30 || d < -(2 ** 30)) {
      this.refIn = ts;
      this.refOut = out;
    }
    return out;
  }

  /** A duration in clock ticks (a telephone event's) in 8 kHz samples. */
  toSampleCount(ticks: number): number {
    return Math.round(ticks / this.ratio);
  }
}
