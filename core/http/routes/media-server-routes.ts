import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { LoadReport, RegisterRequest } from '../../../media/control-api.ts';
import type { MediaServerRegistry } from '../../telephony/media-server-registry.ts';
import { schemaOf } from '../zod-schema.ts';
import { requireRole } from '../api-auth.ts';
import { requireSecret } from '../require-secret.ts';

export function mediaServerRoutes(app: FastifyInstance, deps: { registry: MediaServerRegistry; secret: string }): void {
  const auth = requireSecret(deps.secret);
  app.post(
    '/api/v1/media-servers/register',
    { onRequest: auth, schema: { tags: ['media servers'], summary: 'A media server registers (shared secret)', body: schemaOf(RegisterRequest) } },
    async (request) => deps.registry.register(request.body as RegisterRequest),
  );
  app.post(
    '/api/v1/media-servers/:id/load',
    {
      onRequest: auth,
      schema: { tags: ['media servers'], summary: 'A media server reports its load (shared secret)', params: schemaOf(z.object({ id: z.string() })), body: schemaOf(LoadReport) },
    },
    async (request, reply) => {
      deps.registry.report((request.params as { id: string }).id, request.body as LoadReport);
      return reply.status(204).send();
    },
  );
  app.get('/api/v1/media-servers', { schema: { tags: ['media servers'], summary: 'Media servers with location, state, CPU, resources' } }, async (request) => {
    requireRole(request, 'admin', 'supervisor');
    return { items: deps.registry.list() };
  });
}
