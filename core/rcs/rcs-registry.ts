import { CapstanError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { RcsLoadReport, RcsRegisterRequest } from './rcs-api.ts';

export interface RcsServerState {
  id: string;
  locations: string[];
  url: string;
  version: string;
  pid: number | null;
  state: 'up' | 'down';
  freeDiskBytes: number;
  files: number;
  registeredAt: string;
  lastReportAt: string;
}

export interface RcsRegistryOptions {
  /** No heartbeat for this long marks a server down, ms. */
  downAfterMs: number;
}

/**
 * The Remote Content Service servers known to the host, with their locations and last heartbeat.
 * The Recorder asks it which server keeps a recording of a given location.
 */
export class RcsRegistry {
  readonly #servers = new Map<string, RcsServerState & { lastReportMs: number }>();
  readonly #logger: Logger;
  readonly #downAfterMs: number;
  readonly #sweep: NodeJS.Timeout;
  readonly #upListeners = new Set<(server: RcsServerState) => void>();

  constructor(logger: Logger, options: RcsRegistryOptions) {
    this.#logger = logger;
    this.#downAfterMs = options.downAfterMs;
    this.#sweep = setInterval(() => this.#markSilentDown(), Math.min(250, options.downAfterMs / 2));
    this.#sweep.unref();
  }

  register(request: RcsRegisterRequest): { id: string } {
    const now = Date.now();
    const at = new Date(now).toISOString();
    const server = {
      id: request.id,
      locations: request.locations,
      url: request.url.replace(/\/+$/, ''),
      version: request.version,
      pid: request.pid ?? null,
      state: 'up' as const,
      freeDiskBytes: 0,
      files: 0,
      registeredAt: at,
      lastReportAt: at,
      lastReportMs: now,
    };
    this.#servers.set(request.id, server);
    this.#logger.info({ id: server.id, locations: server.locations, url: server.url }, 'remote content service registered');
    this.#notifyUp(server);
    return { id: server.id };
  }

  /** A heartbeat; unknown ids get a 404 so the server registers again (the host restarted). */
  report(id: string, load: RcsLoadReport): void {
    const server = this.#servers.get(id);
    if (!server) throw new CapstanError('CAPSTAN_ERR_NOT_FOUND', `No remote content service ${id} is registered`, { details: { id } });
    const wasDown = server.state === 'down';
    Object.assign(server, { ...load, state: 'up', lastReportMs: Date.now(), lastReportAt: new Date().toISOString() });
    if (wasDown) {
      this.#logger.info({ id }, 'remote content service up again');
      this.#notifyUp(server);
    }
  }

  get(id: string): RcsServerState | null {
    const s = this.#servers.get(id);
    return s ? strip(s) : null;
  }

  list(): RcsServerState[] {
    return [...this.#servers.values()].map(strip);
  }

  /**
   * The server that keeps recordings of `location`: among those up and serving it, the first by
   * id. A fixed choice (not a rotation) so a retried recording goes back to the same server and
   * never leaves a stray copy on another.
   */
  forLocation(location: string): RcsServerState | null {
    const candidates = [...this.#servers.values()].filter((s) => s.state === 'up' && s.locations.includes(location)).sort((a, b) => a.id.localeCompare(b.id));
    return candidates[0] ? strip(candidates[0]) : null;
  }

  /** Called when a server registers or comes back up (the Recorder retries what waited for one). */
  onUp(listener: (server: RcsServerState) => void): () => void {
    this.#upListeners.add(listener);
    return () => this.#upListeners.delete(listener);
  }

  #notifyUp(server: RcsServerState & { lastReportMs: number }): void {
    for (const listener of this.#upListeners) listener(strip(server));
  }

  #markSilentDown(): void {
    const now = Date.now();
    for (const s of this.#servers.values()) {
      if (s.state === 'up' && now - s.lastReportMs > this.#downAfterMs) {
        s.state = 'down';
        this.#logger.warn({ id: s.id, silentMs: now - s.lastReportMs }, 'remote content service down: no heartbeat');
      }
    }
  }

  close(): void {
    clearInterval(this.#sweep);
    this.#upListeners.clear();
  }
}

function strip(s: RcsServerState & { lastReportMs: number }): RcsServerState {
  const { lastReportMs: _, ...rest } = s;
  return { ...rest, locations: [...rest.locations] };
}
