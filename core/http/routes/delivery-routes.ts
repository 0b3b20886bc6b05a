import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { DeliveryStore } from '../../delivery/delivery-store.ts';
import { schemaOf } from '../zod-schema.ts';
import { requireRole } from '../api-auth.ts';

const Query = z.object({
  status: z.enum(['recording', 'pending', 'delivered', 'undeliverable']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

/** Mailed recordings and where each delivery stands (pending ones say why in lastError). */
export function deliveryRoutes(app: FastifyInstance, deps: { store: () => DeliveryStore }): void {
  app.get('/api/v1/deliveries', { schema: { tags: ['recordings'], summary: 'Recordings mailed or waiting to be, newest first', querystring: schemaOf(Query) } }, async (request) => {
    requireRole(request, 'admin', 'supervisor');
    const q = request.query as z.infer<typeof Query>;
    return { items: await deps.store().list({ ...(q.status ? { status: q.status } : {}), limit: q.limit, offset: q.offset }) };
  });
}
