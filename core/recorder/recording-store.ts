/**
 * What the Recorder keeps about each recording. The `recordingStore` service (the knex plugin by
 * default) implements it; every write is idempotent so a step replayed after a crash changes nothing.
 */
import type { CallInfo, RecordingGapInfo, RecordingInfo, RecordingResultInfo } from '../events/call-events.ts';

/** The life of a recording on the requester's side, in order. */
export type RecordingStatus = 'recording' | 'completed' | 'stored' | 'failed' | 'purged';

export interface StoredRecording {
  id: string;
  callId: string;
  requester: string;
  status: RecordingStatus;
  direction: string;
  from: string;
  to: string;
  workgroup: string | null;
  agent: string | null;
  mediaServerId: string;
  fileName: string;
  /** Signed URI on the media server; null once the media server's copy is deleted. */
  uri: string | null;
  mime: string;
  channels: number;
  sampleRate: number | null;
  samples: number | null;
  durationMs: number | null;
  sizeBytes: number | null;
  sha256: string | null;
  startedAt: string;
  stoppedAt: string | null;
  storedAt: string | null;
  /** Path of the media inside its location. */
  mediaPath: string | null;
  /**
   * Where the media is: `store` (the content store), a retention location's name, or
   * `rcs:<server id>` (a Remote Content Service server's repository).
   */
  mediaLocation: string | null;
  /** The call's location (null for recordings stored before it was kept). */
  location: string | null;
  /** For a failover segment (index 1, 2...): the recording it continues; null for a recording itself. */
  segmentOf: string | null;
  /** 0 for a recording (its first segment), then 1, 2... */
  segmentIndex: number;
  /** When this segment started, ms after the recording's start (0 for the first). */
  segmentStartMs: number;
  /** On a recording: the audio missing between its segments. */
  gaps: RecordingGapInfo[];
  tags: string[];
  /** Recorder key of an encrypted (SASF) recording; null when plain. */
  keyId: string | null;
  pauses: RecordingResultInfo['pauses'];
  dtmf: RecordingResultInfo['dtmf'];
  error: string | null;
}

export interface RecordingQuery {
  callId?: string;
  /** Started at or after (ISO 8601). */
  from?: string;
  /** Started before (ISO 8601). */
  to?: string;
  agent?: string;
  workgroup?: string;
  /** Has this tag. */
  tag?: string;
  /** Calling number (exact). */
  ani?: string;
  /** Called number (exact). */
  dnis?: string;
  limit?: number;
  offset?: number;
  /** Include failover segments as rows of their own (retention does). Default: recordings only. */
  includeSegments?: boolean;
}

export interface RecordingStore {
  /** Records that a recording started (no-op when the id exists). */
  insertStarted(recording: RecordingInfo, call: CallInfo): Promise<void>;
  /** The media server finished the file: its size, checksum and timing. */
  markCompleted(id: string, result: RecordingResultInfo): Promise<void>;
  /** The media is kept and verified: in the content store (`mediaLocation` default `store`) or elsewhere. */
  markStored(id: string, mediaPath: string, storedAt: string, mediaLocation?: string): Promise<void>;
  /** The media server's copy is deleted. */
  markRemoteDeleted(id: string): Promise<void>;
  markFailed(id: string, error: string): Promise<void>;
  /** Retention moved the media to another location. */
  markMoved(id: string, location: string, mediaPath: string): Promise<void>;
  /** Retention deleted the media; the row stays. */
  markPurged(id: string): Promise<void>;
  /** Retention deleted the whole recording. */
  remove(id: string): Promise<void>;
  get(id: string): Promise<StoredRecording | null>;
  /** Marks (or replaces) the gap that follows segment `gap.afterSegment` of recording `id`. */
  addGap(id: string, gap: RecordingGapInfo): Promise<void>;
  /** Moves a gap's start once the segment before it is recovered and its length is known. */
  setGapStart(id: string, afterSegment: number, startMs: number): Promise<void>;
  /** The failover segments of recording `id` (index 1, 2...). */
  listSegments(id: string): Promise<StoredRecording[]>;
  list(query: RecordingQuery): Promise<{ items: StoredRecording[]; total: number }>;
  /** Completed but not yet stored, or stored with the media server's copy not yet deleted. */
  listUnfinished(): Promise<StoredRecording[]>;
  close(): Promise<void>;
}
