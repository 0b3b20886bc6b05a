import { randomUUID } from 'node:crypto';
import type { Endpoint, LegCodec, LegRole, RecordingMime } from '../../media/control-api.ts';
import { CapstanError, toCapstanError } from '../errors.ts';
import { decideFormat, type Compression } from '../recorder/format-decision.ts';
import type { CallDirection, CallInfo, RecordingInfo, RecordingResultInfo, Requester } from '../events/call-events.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { Logger } from '../logger.ts';
import { CallJournal } from './call-journal.ts';
import { segmentId } from './segment-id.ts';
import { MediaServerClient } from './media-server-client.ts';
import type { MediaServerRegistry } from './media-server-registry.ts';
import { selectByRules, type RuleSet } from './selection-rules.ts';
import { signFileUri } from '../../media/server/signed-uri.ts';

/** Validity of URIs signed by `fileUri`: long enough for one fetch of a large file. */
const FILE_URI_TTL_SECONDS = 3600;

export interface NewCallLeg {
  role: LegRole;
  codec: LegCodec;
  /** Where this party receives RTP (the media server relays the other leg's audio there). */
  rtp?: Endpoint | undefined;
}

export interface NewCall {
  source: string;
  direction?: CallDirection;
  from: string;
  to: string;
  workgroup?: string | null;
  agent?: string | null;
  /** Location of the requesting device. Default: the host's location. */
  location?: string;
  /** Other locations in the call's audio path (the far end's, a trunk's). Default none. */
  audioPathLocations?: string[];
  attributes?: Record<string, string>;
  /**
   * The audio path the call source wants for this line (a SIP route's `audioPath`). Default: the
   * configuration's `audioPaths` for the device's location.
   */
  audioPath?: AudioPath | undefined;
  /**
   * Legs without `rtp` say where they receive later (`updateParty`: a SIP callee's answer). Such a
   * call can still be dynamic when the caller's address is known. Default: every leg has `rtp`.
   */
  legs: NewCallLeg[];
}

export type AudioPath = 'always-in' | 'dynamic';

export interface ConnectedCall {
  call: CallInfo;
  audioPath: AudioPath;
  /** The media server in the audio path, or null while a dynamic call's legs talk directly. */
  mediaServerId: string | null;
  /** Where each leg's party sends its RTP. */
  legs: { role: LegRole; rtp: Endpoint }[];
}

export interface StartRecordingOptions {
  requester: Requester;
  /**
   * Explicit format, overriding the decision's default (core/recorder/format-decision.ts; the
   * requester's rules still apply: a client recording is always PCM or G.711 WAV). Default: decided
   * from requester, compression and the media servers' recordingMimeTypeDefault.
   */
  mime?: string | undefined;
  /** Compression the Recorder asks for: `opus`, `gsm`, `truespeech` or `none`. Default `none`. */
  compression?: Compression | undefined;
  /** Default 2; a mono-only codec (GSM, TrueSpeech) records 1 (mixed down). */
  channels?: 1 | 2 | undefined;
  deliverTo?: string | null | undefined;
  tags?: string[] | undefined;
  /** Record as SASF encrypted to this Recorder key. Default: plain. */
  encryption?: { keyId: string; publicKeyPem: string } | null | undefined;
}

interface CallEntry {
  info: CallInfo;
  audioPath: AudioPath;
  /** The parties as the call source gave them: codecs and where each receives RTP. */
  parties: NewCallLeg[];
  audioPathLocations: string[];
  mediaServerId: string | null;
  /** Where each leg's party sends its RTP now. */
  legs: { role: LegRole; rtp: Endpoint }[];
  recordings: Map<string, RecordingInfo>;
  /** A media server insertion in progress (concurrent recordings share it). */
  inserting: Promise<string> | null;
  ended: boolean;
}

interface RecordingEntry {
  call: CallEntry;
  /** The recording as its requester knows it (its first segment's file). */
  info: RecordingInfo;
  /** The segment being written now: `info` itself, or after a failover the latest segment. */
  current: RecordingInfo;
  /** What the media server was asked for, to ask the next one the same after a failover. */
  format: { mime: string; channels: 1 | 2; encryption: { publicKeyPem: string } | null };
  /** Paused (and how) when its media server died: the next segment starts paused too. */
  paused: 'skip' | 'silence' | null;
}

