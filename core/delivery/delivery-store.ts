/**
 * Recordings on their way to a mailbox. A row exists from the recording's start, so a host that
 * restarts finishes every delivery; each step is idempotent.
 */
export type DeliveryStatus =
  /** Recording in progress. */
  | 'recording'
  /** Finished on the media server, waiting for (or retrying) the mail. */
  | 'pending'
  /** The SMTP server (or the outbox) accepted it; the media server's copy may still need deleting. */
  | 'delivered'
  /** No address to send it to: the file stays on the media server. */
  | 'undeliverable';

import type { CallInfo, RecordingResultInfo } from '../events/call-events.ts';

export interface Delivery {
  recordingId: string;
  callId: string;
  requester: string;
  status: DeliveryStatus;
  to: string | null;
  agent: string | null;
  workgroup: string | null;
  /** The call as it was when the recording started (subject line, and the Recorder if it adopts it). */
  call: CallInfo;
  fileName: string;
  /** Signed URI on the media server; null once the media server's copy is deleted. */
  uri: string | null;
  sizeBytes: number | null;
  sha256: string | null;
  mime: string;
  attempts: number;
  lastError: string | null;
  messageId: string | null;
  /** What the media server said at stop; null while recording. */
  result: RecordingResultInfo | null;
  createdAt: string;
  deliveredAt: string | null;
  /** The media server holding the file (null for rows written before it was kept). */
  mediaServerId: string | null;
}

export interface DeliveryStore {
  /** No-op when the recording already has a row. */
  insert(delivery: Pick<Delivery, 'recordingId' | 'callId' | 'requester' | 'to' | 'agent' | 'workgroup' | 'call' | 'fileName' | 'uri' | 'mime'> & { mediaServerId?: string | null }): Promise<void>;
  /** The file is complete: its final URI, size and checksum (only from 'recording'). */
  markPending(recordingId: string, result: RecordingResultInfo): Promise<void>;
  markAttemptFailed(recordingId: string, error: string): Promise<void>;
  markDelivered(recordingId: string, messageId: string): Promise<void>;
  markUndeliverable(recordingId: string, error: string): Promise<void>;
  /** The media server's copy is deleted. */
  markRemoteDeleted(recordingId: string): Promise<void>;
  get(recordingId: string): Promise<Delivery | null>;
  list(query: { status?: DeliveryStatus; limit?: number; offset?: number }): Promise<Delivery[]>;
  /** Pending, or delivered with the media server's copy not yet deleted. */
  listUnfinished(): Promise<Delivery[]>;
}
