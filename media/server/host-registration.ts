/**
 * Keeps a media server registered with its host: POST register until it succeeds, then POST a
 * load report every interval. A host that is down or restarting never stops the media server:
 * failures are logged (once per outage, not per attempt) and retried at the same interval; a 404
 * to a load report (the host forgot us, e.g. it restarted) sends us back to registering.
 */
import type { Logger } from 'pino';
import { RegisterResponse, type LoadReport, type RegisterRequest } from '../control-api.ts';

/** `Req` and `Rep`: what is registered and reported (a media server's by default). */
export interface HostRegistrationOptions<Req extends { id: string } = RegisterRequest, Rep = LoadReport> {
  /** Host base URL, e.g. http://127.0.0.1:8080 */
  hostUrl: string;
  secret: string;
  request: Req;
  /** Interval of load reports and of register retries. Default 1000 ms. */
  intervalMs?: number;
  /** Timeout of each request. Default 2000 ms. */
  requestTimeoutMs?: number;
  report: () => Promise<Rep>;
  logger: Logger;
  /**
   * Where to register and report, under the host URL. Default: the media servers' paths
   * (`/api/v1/media-servers/register`, `/api/v1/media-servers/<id>/load`); the Remote Content
   * Service uses its own with the same loop.
   */
  paths?: { register: string; load: (id: string) => string };
}

export class HostRegistration<Req extends { id: string } = RegisterRequest, Rep = LoadReport> {
  private readonly options: HostRegistrationOptions<Req, Rep>;
  private readonly base: string;
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private intervalMs: number;
  private id: string;
  private _registered = false;
  private failing = false;
  private closed = false;

  constructor(options: HostRegistrationOptions<Req, Rep>) {
    this.options = options;
    this.base = options.hostUrl.replace(/\/+$/, '');
    this.intervalMs = options.intervalMs ?? 1000;
    this.id = options.request.id;
  }

  get registered(): boolean {
    return this._registered;
  }

  /** Starts the loop (first attempt at once). */
  start(): void {
    if (this.closed || this.running) return;
    this.running = this.cycle();
  }

  /** Stops the loop and aborts a request in flight. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.running?.catch(() => {});
  }

  private async cycle(): Promise<void> {
    try {
      if (!this._registered) await this.register();
      if (this._registered) await this.sendLoad();
      if (this.failing) this.options.logger.info({ host: this.base }, 'host reachable again');
      this.failing = false;
    } catch (e) {
      if (this.closed) return;
      if (!this.failing) this.options.logger.warn({ host: this.base, err: e }, 'host not reachable; retrying');
      this.failing = true;
    }
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.running = this.cycle();
    }, this.intervalMs);
  }

  private async register(): Promise<void> {
    const res = await this.post(this.options.paths?.register ?? '/api/v1/media-servers/register', this.options.request);
    if (!res.ok) throw new Error(`register answered ${res.status}`);
    const body = RegisterResponse.safeParse(await res.json().catch(() => ({})));
    if (body.success) {
      if (body.data.id) this.id = body.data.id;
      if (body.data.loadIntervalMs) this.intervalMs = body.data.loadIntervalMs;
    }
    this._registered = true;
    this.options.logger.info({ host: this.base, id: this.id }, 'registered with host');
  }

  private async sendLoad(): Promise<void> {
    const report = await this.options.report();
    const path = this.options.paths?.load(this.id) ?? `/api/v1/media-servers/${encodeURIComponent(this.id)}/load`;
    const res = await this.post(path, report);
    await res.body?.cancel();
    if (res.status === 404) {
      this._registered = false;
      throw new Error('host does not know this media server; registering again');
    }
    if (!res.ok) throw new Error(`load report answered ${res.status}`);
  }

  private post(path: string, body: unknown): Promise<Response> {
    return fetch(this.base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.secret}` },
      body: JSON.stringify(body),
      signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.options.requestTimeoutMs ?? 2000)]),
    });
  }
}