export interface TelephonyServicesOptions {
  secret: string;
  location: string;
  /** Audio path by requesting device location, else the default. */
  audioPaths: { default: AudioPath; byLocation: Record<string, AudioPath> };
  selection: { default: string; ruleSets: Record<string, RuleSet>; byLocation: Record<string, string> };
  recordingMimeTypeDefault: RecordingMime;
  /** Folder where calls in progress are written down, so a restarted host resumes them. Default: none. */
  journalDir?: string | undefined;
}

/** What the journal keeps of a call: enough to carry on with it after a restart. */
type CallSnapshot = Pick<CallEntry, 'info' | 'audioPath' | 'parties' | 'audioPathLocations' | 'mediaServerId' | 'legs'> & { recordings: Omit<RecordingEntry, 'call'>[] };

/** The control plane between requesters and media servers: calls, their media server, their recordings. */
export class TelephonyServices {
  readonly #calls = new Map<string, CallEntry>();
  /** Recordings in progress by id: the recording as answered to its requester, and its current segment. */
  readonly #recordings = new Map<string, RecordingEntry>();
  readonly #registry: MediaServerRegistry;
  readonly #events: EventBus;
  readonly #logger: Logger;
  readonly #options: TelephonyServicesOptions;
  #closed = false;

  readonly #journal: CallJournal<CallSnapshot> | null;

