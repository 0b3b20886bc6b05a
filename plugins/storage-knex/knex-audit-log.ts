import type { Knex } from 'knex';
import type { AuditEntry, AuditLog } from '../../core/recorder/audit-log.ts';

interface Row {
  at: string;
  actor: string;
  role: string;
  action: AuditEntry['action'];
  recording_id: string;
  detail: string | null;
}

/** The audit log in the Recorder's database. */
export class KnexAuditLog implements AuditLog {
  readonly #db: Knex;

  constructor(db: Knex) {
    this.#db = db;
  }

  async append(e: AuditEntry): Promise<void> {
    await this.#db('audit_log').insert({ at: e.at, actor: e.actor, role: e.role, action: e.action, recording_id: e.recordingId, detail: e.detail });
  }

  async list(query: { recordingId?: string; actor?: string; limit?: number; offset?: number }): Promise<AuditEntry[]> {
    const q = this.#db('audit_log').orderBy('seq', 'desc').limit(query.limit ?? 100).offset(query.offset ?? 0);
    if (query.recordingId) q.where({ recording_id: query.recordingId });
    if (query.actor) q.where({ actor: query.actor });
    return ((await q) as Row[]).map((r) => ({ at: r.at, actor: r.actor, role: r.role, action: r.action, recordingId: r.recording_id, detail: r.detail }));
  }
}
