import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { CapstanError } from '../../core/errors.ts';
import type { CallInfo, RecordingGapInfo, RecordingInfo, RecordingResultInfo } from '../../core/events/call-events.ts';
import type { RecordingQuery, RecordingStore, StoredRecording } from '../../core/recorder/recording-store.ts';
import { migrationSource } from './migrations.ts';

export type KnexStoreOptions =
  | { client: 'sqlite'; filename: string }
  | { client: 'pg'; connection: string };

interface Row {
  id: string;
  call_id: string;
  requester: string;
  status: StoredRecording['status'];
  direction: string;
  ani: string;
  dnis: string;
  workgroup: string | null;
  agent: string | null;
  media_server_id: string;
  file_name: string;
  uri: string | null;
  mime: string;
  channels: number;
  sample_rate: number | null;
  samples: number | string | null;
  duration_ms: number | null;
  size_bytes: number | string | null;
  sha256: string | null;
  started_at: string;
  stopped_at: string | null;
  stored_at: string | null;
  media_path: string | null;
  location: string | null;
  segment_of: string | null;
  segment_index: number;
  segment_start_ms: number;
  gaps: string;
  media_location: string | null;
  tags: string;
  key_id: string | null;
  pauses: string;
  dtmf: string;
  error: string | null;
}

// pg returns bigint columns as strings.
const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function fromRow(r: Row): StoredRecording {
  return {
    id: r.id,
    callId: r.call_id,
    requester: r.requester,
    status: r.status,
    direction: r.direction,
    from: r.ani,
    to: r.dnis,
    workgroup: r.workgroup,
    agent: r.agent,
    mediaServerId: r.media_server_id,
    fileName: r.file_name,
    uri: r.uri,
    mime: r.mime,
    channels: r.channels,
    sampleRate: r.sample_rate,
    samples: num(r.samples),
    durationMs: r.duration_ms,
    sizeBytes: num(r.size_bytes),
    sha256: r.sha256,
    startedAt: r.started_at,
    stoppedAt: r.stopped_at,
    storedAt: r.stored_at,
    mediaPath: r.media_path,
    location: r.location,
    segmentOf: r.segment_of,
    segmentIndex: r.segment_index,
    segmentStartMs: r.segment_start_ms,
    gaps: JSON.parse(r.gaps) as StoredRecording['gaps'],
    mediaLocation: r.media_location,
    tags: JSON.parse(r.tags) as string[],
    keyId: r.key_id,
    pauses: JSON.parse(r.pauses) as StoredRecording['pauses'],
    dtmf: JSON.parse(r.dtmf) as StoredRecording['dtmf'],
    error: r.error,
  };
}

/** The Recorder's database through knex: SQLite embedded, PostgreSQL for production. */
export class KnexRecordingStore implements RecordingStore {
  readonly #db: Knex;
  #closed = false;

  private constructor(db: Knex) {
    this.#db = db;
  }

  static async open(options: KnexStoreOptions): Promise<KnexRecordingStore> {
    let db: Knex;
    if (options.client === 'sqlite') {
      mkdirSync(dirname(options.filename), { recursive: true });
      db = knexFactory({
        client: 'sqlite3',
        connection: { filename: options.filename },
        useNullAsDefault: true,
        pool: {
          // WAL lets readers (the API) go on while the Recorder writes.
          afterCreate: (conn: { run: (sql: string, cb: (e: Error | null) => void) => void }, done: (e: Error | null, c: unknown) => void) =>
            conn.run('PRAGMA journal_mode = WAL', (e) => (e ? done(e, conn) : conn.run('PRAGMA busy_timeout = 5000', (e2) => done(e2, conn)))),
        },
      });
    } else {
      db = knexFactory({ client: 'pg', connection: options.connection, pool: { min: 0, max: 10 } });
    }
    try {
      await db.migrate.latest({ migrationSource });
    } catch (e) {
      await db.destroy();
      throw new CapstanError('CAPSTAN_ERR_STORAGE', `Recorder database unavailable: ${(e as Error).message}`, {
        details: { client: options.client },
        cause: e,
      });
    }
    return new KnexRecordingStore(db);
  }

  get knex(): Knex {
    return this.#db;
  }

  async insertStarted(recording: RecordingInfo, call: CallInfo): Promise<void> {
    await this.#db('recordings')
      .insert({
        id: recording.recordingId,
        call_id: call.callId,
        requester: recording.requester,
        status: 'recording',
        direction: call.direction,
        ani: call.from,
        dnis: call.to,
        workgroup: call.workgroup,
        agent: call.agent,
        location: call.location,
        segment_of: recording.segment?.of ?? null,
        segment_index: recording.segment?.index ?? 0,
        segment_start_ms: recording.segment?.startMs ?? 0,
        media_server_id: recording.mediaServerId,
        file_name: recording.fileName,
        uri: recording.uri,
        mime: recording.mime,
        channels: recording.channels,
        started_at: recording.startedAt,
        tags: JSON.stringify(recording.tags),
        key_id: recording.keyId,
      })
      .onConflict('id')
      .ignore();
  }

