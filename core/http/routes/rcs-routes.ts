import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RcsLoadReport, RcsRegisterRequest } from '../../rcs/rcs-api.ts';
import type { RcsRegistry } from '../../rcs/rcs-registry.ts';
import { requireRole } from '../api-auth.ts';
import { requireSecret } from '../require-secret.ts';
import { schemaOf } from '../zod-schema.ts';

/** Remote Content Service servers register and report here (shared secret); operators list them. */
export function rcsRoutes(app: FastifyInstance, deps: { registry: RcsRegistry; secret: string }): void {
  const auth = requireSecret(deps.secret, 'A remote content service');
  app.post(
    '/api/v1/rcs-servers/register',
    { onRequest: auth, schema: { tags: ['remote content service'], summary: 'An RCS server registers (shared secret)', body: schemaOf(RcsRegisterRequest) } },
    async (request) => ({ ...deps.registry.register(request.body as RcsRegisterRequest), loadIntervalMs: 1000 }),
  );
  app.post(
    '/api/v1/rcs-servers/:id/load',
    {
      onRequest: auth,
      schema: { tags: ['remote content service'], summary: 'An RCS server’s heartbeat (shared secret)', params: schemaOf(z.object({ id: z.string() })), body: schemaOf(RcsLoadReport) },
    },
    async (request, reply) => {
      deps.registry.report((request.params as { id: string }).id, request.body as RcsLoadReport);
      return reply.status(204).send();
    },
  );
  app.get('/api/v1/rcs-servers', { schema: { tags: ['remote content service'], summary: 'RCS servers with their locations, state and files' } }, async (request) => {
    requireRole(request, 'admin', 'supervisor');
    return { items: deps.registry.list() };
  });
}
