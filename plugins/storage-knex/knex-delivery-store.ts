import type { Knex } from 'knex';
import type { Delivery, DeliveryStatus, DeliveryStore } from '../../core/delivery/delivery-store.ts';
import type { CallInfo, RecordingResultInfo } from '../../core/events/call-events.ts';

interface Row {
  recording_id: string;
  call_id: string;
  requester: string;
  status: DeliveryStatus;
  to: string | null;
  agent: string | null;
  workgroup: string | null;
  call: string;
  file_name: string;
  uri: string | null;
  size_bytes: number | string | null;
  sha256: string | null;
  mime: string;
  attempts: number;
  last_error: string | null;
  message_id: string | null;
  result: string | null;
  created_at: string;
  delivered_at: string | null;
  media_server_id: string | null;
}

function fromRow(r: Row): Delivery {
  return {
    recordingId: r.recording_id,
    callId: r.call_id,
    requester: r.requester,
    status: r.status,
    to: r.to,
    agent: r.agent,
    workgroup: r.workgroup,
    call: JSON.parse(r.call) as CallInfo,
    fileName: r.file_name,
    uri: r.uri,
    sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes),
    sha256: r.sha256,
    mime: r.mime,
    attempts: r.attempts,
    lastError: r.last_error,
    messageId: r.message_id,
    result: r.result === null ? null : (JSON.parse(r.result) as RecordingResultInfo),
    createdAt: r.created_at,
    deliveredAt: r.delivered_at,
    mediaServerId: r.media_server_id,
  };
}

/** Deliveries in the Recorder's database (same knex connection as the recordings). */
export class KnexDeliveryStore implements DeliveryStore {
  readonly #db: Knex;

  constructor(db: Knex) {
    this.#db = db;
  }

  async insert(d: Parameters<DeliveryStore['insert']>[0]): Promise<void> {
    await this.#db('deliveries')
      .insert({
        recording_id: d.recordingId,
        call_id: d.callId,
        requester: d.requester,
        status: 'recording',
        to: d.to,
        agent: d.agent,
        workgroup: d.workgroup,
        call: JSON.stringify(d.call),
        file_name: d.fileName,
        uri: d.uri,
        mime: d.mime,
        media_server_id: d.mediaServerId ?? null,
        created_at: new Date().toISOString(),
      })
      .onConflict('recording_id')
      .ignore();
  }

  async markPending(recordingId: string, result: RecordingResultInfo): Promise<void> {
    await this.#db('deliveries')
      .where({ recording_id: recordingId, status: 'recording' })
      .update({ status: 'pending', uri: result.uri, size_bytes: result.sizeBytes, sha256: result.sha256, file_name: result.fileName, result: JSON.stringify(result) });
  }

  async markAttemptFailed(recordingId: string, error: string): Promise<void> {
    await this.#db('deliveries').where({ recording_id: recordingId, status: 'pending' }).increment('attempts', 1).update({ last_error: error });
  }

  async markDelivered(recordingId: string, messageId: string): Promise<void> {
    await this.#db('deliveries')
      .where({ recording_id: recordingId, status: 'pending' })
      .increment('attempts', 1)
      .update({ status: 'delivered', message_id: messageId, delivered_at: new Date().toISOString(), last_error: null });
  }

  async markUndeliverable(recordingId: string, error: string): Promise<void> {
    await this.#db('deliveries').where({ recording_id: recordingId }).whereIn('status', ['recording', 'pending']).update({ status: 'undeliverable', last_error: error });
  }

  async markRemoteDeleted(recordingId: string): Promise<void> {
    await this.#db('deliveries').where({ recording_id: recordingId, status: 'delivered' }).update({ uri: null });
  }

  async get(recordingId: string): Promise<Delivery | null> {
    const row = (await this.#db('deliveries').where({ recording_id: recordingId }).first()) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  async list(query: { status?: DeliveryStatus; limit?: number; offset?: number }): Promise<Delivery[]> {
    const q = this.#db('deliveries').orderBy('created_at', 'desc').limit(query.limit ?? 50).offset(query.offset ?? 0);
    if (query.status) q.where({ status: query.status });
    return ((await q) as Row[]).map(fromRow);
  }

  async listUnfinished(): Promise<Delivery[]> {
    const rows = (await this.#db('deliveries')
      .where({ status: 'pending' })
      .orWhere((q) => q.where({ status: 'delivered' }).whereNotNull('uri'))) as Row[];
    return rows.map(fromRow);
  }
}