  async markCompleted(id: string, result: RecordingResultInfo): Promise<void> {
    // Only a recording still in progress moves to completed: replays are no-ops.
    await this.#db('recordings').where({ id, status: 'recording' }).update({
      status: 'completed',
      file_name: result.fileName,
      uri: result.uri,
      mime: result.mime,
      channels: result.channels,
      sample_rate: result.sampleRate,
      samples: result.samples,
      duration_ms: result.durationMs,
      size_bytes: result.sizeBytes,
      sha256: result.sha256,
      stopped_at: result.stoppedAt,
      pauses: JSON.stringify(result.pauses),
      dtmf: JSON.stringify(result.dtmf),
    });
  }

  async markStored(id: string, mediaPath: string, storedAt: string, mediaLocation = 'store'): Promise<void> {
    await this.#db('recordings').where({ id }).whereIn('status', ['completed', 'stored']).update({
      status: 'stored',
      media_path: mediaPath,
      media_location: mediaLocation,
      stored_at: storedAt,
    });
  }

  async markRemoteDeleted(id: string): Promise<void> {
    await this.#db('recordings').where({ id, status: 'stored' }).update({ uri: null });
  }

  async markFailed(id: string, error: string): Promise<void> {
    await this.#db('recordings').where({ id }).whereNot({ status: 'stored' }).update({ status: 'failed', error });
  }

  async markMoved(id: string, location: string, mediaPath: string): Promise<void> {
    await this.#db('recordings').where({ id, status: 'stored' }).update({ media_location: location, media_path: mediaPath });
  }

  async markPurged(id: string): Promise<void> {
    await this.#db('recordings').where({ id }).update({ status: 'purged', media_path: null, media_location: null });
  }

  async remove(id: string): Promise<void> {
    await this.#db('recordings').where({ id }).delete();
  }

  async addGap(id: string, gap: RecordingGapInfo): Promise<void> {
    await this.#db.transaction(async (trx) => {
      const row = (await trx('recordings').where({ id }).first('gaps')) as { gaps: string } | undefined;
      if (!row) return;
      const gaps = (JSON.parse(row.gaps) as RecordingGapInfo[]).filter((g) => g.afterSegment !== gap.afterSegment);
      gaps.push(gap);
      gaps.sort((a, b) => a.afterSegment - b.afterSegment);
      await trx('recordings').where({ id }).update({ gaps: JSON.stringify(gaps) });
    });
  }

  async setGapStart(id: string, afterSegment: number, startMs: number): Promise<void> {
    await this.#db.transaction(async (trx) => {
      const row = (await trx('recordings').where({ id }).first('gaps')) as { gaps: string } | undefined;
      if (!row) return;
      const gaps = (JSON.parse(row.gaps) as RecordingGapInfo[]).map((g) => (g.afterSegment === afterSegment ? { ...g, startMs: Math.min(startMs, g.endMs) } : g));
      await trx('recordings').where({ id }).update({ gaps: JSON.stringify(gaps) });
    });
  }

  async listSegments(id: string): Promise<StoredRecording[]> {
    const rows = (await this.#db('recordings').where({ segment_of: id }).orderBy('segment_index')) as Row[];
    return rows.map(fromRow);
  }

  async get(id: string): Promise<StoredRecording | null> {
    const row = (await this.#db('recordings').where({ id }).first()) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  async list(query: RecordingQuery): Promise<{ items: StoredRecording[]; total: number }> {
    const base = this.#db('recordings');
    if (!query.includeSegments) base.whereNull('segment_of');
    if (query.callId !== undefined) base.where({ call_id: query.callId });
    if (query.from !== undefined) base.where('started_at', '>=', query.from);
    if (query.to !== undefined) base.where('started_at', '<', query.to);
    if (query.agent !== undefined) base.where({ agent: query.agent });
    if (query.workgroup !== undefined) base.where({ workgroup: query.workgroup });
    if (query.ani !== undefined) base.where({ ani: query.ani });
    if (query.dnis !== undefined) base.where({ dnis: query.dnis });
    // Tags are a JSON array of strings: match the quoted element (quotes in tags are escaped by JSON).
    if (query.tag !== undefined) {
      const pattern = `%${JSON.stringify(query.tag).replace(/[%_\\]/g, (c) => `\\${c}`)}%`;
      base.whereRaw("tags like ? escape '\\'", [pattern]);
    }
    const [countRow] = (await base.clone().count<{ n: number | string }[]>({ n: '*' })) as { n: number | string }[];
    const rows = (await base
      .clone()
      .orderBy([{ column: 'started_at', order: 'desc' }, { column: 'id', order: 'asc' }])
      .limit(query.limit ?? 50)
      .offset(query.offset ?? 0)) as Row[];
    return { items: rows.map(fromRow), total: Number(countRow?.n ?? 0) };
  }

  async listUnfinished(): Promise<StoredRecording[]> {
    const rows = (await this.#db('recordings')
      .where({ status: 'completed' })
      .orWhere((q) => q.where({ status: 'stored' }).whereNotNull('uri'))) as Row[];
    return rows.map(fromRow);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#db.destroy();
  }
}
