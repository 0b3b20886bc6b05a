/** Who played, exported or deleted which recording, when: every such access is written here first. */
export interface AuditEntry {
  at: string;
  /** The token's name (or `anonymous` on an open API). */
  actor: string;
  role: string;
  action: 'playback' | 'export' | 'delete';
  recordingId: string;
  /** e.g. the byte range played. */
  detail: string | null;
}

export interface AuditLog {
  append(entry: AuditEntry): Promise<void>;
  list(query: { recordingId?: string; actor?: string; limit?: number; offset?: number }): Promise<AuditEntry[]>;
}
