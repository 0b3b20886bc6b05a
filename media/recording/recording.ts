/**
 * One recording in progress: the legs' timelines, the mixer and the file in the recording's
 * format (any registered codec: WAV or Ogg, through EncodedFileWriter), driven by the process's
 * tick wheel (one timer for every recording, their ticks spread over the interval).
 *
 * Timeline time 0 is the moment the Recording is constructed (the start request). Every `tickMs`
 * the recording writes everything older than now − `jitterDelayMs`: packets arriving within that
 * delay still land in place; later ones are dropped as late. The file is flushed (sizes and data
 * synced) at least every `flushIntervalMs`, so a crash loses at most that much plus the delay —
 * for block codecs (GSM 320 samples, TrueSpeech 240, Opus 160) whole blocks only: the partial
 * block stays in the encoder until the next write, and the last one is padded with silence at
 * stop (the file's `fact` chunk or the Ogg end granule keeps the true length).
 *
 * `stop()` writes everything up to the stop moment at once (packets still in flight for the last
 * `jitterDelayMs` are not waited for: the stop answers immediately), so the file holds
 * (stop − start) × 8000 frames, minus spans paused in 'skip' mode — or a little more when the
 * last packet received before the stop reaches past it (up to STOP_GRACE_SAMPLES), so that
 * packet's audio is kept whole.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CapstanError, toCapstanError } from '../../core/errors.ts';
import type { LegRole, RecordingResult } from '../control-api.ts';
import type { Codec } from '../codecs/codec.ts';
import { codecRegistry, type CodecRegistry } from '../codecs/codec-registry.ts';
import { EncodedFileWriter } from './encoded-file-writer.ts';
import type { FileSink } from './file-sink.ts';
import { LegTimeline, type LegTimelineOptions, type TimelinePacket } from './leg-timeline.ts';
import type { Timeline } from './timeline.ts';
import { RecordingMixer, type PauseMode } from './recording-mixer.ts';
import { TickWheel } from './tick-wheel.ts';
import { DtmfCollector, type TelephoneEventPacket } from './dtmf-collector.ts';

export const SAMPLE_RATE = 8000;
const SAMPLES_PER_MS = SAMPLE_RATE / 1000;

export interface RecordingOptions {
  recordingId: string;
  /** Final path of the file (written as `<path>.part` until stopped). */
  path: string;
  /** Format: a MIME type of `codecs`. */
  mime: string;
  /** Where `mime` is looked up. Default: the process's codecRegistry (the built-ins and loaded plugins). */
  codecs?: CodecRegistry;
  /** 2: caller left, callee right; 1: mixed. */
  channels: 1 | 2;
  /** Legs the call has; a missing leg is silence. */
  legs: readonly LegRole[];
  /** Makes the signed URI for the file name, for the result. */
  signUri: (fileName: string) => string;
  /** How long a packet may be late and still land in place. Default 200 ms. */
  jitterDelayMs?: number;
  /** Interval of the write timer. Default 100 ms. */
  tickMs?: number;
  /** Longest time between two header updates + syncs. Default 1000 ms. */
  flushIntervalMs?: number;
  /** Timeline options per leg. Defaults: see LegTimelineOptions. */
  timeline?: LegTimelineOptions;
  /**
   * Makes a leg's timeline (a native one the call's socket fills itself: MediaCall.createTimeline,
   * which places packets by performance.now(), so only with the default `clock`). Default: a
   * LegTimeline with `timeline`. Closed (if it has close) once the recording is stopped.
   */
  createTimeline?: (leg: LegRole, options: LegTimelineOptions | undefined) => Timeline;
  /** Extra metadata stored in the file's `cpst` chunk (found again after a crash). */
  metadata?: Record<string, unknown>;
  /** Monotonic milliseconds; must be the clock packets' arrival times come from. Default performance.now. */
  clock?: () => number;
  /** Told once when writing fails (the recording is then failed; stop() rejects). */
  onError?: (error: CapstanError) => void;
  /** Opens the file the recording's bytes go to. Default: a plain file (an SASF sink encrypts). */
  openSink?: (path: string) => Promise<FileSink>;
  /** Read DTMF (telephone-event) spans out of the audio as silence. Default false: kept, and listed in `dtmf` either way. */
  maskDtmf?: boolean;
}

/** How far past the stop moment already-received audio is kept: one 60 ms packet, the longest common ptime. */
export const STOP_GRACE_SAMPLES = 480;

export type RecordingState = 'recording' | 'stopping' | 'stopped' | 'failed';

