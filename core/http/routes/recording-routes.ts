import { createReadStream, statSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CapstanError } from '../../errors.ts';
import type { ContentStore } from '../../recorder/content-store.ts';
import type { RecordingStore } from '../../recorder/recording-store.ts';
import { parseByteRange } from '../byte-range.ts';
import { schemaOf } from '../zod-schema.ts';

const ListQuery = z.object({
  callId: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
const IdParams = z.object({ id: z.string().min(1).max(64) });

export function recordingRoutes(app: FastifyInstance, deps: { store: () => RecordingStore; content: ContentStore }): void {
  app.get('/api/v1/recordings', { schema: { tags: ['recordings'], summary: 'Recordings, newest first, paged', querystring: schemaOf(ListQuery) } }, async (request) => {
    const q = request.query as z.infer<typeof ListQuery>;
    const { items, total } = await deps.store().list({ ...(q.callId ? { callId: q.callId } : {}), limit: q.limit, offset: q.offset });
    return { items, total, limit: q.limit, offset: q.offset };
  });

  app.get('/api/v1/recordings/:id', { schema: { tags: ['recordings'], summary: 'One recording', params: schemaOf(IdParams) } }, async (request) => {
    const { id } = request.params as z.infer<typeof IdParams>;
    const row = await deps.store().get(id);
    if (!row) throw new CapstanError('CAPSTAN_ERR_RECORDING_NOT_FOUND', `No recording with id ${id}`, { details: { id } });
    return row;
  });

  app.get(
    '/api/v1/recordings/:id/audio',
    { schema: { tags: ['recordings'], summary: 'The recording’s audio (supports Range)', params: schemaOf(IdParams) } },
    async (request, reply) => {
      const { id } = request.params as z.infer<typeof IdParams>;
      const row = await deps.store().get(id);
      if (!row) throw new CapstanError('CAPSTAN_ERR_RECORDING_NOT_FOUND', `No recording with id ${id}`, { details: { id } });
      if (row.status !== 'stored' || row.mediaPath === null || !deps.content.exists(row.mediaPath)) {
        throw new CapstanError('CAPSTAN_ERR_CONFLICT', `Recording ${id} has no stored audio (status ${row.status})`, { details: { id, status: row.status } });
      }
      const path = deps.content.pathOf(row.mediaPath);
      const size = statSync(path).size;
      const range = parseByteRange(request.headers.range, size);
      void reply.header('content-type', row.mime.startsWith('audio/opus') ? 'audio/ogg' : 'audio/wav').header('accept-ranges', 'bytes');
      void reply.header('content-disposition', `inline; filename="${row.id}${row.fileName.slice(row.fileName.lastIndexOf('.'))}"`);
      if (range === 'unsatisfiable') {
        return reply.status(416).header('content-range', `bytes */${size}`).send(new CapstanError('CAPSTAN_ERR_BAD_REQUEST', 'Range not satisfiable').toJSON());
      }
      if (range === null) return reply.header('content-length', size).send(createReadStream(path));
      return reply
        .status(206)
        .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
        .header('content-length', range.end - range.start + 1)
        .send(createReadStream(path, { start: range.start, end: range.end }));
    },
  );
}