  constructor(registry: MediaServerRegistry, events: EventBus, logger: Logger, options: TelephonyServicesOptions) {
    this.#registry = registry;
    this.#events = events;
    this.#logger = logger;
    this.#options = options;
    this.#journal = options.journalDir ? new CallJournal<CallSnapshot>(options.journalDir, logger) : null;
    this.#offDown = events.on('media-server.down', ({ id, reason }) => {
      void this.#failover(id, reason).catch((e: unknown) => logger.error({ err: e, mediaServer: id }, 'failover failed'));
    });
  }

  readonly #offDown: () => void;

  /** Writes the call down as it is now (no-op without a journal or once it ended). */
  #persist(entry: CallEntry): void {
    if (!this.#journal || entry.ended) return;
    this.#journal.save({
      info: entry.info,
      audioPath: entry.audioPath,
      parties: entry.parties,
      audioPathLocations: entry.audioPathLocations,
      mediaServerId: entry.mediaServerId,
      legs: entry.legs,
      recordings: [...this.#recordings.values()].filter((r) => r.call === entry).map(({ call: _, ...r }) => r),
    });
  }

  /**
   * A party says where it receives RTP now (a SIP callee's answer, a re-INVITE): the media server
   * in the path relays to it there. Its codec may be given too (kept for a later failover).
   */
  async updateParty(callId: string, role: LegRole, rtp: Endpoint): Promise<void> {
    const entry = this.#entry(callId);
    const party = entry.parties.find((p) => p.role === role);
    if (party) party.rtp = rtp;
    else entry.parties.push({ role, codec: { payloadType: 0, name: 'PCMU', clockRate: 8000 }, rtp });
    if (entry.mediaServerId !== null) await this.#client(entry.mediaServerId).setRemote(callId, role, rtp);
    // Talking directly: the other party now sends here.
    else entry.legs = this.#directTargets(entry);
    this.#persist(entry);
  }

  /**
   * After a restart: takes back the calls a previous run wrote down. Their media servers (standalone
   * ones kept recording meanwhile) answer for them again as soon as they re-register; the call
   * sources hang them up as usual. Returns how many calls were restored.
   */
  restore(): number {
    if (!this.#journal) return 0;
    const snapshots = this.#journal.loadAll();
    for (const s of snapshots) {
      const entry: CallEntry = {
        info: s.info,
        audioPath: s.audioPath,
        parties: s.parties,
        audioPathLocations: s.audioPathLocations,
        mediaServerId: s.mediaServerId,
        legs: s.legs,
        recordings: new Map(),
        inserting: null,
        ended: false,
      };
      this.#calls.set(s.info.callId, entry);
      for (const r of s.recordings) {
        entry.recordings.set(r.info.recordingId, r.info);
        this.#recordings.set(r.info.recordingId, { ...r, call: entry });
      }
    }
    if (snapshots.length > 0) this.#logger.info({ calls: snapshots.length, recordings: this.#recordings.size }, 'calls in progress restored from the journal');
    return snapshots.length;
  }

  /**
   * The media server of some calls died: each is moved to another server chosen by the same rules
   * (never the dead one), its parties re-pointed, and each of its recordings continues there as
   * the next segment, the gap between them marked. A dynamic call that was not recording goes back
   * to direct media.
   */
  async #failover(deadId: string, reason: string): Promise<void> {
    const affected = [...this.#calls.values()].filter((e) => e.mediaServerId === deadId && !e.ended);
    if (affected.length === 0) return;
    this.#logger.warn({ mediaServer: deadId, calls: affected.length, reason }, 'media server died with calls on it: failing over');
    await Promise.all(affected.map((entry) => this.#failoverCall(entry, deadId, reason)));
  }

  async #failoverCall(entry: CallEntry, deadId: string, reason: string): Promise<void> {
    const diedAt = Date.now();
    const callId = entry.info.callId;
    const recordings = [...this.#recordings.values()].filter((r) => r.call === entry);
    entry.mediaServerId = null;
    if (entry.audioPath === 'dynamic' && recordings.length === 0) {
      entry.legs = this.#directTargets(entry);
      this.#events.emit('call.media-changed', { call: entry.info, mediaServerId: null, legs: entry.legs, reason: `media server ${deadId} died` });
      return;
    }
    try {
      entry.inserting = this.#insertMediaServer(entry, `failover from ${deadId}`, [deadId]).finally(() => (entry.inserting = null));
      await entry.inserting;
    } catch (e) {
      const error = toCapstanError(e);
      this.#logger.error({ callId, mediaServer: deadId, err: error }, 'no media server to fail over to: the call has no recording until one is up');
      for (const r of recordings) this.#events.emit('recording.failed', { recording: r.current, callId, error: error.toJSON() });
      return;
    }
    if (entry.ended) return;
    const mediaServerId = entry.mediaServerId!;
    void this.#client(deadId)
      .releaseCall(callId)
      .catch(() => undefined);
    for (const r of recordings) {
      const index = (r.current.segment?.index ?? 0) + 1;
      const id = segmentId(r.info.recordingId, index);
      try {
        const started = await this.#client(mediaServerId).startRecording(callId, {
          recordingId: id,
          mime: r.format.mime,
          channels: r.format.channels,
          ...(r.format.encryption ? { encryption: r.format.encryption } : {}),
        });
        if (r.paused) await this.#client(mediaServerId).pauseRecording(id, { mode: r.paused });
        const startedAt = Date.now();
        const rootStart = Date.parse(r.info.startedAt);
        const segment: RecordingInfo = {
          ...r.info,
          recordingId: id,
          mediaServerId,
          fileName: started.fileName,
          uri: started.uri,
          startedAt: new Date(startedAt).toISOString(),
          segment: { of: r.info.recordingId, index, startMs: startedAt - rootStart },
        };
        const previous = r.current.segment?.index ?? 0;
        const before = r.current;
        r.current = segment;
        // Marked down is not always dead (a server too busy to report): if it still answers, its
        // segment is stopped and completed now, instead of recording a call that left it.
        void this.#client(deadId)
          .stopRecording(before.recordingId)
          .then((result) => {
            this.#logger.warn({ callId, recordingId: before.recordingId, mediaServer: deadId }, 'the media server marked down still answered: its segment is complete');
            this.#events.emit('recording.completed', { recording: before, result });
          })
          .catch(() => undefined);
        this.#persist(entry);
        const gap = { afterSegment: previous, startMs: Math.max(0, diedAt - rootStart), endMs: startedAt - rootStart, reason: `media server ${deadId} died (${reason})` };
        this.#logger.warn({ callId, recordingId: r.info.recordingId, segment: index, mediaServer: mediaServerId, gapMs: gap.endMs - gap.startMs }, 'recording continues on another media server');
        this.#events.emit('recording.segment-started', { recording: segment, gap });
      } catch (e) {
        const error = toCapstanError(e);
        this.#logger.error({ callId, recordingId: r.info.recordingId, err: error }, 'the recording could not continue on the new media server');
        this.#events.emit('recording.failed', { recording: r.current, callId, error: error.toJSON() });
      }
    }
  }

  #client(mediaServerId: string): MediaServerClient {
    const server = this.#registry.get(mediaServerId);
    if (!server) throw new CapstanError('CAPSTAN_ERR_NO_MEDIA_SERVER', `Media server ${mediaServerId} is unknown`);
    return new MediaServerClient(server.id, server.controlUrl, this.#options.secret);
  }

  #entry(callId: string): CallEntry {
    const entry = this.#calls.get(callId);
    if (!entry) throw new CapstanError('CAPSTAN_ERR_CALL_NOT_FOUND', `No call with id ${callId}`, { details: { callId } });
    return entry;
  }

  get(callId: string): CallInfo & { audioPath: AudioPath; mediaServerId: string | null; legs: { role: LegRole; rtp: Endpoint }[]; recordings: RecordingInfo[] } {
    const entry = this.#entry(callId);
    return { ...entry.info, audioPath: entry.audioPath, mediaServerId: entry.mediaServerId, legs: entry.legs, recordings: [...entry.recordings.values()] };
  }

  /**
   * A freshly signed URI of a finished file on a media server that is registered now, or null.
   * A requester resuming after a restart uses it instead of the URI it kept: the media server may
   * listen on another port since (embedded ones take a free port at each start), and the kept
   * URI may have expired.
   */
  fileUri(mediaServerId: string, fileName: string): string | null {
    const server = this.#registry.get(mediaServerId);
    if (!server || server.state !== 'up') return null;
    return signFileUri(server.controlUrl, fileName, this.#options.secret, FILE_URI_TTL_SECONDS);
  }

  list(): (CallInfo & { audioPath: AudioPath; mediaServerId: string | null })[] {
    return [...this.#calls.values()].map((e) => ({ ...e.info, audioPath: e.audioPath, mediaServerId: e.mediaServerId }));
  }

  /** Where each party sends when the legs talk directly: to the other party. */
  #directTargets(entry: CallEntry): { role: LegRole; rtp: Endpoint }[] {
    const caller = entry.parties.find((p) => p.role === 'caller')?.rtp;
    const callee = entry.parties.find((p) => p.role === 'callee')?.rtp;
    return [
      ...(callee ? [{ role: 'caller' as const, rtp: callee }] : []),
      ...(caller ? [{ role: 'callee' as const, rtp: caller }] : []),
    ];
  }

  /**
   * Puts a media server into the call's audio path: selected by the rules, the call allocated on
   * it (relaying to each party), then the parties re-pointed at it (`call.media-changed`, which a
   * call source turns into a re-INVITE or, for simulated calls, a message on their event stream).
   */
  async #insertMediaServer(entry: CallEntry, reason: string, avoid: string[] = []): Promise<string> {
    const info = entry.info;
    const rules = this.#options.selection;
    const ruleSetName = rules.byLocation[info.location] ?? rules.default;
    const t0 = performance.now();
    let selection;
    try {
      selection = selectByRules(
        rules.ruleSets[ruleSetName]!,
        { deviceLocation: info.location, audioPathLocations: entry.audioPathLocations, hostLocation: this.#options.location, avoidServers: avoid },
        this.#registry.list(),
      );
    } catch (e) {
      const error = toCapstanError(e);
      this.#logger.error({ callId: info.callId, ruleSet: ruleSetName, reason: error.message }, 'no media server for the call');
      this.#events.emit('media-server.selection-failed', { callId: info.callId, ruleSet: ruleSetName, error: error.toJSON() });
      throw error;
    }
    this.#logger.info({ callId: info.callId, mediaServer: selection.server.id, ruleSet: ruleSetName, reason: selection.reason }, 'media server selected');
    const allocated = await new MediaServerClient(selection.server.id, selection.server.controlUrl, this.#options.secret).allocateCall({
      callId: info.callId,
      legs: entry.parties.map((l) => ({ legId: l.role, codec: l.codec, ...(l.rtp ? { remote: l.rtp } : {}) })),
    });
    this.#registry.noteAllocated(selection.server.id, allocated.legs.length);
    entry.mediaServerId = selection.server.id;
    entry.legs = allocated.legs.map((l) => ({ role: l.legId, rtp: l.rtp }));
    const insertMs = performance.now() - t0;
    this.#logger.info({ callId: info.callId, mediaServer: selection.server.id, reason, insertMs: Math.round(insertMs * 10) / 10 }, 'media server in the audio path');
    this.#persist(entry);
    this.#events.emit('call.media-changed', { call: info, mediaServerId: selection.server.id, legs: entry.legs, reason });
    return selection.server.id;
  }

  /** The call's media server, inserting one first when a dynamic call has none. */
  #mediaServerFor(entry: CallEntry, reason: string): Promise<string> {
    if (entry.mediaServerId !== null) return Promise.resolve(entry.mediaServerId);
    entry.inserting ??= this.#insertMediaServer(entry, reason).finally(() => (entry.inserting = null));
    return entry.inserting;
  }

  /** Takes the media server out of a dynamic call's path when nothing needs it any more. */
  async #removeMediaServer(entry: CallEntry): Promise<void> {
    const id = entry.mediaServerId;
    if (entry.audioPath !== 'dynamic' || id === null || entry.recordings.size > 0 || entry.ended) return;
    entry.mediaServerId = null;
    entry.legs = this.#directTargets(entry);
    this.#persist(entry);
    this.#events.emit('call.media-changed', { call: entry.info, mediaServerId: null, legs: entry.legs, reason: 'no recording' });
    await this.#client(id)
      .releaseCall(entry.info.callId)
      .catch((e: unknown) => this.#logger.warn({ err: e, callId: entry.info.callId }, 'releasing the call on its media server failed'));
  }

  /**
   * Creates the call on a selected media server, then raises offered and connected and waits for
   * their listeners (the Recorder's policies), so a recording asked for at connect is running
   * before the caller sends its first packet.
   */
  async createCall(request: NewCall): Promise<ConnectedCall> {
    if (this.#closed) throw new CapstanError('CAPSTAN_ERR_CLOSED', 'Telephony Services is shutting down');
    const info: CallInfo = {
      callId: randomUUID(),
      source: request.source,
      direction: request.direction ?? 'inbound',
      from: request.from,
      to: request.to,
      workgroup: request.workgroup ?? null,
      agent: request.agent ?? null,
      location: request.location ?? this.#options.location,
      startedAt: new Date().toISOString(),
      attributes: request.attributes ?? {},
    };
    await this.#events.emitAndWait('call.offered', { call: info });
    const paths = this.#options.audioPaths;
    const wanted = request.audioPath ?? paths.byLocation[info.location] ?? paths.default;
    // Legs can only talk directly between two parties, once the caller said where it receives.
    const audioPath: AudioPath = wanted === 'dynamic' && request.legs.length === 2 && request.legs.find((l) => l.role === 'caller')?.rtp ? 'dynamic' : 'always-in';
    const entry: CallEntry = {
      info,
      audioPath,
      parties: request.legs,
      audioPathLocations: request.audioPathLocations ?? [],
      mediaServerId: null,
      legs: [],
      recordings: new Map(),
      inserting: null,
      ended: false,
    };
    if (audioPath === 'always-in') await this.#insertMediaServer(entry, 'always-in');
    else entry.legs = this.#directTargets(entry);
    this.#calls.set(info.callId, entry);
    this.#persist(entry);
    await this.#events.emitAndWait('call.connected', { call: info });
    if (info.workgroup !== null || info.agent !== null) {
      await this.#events.emitAndWait('call.assigned', { call: info, workgroup: info.workgroup, agent: info.agent });
    }
    // Targets as they are now: a recording started at connect already put a media server in the path.
    return { call: info, audioPath, mediaServerId: entry.mediaServerId, legs: entry.legs };
  }

  /** Starts recording a call; answers with the media server's file name and URI. */
  async startRecording(callId: string, options: StartRecordingOptions): Promise<RecordingInfo> {
    const entry = this.#entry(callId);
    if (entry.ended) throw new CapstanError('CAPSTAN_ERR_CONFLICT', `Call ${callId} has ended`, { details: { callId } });
    const recordingId = randomUUID();
    try {
      const format = decideFormat({
        requester: options.requester,
        compression: options.compression,
        mime: options.mime,
        channels: options.channels,
        recordingMimeTypeDefault: this.#options.recordingMimeTypeDefault,
        encrypt: Boolean(options.encryption),
      });
      const { mime, channels } = format;
      if (format.downmixed) this.#logger.info({ callId, recordingId, mime }, `${mime} is mono: the recording mixes all parties into one channel`);
      const mediaServerId = await this.#mediaServerFor(entry, 'recording');
      const started = await this.#client(mediaServerId).startRecording(callId, {
        recordingId,
        mime,
        channels,
        ...(options.encryption ? { encryption: { publicKeyPem: options.encryption.publicKeyPem } } : {}),
      });
      const info: RecordingInfo = {
        recordingId,
        callId,
        requester: options.requester,
        mediaServerId,
        fileName: started.fileName,
        uri: started.uri,
        mime,
        channels,
        deliverTo: options.deliverTo ?? null,
        tags: options.tags ?? [],
        keyId: options.encryption?.keyId ?? null,
        startedAt: new Date().toISOString(),
      };
      entry.recordings.set(recordingId, info);
      this.#recordings.set(recordingId, {
        call: entry,
        info,
        current: info,
        format: { mime, channels, encryption: options.encryption ? { publicKeyPem: options.encryption.publicKeyPem } : null },
        paused: null,
      });
      this.#persist(entry);
      this.#logger.info({ callId, recordingId, requester: options.requester, fileName: info.fileName }, 'recording started');
      this.#events.emit('recording.started', { recording: info });
      return info;
    } catch (e) {
      const error = toCapstanError(e);
      this.#events.emit('recording.failed', { recording: null, callId, error: error.toJSON() });
      throw error;
    }
  }

  #recording(recordingId: string): RecordingEntry {
    const found = this.#recordings.get(recordingId);
    if (!found) throw new CapstanError('CAPSTAN_ERR_RECORDING_NOT_FOUND', `No recording in progress with id ${recordingId}`, { details: { recordingId } });
    return found;
  }

  /** The call a recording in progress belongs to. */
  callOfRecording(recordingId: string): CallInfo {
    return this.#recording(recordingId).call.info;
  }

  async pauseRecording(recordingId: string, mode: 'skip' | 'silence'): Promise<void> {
    const r = this.#recording(recordingId);
    await this.#client(r.current.mediaServerId).pauseRecording(r.current.recordingId, { mode });
    r.paused = mode;
    this.#persist(r.call);
    this.#events.emit('recording.paused', { recording: r.info, mode });
  }

  async resumeRecording(recordingId: string): Promise<void> {
    const r = this.#recording(recordingId);
    await this.#client(r.current.mediaServerId).resumeRecording(r.current.recordingId);
    r.paused = null;
    this.#persist(r.call);
    this.#events.emit('recording.resumed', { recording: r.info });
  }

  /** Stops a recording; the requester then gets `recording.completed` with the file's size and checksum. */
  async stopRecording(recordingId: string): Promise<RecordingResultInfo> {
    const { call, current: info } = this.#recording(recordingId);
    this.#recordings.delete(recordingId);
    call.recordings.delete(recordingId);
    this.#persist(call);
    try {
      // After a failover this stops the last segment; earlier ones complete as they are recovered.
      const result = await this.#client(info.mediaServerId).stopRecording(info.recordingId);
      this.#logger.info({ recordingId, segment: info.segment?.index ?? 0, durationMs: result.durationMs, sizeBytes: result.sizeBytes }, 'recording completed');
      this.#events.emit('recording.completed', { recording: info, result });
      await this.#removeMediaServer(call);
      return result;
    } catch (e) {
      const error = toCapstanError(e);
      this.#events.emit('recording.failed', { recording: info, callId: info.callId, error: error.toJSON() });
      throw error;
    }
  }

  /** Ends a call: stops its recordings, releases it on the media server, raises disconnected. */
  async hangup(callId: string, reason = 'hangup'): Promise<void> {
    const entry = this.#entry(callId);
    if (entry.ended) return;
    entry.ended = true;
    // A failover in progress finishes first, so the recordings are stopped where they run now.
    await entry.inserting?.catch(() => undefined);
    for (const recordingId of [...entry.recordings.keys()]) {
      await this.stopRecording(recordingId).catch((e: unknown) => this.#logger.error({ err: e, recordingId }, 'stopping a recording at hangup failed'));
    }
    if (entry.mediaServerId !== null) {
      await this.#client(entry.mediaServerId)
        .releaseCall(callId)
        .catch((e: unknown) => this.#logger.warn({ err: e, callId }, 'releasing the call on its media server failed'));
    }
    this.#calls.delete(callId);
    this.#journal?.remove(callId);
    this.#events.emit('call.disconnected', { call: entry.info, reason });
  }

  /** Hangs up every call (host shutdown), so each recording is finalized and handed over. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#offDown();
    await Promise.all([...this.#calls.keys()].map((id) => this.hangup(id, 'shutdown').catch(() => undefined)));
  }
}