export class Recording {
  readonly recordingId: string;
  readonly fileName: string;
  readonly mime: string;
  readonly codec: Codec;
  readonly channels: 1 | 2;
  readonly startedAt: Date;
  private readonly options: RecordingOptions;
  private readonly clock: () => number;
  /** The clock's time at timeline sample 0 (the recording's construction). */
  readonly t0: number;
  private readonly jitterSamples: number;
  private readonly timelines = new Map<LegRole, Timeline>();
  /** The same timelines by role, for push (a Map lookup per packet is measurable at hundreds of calls). */
  private readonly callerTimeline: Timeline | undefined;
  private readonly calleeTimeline: Timeline | undefined;
  private readonly dtmf: DtmfCollector;
  private readonly mixer: RecordingMixer;
  private writer: EncodedFileWriter | undefined;
  /** Takes the recording's write tick off the process's TickWheel (undefined until open). */
  private stopTicking: (() => void) | undefined;
  private lastFlush: number;
  private failure: CapstanError | undefined;
  private stopping: Promise<RecordingResult> | undefined;
  private _state: RecordingState = 'recording';

  /** @throws CapstanError CAPSTAN_ERR_UNSUPPORTED_FORMAT for a MIME type or channel count no codec writes. */
  constructor(options: RecordingOptions) {
    this.codec = (options.codecs ?? codecRegistry).require(options.mime, options.channels);
    this.options = options;
    this.clock = options.clock ?? (() => performance.now());
    this.t0 = this.clock();
    this.startedAt = new Date();
    this.lastFlush = this.t0;
    this.recordingId = options.recordingId;
    this.fileName = basename(options.path);
    this.mime = this.codec.mime;
    this.channels = options.channels;
    this.jitterSamples = Math.round((options.jitterDelayMs ?? 200) * SAMPLES_PER_MS);
    const create = options.createTimeline ?? ((_leg: LegRole, o: LegTimelineOptions | undefined) => new LegTimeline(o));
    for (const leg of options.legs) this.timelines.set(leg, create(leg, options.timeline));
    this.callerTimeline = this.timelines.get('caller');
    this.calleeTimeline = this.timelines.get('callee');
    this.mixer = new RecordingMixer({ caller: this.timelines.get('caller'), callee: this.timelines.get('callee') }, options.channels);
    this.dtmf = new DtmfCollector({ timelines: this.timelines, mask: options.maskDtmf ?? false });
  }

  get state(): RecordingState {
    return this._state;
  }

  /** Creates the `.part` file and starts the write timer. Packets pushed before are kept. */
  async open(): Promise<void> {
    const writer = await EncodedFileWriter.create(this.options.path, {
      codec: this.codec,
      channels: this.channels,
      metadata: { recordingId: this.recordingId, mime: this.mime, startedAt: this.startedAt.toISOString(), ...this.options.metadata },
      openSink: this.options.openSink,
    });
    if (this.stopping) {
      // Stopped while the file was being created: that stop already failed; keep nothing running.
      await writer.abandon();
      return;
    }
    this.writer = writer;
    // One shared timer spreads every recording's ticks over the interval (tick-wheel.ts says why).
    this.stopTicking = TickWheel.for(this.options.tickMs ?? 100).add(() => this.tick());
  }

  /** The timeline of `leg`, if the recording has that leg. */
  timelineOf(leg: LegRole): Timeline | undefined {
    return this.timelines.get(leg);
  }

  /** Timeline sample index of a monotonic time from the same clock. */
  sampleAt(ms: number): number {
    return Math.floor((ms - this.t0) * SAMPLES_PER_MS);
  }

  /** Gives a decoded packet of `leg` that arrived at `arrivalMs` (the recording's clock). */
  push(leg: LegRole, packet: TimelinePacket, arrivalMs: number): void {
    if (this._state !== 'recording') return;
    (leg === 'caller' ? this.callerTimeline : this.calleeTimeline)?.push(packet, (arrivalMs - this.t0) * SAMPLES_PER_MS);
  }

  /** Gives a telephone-event (DTMF) packet of `leg` that arrived at `arrivalMs`: see DtmfCollector. */
  pushTelephoneEvent(leg: LegRole, packet: TelephoneEventPacket, arrivalMs: number): void {
    if (this._state !== 'recording') return;
    this.dtmf.push(leg, packet, (arrivalMs - this.t0) * SAMPLES_PER_MS);
  }

