import type { FastifyInstance } from 'fastify';
import type { MediaServerRegistry } from '../../telephony/media-server-registry.ts';
import type { HostMetrics } from '../../metrics.ts';

export interface HealthDeps {
  registry: MediaServerRegistry;
  metrics: HostMetrics;
  components: () => Record<string, { state: 'up' | 'down'; detail?: string }>;
  version: string;
}

export function healthRoutes(app: FastifyInstance, deps: HealthDeps): void {
  app.get('/api/v1/health', { schema: { tags: ['health'], summary: 'Components and media servers with their state' } }, async () => {
    const components = deps.components();
    const mediaServers = deps.registry.list().map((s) => ({
      id: s.id,
      location: s.location,
      state: s.state,
      downReason: s.downReason,
      embedded: s.embedded,
      cpu: s.cpu,
      activeResources: s.activeResources,
      acceptsSessions: s.acceptsSessions,
      lastReportAt: s.lastReportAt,
    }));
    const componentsUp = Object.values(components).every((c) => c.state === 'up');
    const anyServer = mediaServers.some((s) => s.state === 'up' && s.acceptsSessions);
    return {
      status: componentsUp && anyServer ? 'ok' : 'degraded',
      version: deps.version,
      components,
      mediaServers,
    };
  });

  app.get('/metrics', { schema: { tags: ['health'], summary: 'Prometheus metrics' } }, async (_request, reply) => {
    deps.metrics.mediaServersUp.set(deps.registry.list().filter((s) => s.state === 'up').length);
    void reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
