import { extname } from 'node:path';
import { CapstanError, toCapstanError } from '../errors.ts';
import type { CallInfo, RecordingGapInfo, RecordingInfo, RecordingResultInfo, Requester } from '../events/call-events.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { Logger } from '../logger.ts';
import type { RecorderPolicy } from '../config/schema.ts';
import type { TelephonyServices } from '../telephony/telephony-services.ts';
import { faultPoint } from '../fault-points.ts';
import type { RcsKeeper } from '../rcs/rcs-keeper.ts';
import type { ContentStore } from './content-store.ts';
import { matchPolicy } from './match-policy.ts';
import type { RecordingStore, StoredRecording } from './recording-store.ts';
import type { RecorderKeys } from './recorder-keys.ts';
import { readRecoveredFile, recoveredResult } from './recovered-file.ts';

/** Requesters whose recordings the Recorder stores. */
export const RECORDER_REQUESTERS: readonly Requester[] = ['recorder', 'recorder-rcs'];

export interface RecorderOptions {
  policies: RecorderPolicy[];
  /** Encrypt recordings by default (a policy's `encrypt` overrides). */
  encryptByDefault: boolean;
  /** The Recorder's keys; required when anything is encrypted. */
  keys: RecorderKeys | null;
  /** Fetch attempts before a recording is reported failed (its file stays on the media server). */
  fetchAttempts: number;
  /** First retry delay, doubled each attempt, ms. Default 500. */
  retryDelayMs?: number;
}

/** The requester whose recordings a Remote Content Service server keeps (the Recorder records where). */
const RCS_REQUESTER: Requester = 'recorder-rcs';

/**
 * The Recorder: applies its policies to each connected call, and for its recordings fetches the
 * finished file, verifies size and checksum, commits it, and only then deletes it on the media
 * server. Every step is persisted first, so after a crash `resume()` finishes what was left.
 */
export class Recorder {
  readonly #store: RecordingStore;
  readonly #content: ContentStore;
  readonly #telephony: TelephonyServices;
  readonly #events: EventBus;
  readonly #logger: Logger;
  readonly #options: RecorderOptions;
  readonly #inFlight = new Map<string, Promise<void>>();
  /** Start rows being written, by recording id: a completion waits for its row. */
  readonly #inserting = new Map<string, Promise<void>>();
  /** Completions being written, tracked so `drain()` waits for them too. */
  readonly #completing = new Set<Promise<void>>();
  readonly #unsubscribe: (() => void)[] = [];
  /** Recovered files being taken, by file name (load reports repeat them every second). */
  readonly #recovering = new Set<string>();
  #closed = false;

  readonly #rcs: RcsKeeper | null;