  /** Pauses now; while paused already, does nothing. */
  pause(mode: PauseMode): void {
    this.throwIfNotRecording();
    this.mixer.pause(this.sampleAt(this.clock()), mode);
  }

  /** Resumes now; when not paused, does nothing. */
  resume(): void {
    this.throwIfNotRecording();
    this.mixer.resume(this.sampleAt(this.clock()));
  }

  /**
   * Writes everything up to now, finalizes the file and describes it. Idempotent: later calls
   * return the same result.
   * @throws CapstanError CAPSTAN_ERR_RECORDING_FAILED when the file could not be written.
   */
  stop(): Promise<RecordingResult> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<RecordingResult> {
    const stopMs = this.clock();
    const stoppedAt = new Date();
    // A packet received before the stop covers up to one packet time after its arrival: keep it
    // whole (the last words of a call) rather than cut it at the stop, within STOP_GRACE_SAMPLES.
    const stopSample = this.sampleAt(stopMs);
    const audioEnd = Math.max(0, ...[...this.timelines.values()].map((t) => t.audioEnd));
    const end = Math.max(stopSample, Math.min(audioEnd, stopSample + STOP_GRACE_SAMPLES));
    this.stopTicking?.();
    if (this._state === 'recording') this._state = 'stopping';
    if (this.mixer.paused) this.mixer.resume(end);
    try {
      if (this.failure) throw this.failure;
      if (!this.writer) throw new CapstanError('CAPSTAN_ERR_RECORDING_FAILED', `recording ${this.recordingId} was stopped before its file was created`);
      const frames = this.mixer.mix(end);
      await this.writer.write(frames);
      const { path } = await this.writer.finalize();
      const [sha256, info] = await Promise.all([sha256File(path), stat(path)]);
      this._state = 'stopped';
      const samples = this.mixer.frames;
      const stats: Record<string, unknown> = {};
      for (const [leg, timeline] of this.timelines) stats[leg] = timeline.stats;
      return {
        recordingId: this.recordingId,
        fileName: this.fileName,
        uri: this.options.signUri(this.fileName),
        mime: this.mime,
        channels: this.channels,
        sampleRate: SAMPLE_RATE,
        samples,
        durationMs: samples / SAMPLES_PER_MS,
        sizeBytes: info.size,
        sha256,
        startedAt: this.startedAt.toISOString(),
        stoppedAt: stoppedAt.toISOString(),
        pauses: this.mixer.pauses.map((p) => ({
          mode: p.mode,
          startMs: p.startSample / SAMPLES_PER_MS,
          endMs: (p.endSample ?? end) / SAMPLES_PER_MS,
          fileMs: (p.fileFrame ?? samples) / SAMPLES_PER_MS,
        })),
        dtmf: this.dtmf.results(end),
        stats,
      };
    } catch (e) {
      const error = this.fail(e);
      // Leave the .part for repair at the next start rather than deleting what was recorded.
      await this.writer?.abandon();
      throw error;
    } finally {
      // Everything is read out (or the recording failed): native timelines give their memory back.
      for (const timeline of this.timelines.values()) timeline.close?.();
    }
  }

  private tick(): void {
    if (this._state !== 'recording' || !this.writer) return;
    const now = this.clock();
    const until = this.sampleAt(now) - this.jitterSamples;
    if (until > this.mixer.position) {
      // Encoded at once by write (the codec contract): the mixer's buffer is free again after.
      const frames = this.mixer.mixTransient(until);
      this.writer.write(frames).catch((e: unknown) => this.fail(e));
    }
    // Flushed at the last tick before the interval would be exceeded, so flushes are at most
    // `flushIntervalMs` apart (give or take the timer's lateness), not up to one tick more.
    if (now + (this.options.tickMs ?? 100) - this.lastFlush > (this.options.flushIntervalMs ?? 1000)) {
      this.lastFlush = now;
      this.writer.flush().catch((e: unknown) => this.fail(e));
    }
  }

  private fail(e: unknown): CapstanError {
    if (this.failure) return this.failure;
    const error = toCapstanError(e, 'CAPSTAN_ERR_RECORDING_FAILED');
    this.failure = error;
    this._state = 'failed';
    this.stopTicking?.();
    try {
      this.options.onError?.(error);
    } catch {
      // A listener's failure must not break the media path.
    }
    return error;
  }

  private throwIfNotRecording(): void {
    if (this._state !== 'recording') {
      throw new CapstanError('CAPSTAN_ERR_CONFLICT', `recording ${this.recordingId} is ${this._state}`, { details: { state: this._state } });
    }
  }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
