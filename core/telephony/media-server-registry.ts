import type { LoadReport, RegisterRequest } from '../../media/control-api.ts';
import { CapstanError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { Logger } from '../logger.ts';

export interface MediaServerState {
  id: string;
  location: string;
  controlUrl: string;
  version: string;
  pid: number | null;
  /** Started by this host as a child process. */
  embedded: boolean;
  state: 'up' | 'down';
  /** Why it is down, when it is. */
  downReason: string | null;
  cpu: number;
  activeResources: number;
  acceptsSessions: boolean;
  freeDiskBytes: number;
  recovered: LoadReport['recovered'];
  registeredAt: string;
  lastReportAt: string;
}

export interface RegistryOptions {
  /** No load report for this long marks a server down, ms. */
  downAfterMs: number;
}

/** Every media server known to Telephony Services, with its last load report. */
export class MediaServerRegistry {
  readonly #servers = new Map<string, MediaServerState & { lastReportMs: number }>();
  readonly #events: EventBus;
  readonly #logger: Logger;
  readonly #sweep: NodeJS.Timeout;
  readonly #downAfterMs: number;
  /** Ids of the host's own child media servers (they register over HTTP like any other). */
  readonly #embeddedIds = new Set<string>();
  #closed = false;

  constructor(events: EventBus, logger: Logger, options: RegistryOptions) {
    this.#events = events;
    this.#logger = logger;
    this.#downAfterMs = options.downAfterMs;
    this.#sweepMs = Math.min(250, options.downAfterMs / 2);
    this.#sweep = setInterval(() => this.#markSilentDown(), this.#sweepMs);
    this.#sweep.unref();
  }

  /** Marks these ids as the host's children, so their registrations say `embedded: true`. */
  expectEmbedded(ids: readonly string[]): void {
    for (const id of ids) this.#embeddedIds.add(id);
  }

  register(request: RegisterRequest, embedded = false): MediaServerState {
    const now = Date.now();
    const previous = this.#servers.get(request.id);
    const server = {
      id: request.id,
      location: request.location,
      controlUrl: request.controlUrl.replace(/\/$/, ''),
      version: request.version,
      pid: request.pid ?? null,
      embedded: embedded || this.#embeddedIds.has(request.id),
      state: 'up' as const,
      downReason: null,
      cpu: 0,
      activeResources: 0,
      acceptsSessions: true,
      freeDiskBytes: 0,
      recovered: [],
      registeredAt: new Date(now).toISOString(),
      lastReportAt: new Date(now).toISOString(),
      lastReportMs: now,
    };
    this.#servers.set(request.id, server);
    this.#logger.info({ mediaServer: request.id, location: request.location, controlUrl: request.controlUrl }, 'media server registered');
    if (previous?.state !== 'up') this.#events.emit('media-server.up', { id: server.id, location: server.location });
    return this.#public(server);
  }

  /** A load report; an unknown id must register first (the media server does so on 404). */
  report(id: string, load: LoadReport): void {
    const server = this.#servers.get(id);
    if (!server) throw new CapstanError('CAPSTAN_ERR_NOT_FOUND', `Media server ${id} is not registered`, { details: { id } });
    const wasDown = server.state === 'down';
    Object.assign(server, {
      cpu: load.cpu,
      activeResources: load.activeResources,
      acceptsSessions: load.acceptsSessions,
      freeDiskBytes: load.freeDiskBytes,
      recovered: load.recovered,
      state: 'up',
      downReason: null,
      lastReportMs: Date.now(),
      lastReportAt: new Date().toISOString(),
    });
    // Told on every report while it has some: the Recorder takes each once, idempotently.
    if (load.recovered.length > 0) this.#events.emit('media-server.recovered', { id, files: load.recovered });
    if (wasDown) {
      this.#logger.info({ mediaServer: id }, 'media server is back');
      this.#events.emit('media-server.up', { id, location: server.location });
    }
  }

  /**
   * Counts resources just given to a server before its next load report says so, so calls set up
   * in the same second spread over servers instead of all landing on the one that looked idlest.
   */
  noteAllocated(id: string, resources: number): void {
    const server = this.#servers.get(id);
    if (server) server.activeResources += resources;
  }

  /** `expected`: a shutdown the host asked for (logged at info, not as a warning). */
  markDown(id: string, reason: string, expected = false): void {
    const server = this.#servers.get(id);
    if (!server || server.state === 'down') return;
    server.state = 'down';
    server.downReason = reason;
    if (expected) this.#logger.info({ mediaServer: id, reason }, 'media server stopped');
    else this.#logger.warn({ mediaServer: id, reason }, 'media server down');
    this.#events.emit('media-server.down', { id, location: server.location, reason });
  }

  get(id: string): MediaServerState | null {
    const server = this.#servers.get(id);
    return server ? this.#public(server) : null;
  }

  list(): MediaServerState[] {
    return [...this.#servers.values()].map((s) => this.#public(s));
  }

  #lastSweepMs = Date.now();
  readonly #sweepMs: number;

  #markSilentDown(): void {
    const now = Date.now();
    const sinceSweep = now - this.#lastSweepMs;
    this.#lastSweepMs = now;
    // The host itself was stalled (its event loop blocked, the machine swapping): the reports that
    // arrived meanwhile are still queued behind this timer. Its own silence is not the servers':
    // they get a fresh interval rather than a false "down" and a needless failover.
    if (sinceSweep > this.#sweepMs + this.#downAfterMs / 4) {
      for (const server of this.#servers.values()) server.lastReportMs = Math.max(server.lastReportMs, now);
      return;
    }
    for (const server of this.#servers.values()) {
      if (server.state === 'up' && now - server.lastReportMs > this.#downAfterMs) {
        this.markDown(server.id, `no load report for ${now - server.lastReportMs} ms`);
      }
    }
  }

  #public(server: MediaServerState & { lastReportMs: number }): MediaServerState {
    const { lastReportMs: _omit, ...rest } = server;
    return { ...rest };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
  }
}