  constructor(
    deps: { store: RecordingStore; content: ContentStore; telephony: TelephonyServices; events: EventBus; logger: Logger; rcs?: RcsKeeper | null },
    options: RecorderOptions,
  ) {
    this.#store = deps.store;
    this.#rcs = deps.rcs ?? null;
    this.#content = deps.content;
    this.#telephony = deps.telephony;
    this.#events = deps.events;
    this.#logger = deps.logger;
    this.#options = options;
    this.#unsubscribe.push(
      this.#events.on('call.connected', ({ call }) => this.#applyPolicies(call)),
      // Recordings a handler starts as `recorder` or `recorder-rcs` are the Recorder's too: their
      // row is written at start.
      this.#events.on('recording.started', ({ recording }) => {
        if (!RECORDER_REQUESTERS.includes(recording.requester)) return;
        const insert = this.#insertStarted(recording).finally(() => this.#inserting.delete(recording.recordingId));
        this.#inserting.set(recording.recordingId, insert);
        this.#completing.add(insert);
        void insert.finally(() => this.#completing.delete(insert));
      }),
      // Failover: the recording goes on elsewhere as a further segment, stored as a row of its own.
      this.#events.on('recording.segment-started', ({ recording, gap }) => {
        if (!RECORDER_REQUESTERS.includes(recording.requester)) return;
        const insert = this.#insertSegment(recording, gap).finally(() => this.#inserting.delete(recording.recordingId));
        this.#inserting.set(recording.recordingId, insert);
        this.#completing.add(insert);
        void insert.finally(() => this.#completing.delete(insert));
      }),
      // A media server back from a crash offers the segments it was writing when it died.
      this.#events.on('media-server.recovered', ({ id, files }) => {
        for (const file of files) {
          if (this.#recovering.has(file.fileName)) continue;
          const run = this.#takeRecovered(id, file)
            .catch((e: unknown) => this.#logger.error({ err: e, fileName: file.fileName }, 'taking a recovered segment failed; it stays on its media server'))
            .finally(() => {
              this.#recovering.delete(file.fileName);
              this.#completing.delete(run);
            });
          this.#recovering.add(file.fileName);
          this.#completing.add(run);
        }
      }),
      this.#events.on('recording.completed', ({ recording, result }) => {
        if (!RECORDER_REQUESTERS.includes(recording.requester)) return;
        const done = this.#complete(recording, result)
          .catch((e: unknown) => this.#logger.error({ err: e, recordingId: recording.recordingId }, 'recording completion failed'))
          .finally(() => this.#completing.delete(done));
        this.#completing.add(done);
      }),
    );
  }

  async #applyPolicies(call: CallInfo): Promise<void> {
    const policy = matchPolicy(this.#options.policies, call);
    if (!policy || !policy.record) {
      this.#logger.info({ callId: call.callId, policy: policy?.name ?? null }, 'no recorder policy records this call');
      return;
    }
    try {
      const encrypt = policy.encrypt ?? this.#options.encryptByDefault;
      if (encrypt && !this.#options.keys) {
        throw new CapstanError('CAPSTAN_ERR_KEY_NOT_FOUND', `Policy ${policy.name} encrypts, but the Recorder has no key: enable recorder.encryption or run "capstan keys generate"`);
      }
      const recording = await this.#telephony.startRecording(call.callId, {
        requester: policy.keep === 'rcs' ? RCS_REQUESTER : 'recorder',
        mime: policy.mime,
        compression: policy.compression,
        channels: policy.channels,
        tags: policy.tags,
        encryption: encrypt ? this.#options.keys!.active : null,
      });
      await this.#inserting.get(recording.recordingId);
      this.#logger.info({ callId: call.callId, recordingId: recording.recordingId, policy: policy.name }, 'recorder policy started a recording');
    } catch (e) {
      this.#logger.error({ err: e, callId: call.callId, policy: policy.name }, 'recorder policy could not start a recording');
    }
  }

  async #insertStarted(recording: RecordingInfo): Promise<void> {
    try {
      await this.#store.insertStarted(recording, this.#telephony.get(recording.callId));
    } catch (e) {
      this.#logger.error({ err: e, recordingId: recording.recordingId }, 'could not record the start of a recording');
    }
  }

  async #insertSegment(recording: RecordingInfo, gap: RecordingGapInfo): Promise<void> {
    try {
      const root = recording.segment!.of;
      await this.#inserting.get(root);
      await this.#store.insertStarted(recording, this.#telephony.get(recording.callId));
      await this.#store.addGap(root, gap);
    } catch (e) {
      this.#logger.error({ err: e, recordingId: recording.recordingId }, 'could not record the start of a segment');
    }
  }

  /**
   * A segment cut short by its media server's death, repaired by that server at its restart: its
   * row (still `recording`) is completed from the file itself — size, SHA-256 and length read
   * from what the server serves, since the server never reported them — then stored like any
   * other. The gap after it now starts where its audio really ends.
   */
  async #takeRecovered(mediaServerId: string, file: { recordingId: string; fileName: string; uri: string }): Promise<void> {
    const row = await this.#store.get(file.recordingId);
    if (!row || row.status !== 'recording' || row.mediaServerId !== mediaServerId) return;
    const read = await readRecoveredFile(file.uri, file.fileName);
    const durationMs = read.durationMs;
    await this.#store.markCompleted(row.id, recoveredResult(file, read, row));
    if (durationMs > 0) await this.#store.setGapStart(row.segmentOf ?? row.id, row.segmentIndex, row.segmentStartMs + durationMs);
    this.#logger.info({ recordingId: row.id, segment: row.segmentIndex, durationMs, sizeBytes: read.sizeBytes }, 'recovered segment taken');
    const completed = await this.#store.get(row.id);
    if (completed) await this.#finish(completed);
  }

  async #complete(recording: RecordingInfo, result: RecordingResultInfo): Promise<void> {
    await this.#inserting.get(recording.recordingId);
    await this.#store.markCompleted(recording.recordingId, result);
    const row = await this.#store.get(recording.recordingId);
    // A segment that completed normally (its server was only marked down): the gap after it
    // starts where its audio ends.
    if (row && (row.segmentOf !== null || row.gaps.length > 0)) await this.#store.setGapStart(row.segmentOf ?? row.id, row.segmentIndex, row.segmentStartMs + result.durationMs);
    if (row) await this.#finish(row);
  }

  /** Fetch → verify → commit → delete for one recording; concurrent calls for the same id share one run. */
  #finish(row: StoredRecording): Promise<void> {
    const running = this.#inFlight.get(row.id);
    if (running) return running;
    const run = this.#finishWithRetries(row).finally(() => this.#inFlight.delete(row.id));
    this.#inFlight.set(row.id, run);
    return run;
  }

  async #finishWithRetries(row: StoredRecording): Promise<void> {
    let delay = this.#options.retryDelayMs ?? 500;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#finishOnce(row);
        return;
      } catch (e) {
        const error = toCapstanError(e);
        if (error.code === 'CAPSTAN_ERR_NO_RCS') {
          // Not a failure of this file: it waits on the media server, and is stored as soon as a
          // server for its location registers (`retryWaiting`) or at the next host start.
          this.#logger.warn({ recordingId: row.id, location: row.location }, 'no remote content service for the recording\'s location; it waits on the media server');
          return;
        }
        if (attempt >= this.#options.fetchAttempts || this.#closed) {
          this.#logger.error({ err: error, recordingId: row.id, attempt }, 'recording could not be stored; its file stays on the media server');
          await this.#store.markFailed(row.id, `${error.code}: ${error.message}`);
          this.#events.emit('recording.failed', { recording: null, callId: row.callId, error: error.toJSON() });
          return;
        }
        this.#logger.warn({ err: error, recordingId: row.id, attempt }, 'storing a recording failed; retrying');
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
  }

  async #finishOnce(row: StoredRecording): Promise<void> {
    let current = row;
    if (current.status === 'completed') {
      if (current.uri === null || current.sizeBytes === null || current.sha256 === null) {
        throw new CapstanError('CAPSTAN_ERR_STORAGE', `Recording ${row.id} has no completed file to fetch`);
      }
      current = { ...current, uri: this.#telephony.fileUri(current.mediaServerId, current.fileName) ?? current.uri };
      const kept = current.requester === RCS_REQUESTER && this.#rcs ? await this.#keepOnRcs(current, this.#rcs) : await this.#keepInStore(current);
      const storedAt = new Date().toISOString();
      await this.#store.markStored(current.id, kept.mediaPath, storedAt, kept.mediaLocation);
      current = { ...current, status: 'stored', mediaPath: kept.mediaPath, mediaLocation: kept.mediaLocation, storedAt };
      faultPoint('recorder.after-commit');
    }
    if (current.status === 'stored' && current.uri !== null) {
      const uri = this.#telephony.fileUri(current.mediaServerId, current.fileName) ?? current.uri;
      const response = await fetch(uri, { method: 'DELETE', signal: AbortSignal.timeout(10_000) }).catch((e: unknown) => {
        throw new CapstanError('CAPSTAN_ERR_FETCH_FAILED', `Deleting ${current.fileName} on its media server failed: ${(e as Error).message}`, { cause: e });
      });
      // 404: already deleted by an earlier run that crashed before recording it.
      if (!response.ok && response.status !== 404) {
        throw new CapstanError('CAPSTAN_ERR_FETCH_FAILED', `Deleting ${current.fileName} answered ${response.status}`, { details: { status: response.status } });
      }
      await this.#store.markRemoteDeleted(current.id);
      this.#logger.info({ recordingId: current.id, mediaLocation: current.mediaLocation, mediaPath: current.mediaPath, sizeBytes: current.sizeBytes }, 'recording stored');
      const recording = this.#recordingInfo(current);
      const where = current.mediaLocation === null || current.mediaLocation === 'store' ? `recorder:${current.mediaPath}` : `${current.mediaLocation}:${current.mediaPath}`;
      this.#events.emit('recording.stored', { recording, storedId: current.id, location: where });
    }
  }

  /** Fetch → verify size and SHA-256 → commit (rename) into the content store. */
  async #keepInStore(current: StoredRecording): Promise<{ mediaPath: string; mediaLocation: string }> {
    const response = await fetch(current.uri!, { signal: AbortSignal.timeout(60_000) }).catch((e: unknown) => {
      throw new CapstanError('CAPSTAN_ERR_FETCH_FAILED', `Fetching ${current.fileName} failed: ${(e as Error).message}`, { cause: e });
    });
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new CapstanError('CAPSTAN_ERR_FETCH_FAILED', `Fetching ${current.fileName} answered ${response.status}`, {
        details: { status: response.status },
      });
    }
    const put = await this.#content.put(current.id, extname(current.fileName) || '.wav', current.startedAt, response.body);
    if (put.sizeBytes !== current.sizeBytes || put.sha256 !== current.sha256) {
      this.#content.discard(put);
      throw new CapstanError('CAPSTAN_ERR_CHECKSUM_MISMATCH', `${current.fileName}: got ${put.sizeBytes} bytes sha256 ${put.sha256}, expected ${current.sizeBytes} bytes sha256 ${current.sha256}`);
    }
    faultPoint('recorder.after-fetch');
    this.#content.commit(put);
    return { mediaPath: put.mediaPath, mediaLocation: 'store' };
  }

  /** The RCS server for the call's location fetches, verifies and keeps the file; it answers where. */
  async #keepOnRcs(current: StoredRecording, rcs: RcsKeeper): Promise<{ mediaPath: string; mediaLocation: string }> {
    const kept = await rcs.keep(current);
    faultPoint('recorder.after-rcs-fetch');
    return kept;
  }

  #recordingInfo(row: StoredRecording): RecordingInfo {
    return {
      recordingId: row.id,
      callId: row.callId,
      requester: row.requester as Requester,
      mediaServerId: row.mediaServerId,
      fileName: row.fileName,
      uri: row.uri ?? '',
      mime: row.mime,
      channels: row.channels === 1 ? 1 : 2,
      deliverTo: null,
      tags: row.tags,
      keyId: row.keyId,
      startedAt: row.startedAt,
    };
  }

  /**
   * Takes over another requester's finished recording (one too large to mail): stores it like its
   * own — fetched, verified, committed, then deleted on the media server — keeping its requester.
   * Resolves once it is stored; rejects if it could not be.
   */
  async adopt(recording: RecordingInfo, call: CallInfo, result: RecordingResultInfo): Promise<void> {
    await this.#store.insertStarted(recording, call);
    await this.#store.markCompleted(recording.recordingId, result);
    const row = await this.#store.get(recording.recordingId);
    if (row) await this.#finish(row);
    const stored = await this.#store.get(recording.recordingId);
    if (stored?.status !== 'stored') {
      throw new CapstanError('CAPSTAN_ERR_STORAGE', `Recording ${recording.recordingId} could not be stored by the Recorder (${stored?.status ?? 'missing'})`);
    }
  }

  /** Marks the gap before a failover segment on a recording another requester handed over (`adopt`); nothing when the recording is not here (yet). */
  async markGap(recordingId: string, gap: RecordingGapInfo): Promise<void> {
    await this.#store.addGap(recordingId, gap);
  }

  /** Finishes what a previous run left: completed but not stored, stored but not deleted. */
  async resume(): Promise<void> {
    const unfinished = await this.#store.listUnfinished();
    if (unfinished.length > 0) this.#logger.info({ count: unfinished.length }, 'resuming unfinished recordings');
    await Promise.all(unfinished.map((row) => this.#finish(row)));
  }

  /** Tries again the recordings that wait for a Remote Content Service (one just registered). */
  async retryWaiting(): Promise<void> {
    if (this.#closed) return;
    const waiting = (await this.#store.listUnfinished()).filter((r) => r.requester === RCS_REQUESTER);
    await Promise.all(waiting.map((row) => this.#finish(row)));
  }

  /** Waits for fetches in progress (so shutdown leaves nothing half-done). */
  async drain(): Promise<void> {
    while (this.#inFlight.size > 0 || this.#completing.size > 0) {
      await Promise.all([...this.#inFlight.values(), ...this.#completing]);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#unsubscribe.forEach((off) => off());
    await this.drain();
    this.#closed = true;
  }
}
