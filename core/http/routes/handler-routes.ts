import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CapstanError } from '../../errors.ts';
import type { HandlerRuntime } from '../../handlers/handler-runtime.ts';
import { schemaOf } from '../zod-schema.ts';
import { requireRole } from '../api-auth.ts';

const NameParams = z.object({ name: z.string().min(1).max(200) });

/** The handler runtime over HTTP: what is loaded, in what state, why it failed; reload one. */
export function handlerRoutes(app: FastifyInstance, runtime: Pick<HandlerRuntime, 'list' | 'get' | 'reload'>): void {
  app.get('/api/v1/handlers', { schema: { tags: ['handlers'], summary: 'Handlers with version, status, last error and reload history' } }, async (request) => {
    requireRole(request, 'admin', 'supervisor');
    return { items: runtime.list() };
  });

  app.get('/api/v1/handlers/:name', { schema: { tags: ['handlers'], summary: 'One handler', params: schemaOf(NameParams) } }, async (request) => {
    requireRole(request, 'admin', 'supervisor');
    const { name } = request.params as z.infer<typeof NameParams>;
    const handler = runtime.get(name);
    if (!handler) throw new CapstanError('CAPSTAN_ERR_HANDLER_NOT_FOUND', `No handler named ${name}`, { details: { name } });
    return handler;
  });

  app.post(
    '/api/v1/handlers/:name/reload',
    { schema: { tags: ['handlers'], summary: 'Load the handler’s file again (also lifts a quarantine)', params: schemaOf(NameParams) } },
    async (request) => {
      requireRole(request, 'admin');
      const { name } = request.params as z.infer<typeof NameParams>;
      return runtime.reload(name);
    },
  );
}
