import type { FastifyInstance } from 'fastify';
import type { RetentionRunner } from '../../recorder/retention.ts';
import { requireRole } from '../api-auth.ts';

/** Retention on demand (it also runs on its schedule, `recorder.retention.intervalMinutes`). */
export function retentionRoutes(app: FastifyInstance, runner: RetentionRunner): void {
  app.post('/api/v1/retention/run', { schema: { tags: ['recordings'], summary: 'Apply the retention policies now; answers what was done' } }, async (request) => {
    requireRole(request, 'admin');
    return runner.run();
  });
}
