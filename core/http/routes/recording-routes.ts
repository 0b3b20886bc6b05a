import { createReadStream, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CapstanError } from '../../errors.ts';
import type { ContentStore } from '../../recorder/content-store.ts';
import { rcsServerOf, type RcsKeeper } from '../../rcs/rcs-keeper.ts';
import type { RecordingStore, StoredRecording } from '../../recorder/recording-store.ts';
import type { RecorderKeys } from '../../recorder/recorder-keys.ts';
import type { AuditLog } from '../../recorder/audit-log.ts';
import { mayAccessAgentOf, requireRole, type Principal } from '../api-auth.ts';
import { parseByteRange } from '../byte-range.ts';
import { schemaOf } from '../zod-schema.ts';

const ListQuery = z.object({
  callId: z.string().optional(),
  /** Started at or after this time (ISO 8601). */
  from: z.iso.datetime({ offset: true }).optional(),
  /** Started before this time (ISO 8601). */
  to: z.iso.datetime({ offset: true }).optional(),
  agent: z.string().optional(),
  workgroup: z.string().optional(),
  tag: z.string().optional(),
  ani: z.string().optional(),
  dnis: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
const IdParams = z.object({ id: z.string().min(1).max(64) });
const AudioQuery = z.object({
  download: z.string().optional(),
  /** Which segment of a recording continued after a failover: 0 (the first, default), 1, 2... */
  segment: z.coerce.number().int().min(0).max(1000).optional(),
});

/** A recording with its segments (itself first) and the gaps between them. */
async function withSegments(deps: RecordingRoutesDeps, row: StoredRecording) {
  const rows = [row, ...(await deps.store().listSegments(row.id))];
  return {
    ...row,
    // Who was on the call, as the call source named them: the calling and called parties, and the agent.
    participants: [
      { role: 'caller', id: row.from },
      { role: 'callee', id: row.to },
      ...(row.agent !== null ? [{ role: 'agent', id: row.agent }] : []),
    ],
    segments: rows.map((r) => ({
      index: r.segmentIndex,
      id: r.id,
      status: r.status,
      mediaServerId: r.mediaServerId,
      startMs: r.segmentStartMs,
      durationMs: r.durationMs,
      // Cut short by its media server's death and taken from the file that server repaired.
      recovered: r.status !== 'recording' && row.gaps.some((g) => g.afterSegment === r.segmentIndex),
    })),
  };
}
const AuditQuery = z.object({
  recordingId: z.string().optional(),
  actor: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

/** A recording the principal may see: an agent only its own (others answer 403). */
async function visibleRecording(deps: RecordingRoutesDeps, principal: Principal, id: string) {
  const row = await deps.store().get(id);
  if (!row) throw new CapstanError('CAPSTAN_ERR_RECORDING_NOT_FOUND', `No recording with id ${id}`, { details: { id } });
  if (!mayAccessAgentOf(principal, row.agent)) {
    throw new CapstanError('CAPSTAN_ERR_FORBIDDEN', `Recording ${id} is not one of ${principal.name}'s`, { details: { id } });
  }
  return row;
}

export interface RecordingRoutesDeps {
  store: () => RecordingStore;
  /** The content store, and the retention locations media may have moved to, by name. */
  content: ContentStore;
  locations: Record<string, ContentStore>;
  keys: () => RecorderKeys | null;
  audit: () => AuditLog;
  /** Reaches media kept by Remote Content Service servers (`mediaLocation` `rcs:<id>`). */
  rcs: RcsKeeper;
}

export function recordingRoutes(app: FastifyInstance, deps: RecordingRoutesDeps): void {
  app.get('/api/v1/recordings', { schema: { tags: ['recordings'], summary: 'Search recordings (call, time, agent, workgroup, tag, ANI, DNIS), newest first, paged', querystring: schemaOf(ListQuery) } }, async (request) => {
    const q = request.query as z.infer<typeof ListQuery>;
    const { limit, offset, from, to, ...filters } = q;
    // An agent's search is always of its own recordings.
    if (request.principal.role === 'agent') filters.agent = request.principal.agent!;
    // Stored times are UTC ISO strings: normalize the bounds so they compare as text.
    const utc = (t: string) => new Date(t).toISOString();
    const { items, total } = await deps.store().list({
      ...Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined)),
      ...(from !== undefined ? { from: utc(from) } : {}),
      ...(to !== undefined ? { to: utc(to) } : {}),
      limit,
      offset,
    });
    return { items, total, limit, offset };
  });

  app.get('/api/v1/recordings/:id', { schema: { tags: ['recordings'], summary: 'One recording', params: schemaOf(IdParams) } }, async (request) => {
    const { id } = request.params as z.infer<typeof IdParams>;
    return withSegments(deps, await visibleRecording(deps, request.principal, id));
  });

  app.delete('/api/v1/recordings/:id', { schema: { tags: ['recordings'], summary: 'Delete a recording, media and all (admin; audited)', params: schemaOf(IdParams) } }, async (request, reply) => {
    const principal = requireRole(request, 'admin');
    const { id } = request.params as z.infer<typeof IdParams>;
    const row = await visibleRecording(deps, principal, id);
    await deps.audit().append({ at: new Date().toISOString(), actor: principal.name, role: principal.role, action: 'delete', recordingId: id, detail: null });
    // Its failover segments go with it, media first.
    for (const r of [...(await deps.store().listSegments(id)), row]) {
      if (r.mediaPath !== null && rcsServerOf(r.mediaLocation) !== null) await deps.rcs.clientFor(r.mediaLocation!).remove(r.mediaPath);
      else {
        const where = r.mediaLocation === null || r.mediaLocation === 'store' ? deps.content : deps.locations[r.mediaLocation];
        if (r.mediaPath !== null && where) where.remove(r.mediaPath);
      }
      await deps.store().remove(r.id);
    }
    return reply.status(204).send();
  });

  app.get(
    '/api/v1/recordings/:id/audio',
    { schema: { tags: ['recordings'], summary: 'The recording’s audio (supports Range; ?download=1 to export); audited', params: schemaOf(IdParams), querystring: schemaOf(AudioQuery) } },
    async (request, reply) => {
      const { id } = request.params as z.infer<typeof IdParams>;
      const recording = await visibleRecording(deps, request.principal, id);
      const segment = (request.query as z.infer<typeof AudioQuery>).segment ?? 0;
      const row = segment === 0 ? recording : (await deps.store().listSegments(id)).find((r) => r.segmentIndex === segment);
      if (!row) throw new CapstanError('CAPSTAN_ERR_RECORDING_NOT_FOUND', `Recording ${id} has no segment ${segment}`, { details: { id, segment } });
      const ext = row.mime === 'audio/opus' ? '.opus' : '.wav';
      const download = Boolean((request.query as { download?: string }).download);
      // Audited before a byte leaves: `download` marks an export, anything else a playback.
      const audit = async (range: { start: number; end: number } | null, size: number | string) => {
        const p = request.principal;
        await deps.audit().append({
          at: new Date().toISOString(),
          actor: p.name,
          role: p.role,
          action: download ? 'export' : 'playback',
          recordingId: id,
          detail: range ? `bytes ${range.start}-${range.end}/${size}` : null,
        });
      };
      void reply.header('content-type', ext === '.opus' ? 'audio/ogg' : 'audio/wav').header('accept-ranges', 'bytes');
      void reply.header('content-disposition', `${download ? 'attachment' : 'inline'}; filename="${row.id}${ext}"`);
      const noAudio = () => new CapstanError('CAPSTAN_ERR_CONFLICT', `Recording ${id} has no stored audio (status ${row.status})`, { details: { id, status: row.status } });
      if (row.status !== 'stored' || row.mediaPath === null) throw noAudio();
      const encrypted = row.mediaPath.endsWith('.sasf');
      const decrypt = async (file: string | Uint8Array): Promise<Buffer> => {
        const keys = deps.keys();
        if (!keys) throw new CapstanError('CAPSTAN_ERR_KEY_NOT_FOUND', `Recording ${id} is encrypted and the Recorder has no keys`, { details: { id, keyId: row.keyId } });
        return keys.decrypt(file);
      };
      // SASF is decrypted on the fly (whole file, verified before any byte is sent): players get
      // the inner WAV or Ogg file. Documented limit: the decrypted file is held in memory.
      let body: Buffer | null = null;
      let path: string | null = null;
      if (rcsServerOf(row.mediaLocation) !== null) {
        const client = deps.rcs.clientFor(row.mediaLocation!);
        if (encrypted) body = await decrypt(await client.readAll(row.mediaPath));
        else {
          // Plain media streams from the RCS server as it answers the same Range.
          const upstream = await client.open(row.mediaPath, request.headers.range);
          const contentRange = upstream.headers.get('content-range');
          const m = contentRange ? /bytes (\d+)-(\d+)\/(\d+)/.exec(contentRange) : null;
          if (upstream.status === 416) {
            await upstream.body?.cancel();
            return reply.status(416).header('content-range', contentRange ?? 'bytes */0').send(new CapstanError('CAPSTAN_ERR_BAD_REQUEST', 'Range not satisfiable').toJSON());
          }
          await audit(m ? { start: Number(m[1]), end: Number(m[2]) } : null, m?.[3] ?? '');
          if (upstream.status === 206 && contentRange) void reply.status(206).header('content-range', contentRange);
          const length = upstream.headers.get('content-length');
          if (length !== null) void reply.header('content-length', length);
          return reply.send(upstream.body ? Readable.fromWeb(upstream.body as import('node:stream/web').ReadableStream<Uint8Array>) : '');
        }
      } else {
        const where = row.mediaLocation === null || row.mediaLocation === 'store' ? deps.content : deps.locations[row.mediaLocation];
        if (!where || !where.exists(row.mediaPath)) throw noAudio();
        path = where.pathOf(row.mediaPath);
        if (encrypted) body = await decrypt(path);
      }
      const size = body ? body.length : statSync(path!).size;
      const range = parseByteRange(request.headers.range, size);
      if (range === 'unsatisfiable') {
        return reply.status(416).header('content-range', `bytes */${size}`).send(new CapstanError('CAPSTAN_ERR_BAD_REQUEST', 'Range not satisfiable').toJSON());
      }
      const start = range?.start ?? 0;
      const end = range?.end ?? size - 1;
      await audit(range ? { start, end } : null, size);
      if (range) void reply.status(206).header('content-range', `bytes ${start}-${end}/${size}`);
      void reply.header('content-length', end - start + 1);
      return reply.send(body ? body.subarray(start, end + 1) : createReadStream(path!, { start, end }));
    },
  );

  app.get('/api/v1/audit', { schema: { tags: ['recordings'], summary: 'Who played, exported or deleted which recording (admin, supervisor)', querystring: schemaOf(AuditQuery) } }, async (request) => {
    requireRole(request, 'admin', 'supervisor');
    const q = request.query as z.infer<typeof AuditQuery>;
    return { items: await deps.audit().list(q) };
  });
}
