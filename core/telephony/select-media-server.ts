import { CapstanError } from '../errors.ts';
import type { MediaServerState } from './media-server-registry.ts';

export interface Selection {
  server: MediaServerState;
  /** Why this one: logged with every decision. */
  reason: string;
}

/**
 * Picks the media server for a call: among servers that are up and accept sessions, the one with
 * the most free CPU, then the fewest resources in use, then the id (so ties are stable).
 * The location rules (prioritized locations, exclusions, load-balanced groups) build on this.
 */
export function selectMediaServer(servers: readonly MediaServerState[], exclude: readonly string[] = []): Selection {
  const candidates = servers.filter((s) => s.state === 'up' && s.acceptsSessions && !exclude.includes(s.id));
  if (candidates.length === 0) {
    const summary = servers.map((s) => `${s.id}: ${s.state === 'up' ? (s.acceptsSessions ? 'excluded' : 'not accepting sessions') : 'down'}`);
    throw new CapstanError(
      'CAPSTAN_ERR_NO_MEDIA_SERVER',
      servers.length === 0 ? 'No media server is registered' : `No media server accepts sessions (${summary.join('; ')})`,
      { details: { servers: summary } },
    );
  }
  const [best] = [...candidates].sort(
    (a, b) => a.cpu - b.cpu || a.activeResources - b.activeResources || a.id.localeCompare(b.id),
  ) as [MediaServerState, ...MediaServerState[]];
  return {
    server: best,
    reason: `${best.id} in ${best.location}: cpu ${(best.cpu * 100).toFixed(0)}%, ${best.activeResources} resources, best of ${candidates.length}`,
  };
}
