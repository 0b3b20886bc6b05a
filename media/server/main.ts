/**
 * Entry point of a media server, used by `capstan media-server` and by the host's child media
 * servers (through child.ts).
 */
import { MediaServer } from './media-server.ts';
import type { MediaServerOptions } from './media-server-options.ts';

export { MediaServer } from './media-server.ts';
export { parsePortRange, type MediaServerOptions } from './media-server-options.ts';

/**
 * Creates and starts a media server: data folder locked, crash leftovers repaired, HTTP listening,
 * registration with `options.host` under way (never waited for: the host may be down). Call
 * `close()` on the result to stop it.
 * @throws CapstanError CAPSTAN_ERR_CONFIG_INVALID for bad options or a data folder in use;
 *   listen errors (port in use) as thrown by Node.
 */
export async function runMediaServer(options: MediaServerOptions): Promise<MediaServer> {
  const server = new MediaServer(options);
  await server.start();
  return server;
}
