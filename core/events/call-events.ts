/**
 * The call and recording events every part of Capstan (and, later, handlers) subscribes to.
 * Payloads are plain JSON-able objects so they can be copied into handler sandboxes as they are.
 */
import type { CapstanError } from '../errors.ts';
import type { HandlerEvents } from './handler-events.ts';

/** Who asked for a recording; decides format and where the file goes after the fetch. */
export type Requester = 'recorder' | 'recorder-rcs' | 'workgroup' | 'client' | 'handler';
export const REQUESTERS: readonly Requester[] = ['recorder', 'recorder-rcs', 'workgroup', 'client', 'handler'];

export type CallDirection = 'inbound' | 'outbound' | 'internal';

export interface CallInfo {
  callId: string;
  /** Which call source created it: 'simulator' or 'sip'. */
  source: string;
  direction: CallDirection;
  /** Calling number (ANI). */
  from: string;
  /** Called number (DNIS). */
  to: string;
  workgroup: string | null;
  agent: string | null;
  /** Location of the requesting device (station or line). */
  location: string;
  startedAt: string;
  attributes: Record<string, string>;
}

export interface RecordingInfo {
  recordingId: string;
  callId: string;
  requester: Requester;
  mediaServerId: string;
  fileName: string;
  uri: string;
  mime: string;
  channels: 1 | 2;
  /** Where the finished recording goes after the fetch: an e-mail address for mail requesters. */
  deliverTo: string | null;
  tags: string[];
  /** Id of the Recorder key an encrypted (SASF) recording is encrypted to; null when plain. */
  keyId: string | null;
  startedAt: string;
  /**
   * Set on a failover segment: the recording it continues (`of`), its index (1, 2...) and when it
   * started, ms after that recording's start. Absent on a recording's first (or only) segment.
   */
  segment?: { of: string; index: number; startMs: number } | undefined;
}

/** Audio a recording lacks between two segments: ms after the recording's start. */
export interface RecordingGapInfo {
  /** The segment the gap follows. */
  afterSegment: number;
  startMs: number;
  endMs: number;
  reason: string;
}

export interface RecordingResultInfo {
  fileName: string;
  uri: string;
  mime: string;
  channels: number;
  sampleRate: number;
  samples: number;
  durationMs: number;
  sizeBytes: number;
  sha256: string;
  startedAt: string;
  stoppedAt: string;
  pauses: { mode: 'skip' | 'silence'; startMs: number; endMs: number }[];
  dtmf: { leg: 'caller' | 'callee'; digit: string; atMs: number; durationMs: number }[];
}

export interface CallEvents {
  'call.offered': { call: CallInfo };
  'call.connected': { call: CallInfo };
  'call.assigned': { call: CallInfo; workgroup: string | null; agent: string | null };
  'call.held': { call: CallInfo; leg: 'caller' | 'callee' };
  'call.resumed': { call: CallInfo; leg: 'caller' | 'callee' };
  'call.transferred': { call: CallInfo; to: string };
  'call.disconnected': { call: CallInfo; reason: string };
}

export interface RecordingEvents {
  'recording.started': { recording: RecordingInfo };
  'recording.paused': { recording: RecordingInfo; mode: 'skip' | 'silence' };
  'recording.resumed': { recording: RecordingInfo };
  'recording.completed': { recording: RecordingInfo; result: RecordingResultInfo };
  'recording.failed': { recording: RecordingInfo | null; callId: string; error: ReturnType<CapstanError['toJSON']> };
  /** The requester has the recording safely (database, RCS) and the media server's copy is deleted. */
  'recording.stored': { recording: RecordingInfo; storedId: string; location: string };
  /** The recording was handed to its delivery (mail accepted by the SMTP server or the outbox). */
  'recording.delivered': { recording: RecordingInfo; to: string };
}

/** Events for call sources (SIP, simulator), not for handlers. */
export interface CallSourceEvents {
  /**
   * The call's audio path changed: a media server was put in (or taken out of) it. Each party must
   * now send its RTP to `legs[].rtp` (a SIP call source re-INVITEs; simulated calls hear it on
   * their event stream).
   */
  'call.media-changed': { call: CallInfo; mediaServerId: string | null; legs: { role: 'caller' | 'callee'; rtp: { address: string; port: number } }[]; reason: string };
}

export interface MediaServerEvents {
  'media-server.up': { id: string; location: string };
  'media-server.down': { id: string; location: string; reason: string };
  /** The selection rules found no media server for a call: the requester got CAPSTAN_ERR_NO_MEDIA_SERVER. */
  'media-server.selection-failed': { callId: string; ruleSet: string; error: ReturnType<CapstanError['toJSON']> };
  /** A media server (back after a crash) offers files it repaired: segments cut short by its death. */
  'media-server.recovered': { id: string; files: { recordingId: string; fileName: string; uri: string }[] };
  /**
   * Failover: the media server recording a call died, and each of its recordings continues on
   * another as the next segment (`recording.segment`), after `gap`.
   */
  'recording.segment-started': { recording: RecordingInfo; gap: RecordingGapInfo };
}

export type CapstanEvents = CallEvents & RecordingEvents & CallSourceEvents & MediaServerEvents & HandlerEvents;
