/**
 * Turns the legs' timelines into the recording's output frames. Pure and synchronous.
 *
 * Two channels: the caller on the left, the callee on the right. One channel: the sum of the
 * legs, clipped to 16 bits. A leg without a timeline (a one-leg call) is silence.
 *
 * Pauses are spans of the timeline: in 'silence' mode the span is written as zeros (the file
 * keeps wall-clock length), in 'skip' mode nothing is written for it (the file is shorter). The
 * legs' audio in a paused span is read and discarded either way, so it never reaches the file.
 * Each pause is kept as a mark with its timeline span and where it sits in the file.
 */
import type { Timeline } from './timeline.ts';

export type PauseMode = 'skip' | 'silence';

export interface PauseMark {
  mode: PauseMode;
  /** Timeline sample where the pause starts. */
  startSample: number;
  /** Timeline sample where it ends; undefined while it lasts. */
  endSample: number | undefined;
  /** File frame at which the pause begins (known once the output reaches it). */
  fileFrame: number | undefined;
}

/**
 * Buffers every mixer of the process shares (mixing is synchronous, and what mixTransient
 * returns is used at once): where the legs are read to, and what mixTransient returns a view of.
 * One set per recording was 16–32 KB each, tens of megabytes at a thousand calls.
 */
const shared = { caller: new Int16Array(0), callee: new Int16Array(0), output: new Int16Array(0) };

export interface MixerLegs {
  caller?: Timeline | undefined;
  callee?: Timeline | undefined;
}

export class RecordingMixer {
  readonly channels: 1 | 2;
  private readonly legs: MixerLegs;
  private readonly marks: PauseMark[] = [];
  private cursor = 0;
  private framesOut = 0;

  constructor(legs: MixerLegs, channels: 1 | 2) {
    this.legs = legs;
    this.channels = channels;
  }

  /** Next timeline sample to be mixed. */
  get position(): number {
    return this.cursor;
  }

  /** Frames produced so far (per channel). */
  get frames(): number {
    return this.framesOut;
  }

  get paused(): boolean {
    const last = this.marks.at(-1);
    return last !== undefined && last.endSample === undefined;
  }

  get pauses(): readonly PauseMark[] {
    return this.marks;
  }

  /**
   * Pauses from timeline sample `at` (not before what is already mixed, nor before the last
   * pause's end). Pausing while paused does nothing: the first pause's mode holds.
   */
  pause(at: number, mode: PauseMode): void {
    if (this.paused) return;
    const lastEnd = this.marks.at(-1)?.endSample ?? 0;
    const start = Math.max(Math.floor(at), this.cursor, lastEnd);
    this.marks.push({ mode, startSample: start, endSample: undefined, fileFrame: undefined });
  }

  /** Ends the current pause at timeline sample `at`. Does nothing when not paused. */
  resume(at: number): void {
    const last = this.marks.at(-1);
    if (!last || last.endSample !== undefined) return;
    last.endSample = Math.max(Math.floor(at), last.startSample);
  }

  /** Mixes the timeline up to `until` (exclusive) into interleaved frames. */
  mix(until: number): Int16Array {
    return this.mixFrames(until, false);
  }

  /**
   * As `mix`, into a buffer every mixer shares when the span has no pause: the frames are only
   * valid until the next mix of any recording (the recording encodes them at once). Four mixes a
   * second per recording of fresh arrays were a good part of what the garbage collector chased at
   * a thousand calls.
   */
  mixTransient(until: number): Int16Array {
    return this.mixFrames(until, true);
  }

  private mixFrames(until: number, transient: boolean): Int16Array {
    const end = Math.floor(until);
    const parts: Int16Array[] = [];
    let total = 0;
    while (this.cursor < end) {
      const mark = this.markAt(this.cursor);
      let segEnd: number;
      if (mark) {
        segEnd = Math.min(end, mark.endSample ?? end);
        if (mark.fileFrame === undefined) mark.fileFrame = this.framesOut + total / this.channels;
      } else {
        const next = this.marks.find((m) => m.startSample > this.cursor);
        segEnd = Math.min(end, next?.startSample ?? end);
      }
      const n = segEnd - this.cursor;
      if (shared.caller.length < n) {
        // Doubled, not fitted: after an event-loop stall the next ticks are longer, and growing
        // by a stall's few samples each time would allocate again and again.
        const size = Math.max(n, 2 * shared.caller.length);
        shared.caller = new Int16Array(size);
        shared.callee = new Int16Array(size);
      }
      // The legs are read into the shared buffers: combine() copies them out at once.
      const a = this.legs.caller?.readInto(segEnd, shared.caller);
      const b = this.legs.callee?.readInto(segEnd, shared.callee);
      // Only a mix of one part can be the shared buffer (parts are concatenated otherwise).
      const inShared = transient && segEnd === end && parts.length === 0;
      const part = !mark ? this.combine(n, a, b, inShared) : mark.mode === 'silence' ? new Int16Array(n * this.channels) : undefined;
      if (part) {
        parts.push(part);
        total += part.length;
      }
      this.cursor = segEnd;
    }
    const out = parts.length === 1 ? parts[0]! : concat(parts, total);
    this.framesOut += out.length / this.channels;
    return out;
  }

  private markAt(sample: number): PauseMark | undefined {
    for (let i = this.marks.length - 1; i >= 0; i--) {
      const m = this.marks[i]!;
      if (m.startSample <= sample && (m.endSample === undefined || sample < m.endSample)) return m;
      if (m.endSample !== undefined && m.endSample <= sample) return undefined;
    }
    return undefined;
  }

  private combine(n: number, a: Int16Array | undefined, b: Int16Array | undefined, transient: boolean): Int16Array {
    const length = n * this.channels;
    let out: Int16Array;
    if (transient) {
      if (shared.output.length < length) shared.output = new Int16Array(Math.max(length, 2 * shared.output.length));
      out = shared.output.subarray(0, length);
    } else {
      out = new Int16Array(length);
    }
    if (this.channels === 2) {
      for (let i = 0; i < n; i++) {
        out[2 * i] = a ? a[i]! : 0;
        out[2 * i + 1] = b ? b[i]! : 0;
      }
      return out;
    }
    for (let i = 0; i < n; i++) {
      const v = (a ? a[i]! : 0) + (b ? b[i]! : 0);
      out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    return out;
  }
}

function concat(parts: Int16Array[], total: number): Int16Array {
  const out = new Int16Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
