/**
 * A Remote Content Service server: keeps the recordings of the locations it serves in its own
 * repository folder. The host asks it to take a finished recording from the media server's signed
 * URI; it streams the file in, checks size and SHA-256, renames it into place and answers; the
 * host then records where the media lives and only afterwards deletes the media server's copy.
 * Playback streams from here (with `Range`). It registers with the host and reports every second,
 * with the same loop a standalone media server uses.
 */
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { extname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { CapstanError } from '../errors.ts';
import { parseByteRange } from '../http/byte-range.ts';
import { createHttpServer } from '../http/create-http-server.ts';
import { requireSecret } from '../http/require-secret.ts';
import { schemaOf } from '../http/zod-schema.ts';
import { componentLogger, createLogger, type Logger } from '../logger.ts';
import { ContentStore } from '../recorder/content-store.ts';
import { VERSION } from '../version.ts';
import { HostRegistration } from '../../media/server/host-registration.ts';
import { RcsFetchRequest, type RcsFetchResponse, type RcsLoadReport, type RcsRegisterRequest } from './rcs-api.ts';

export interface RcsServerOptions {
  /** The host to register with, e.g. http://10.0.0.1:8080. */
  hostUrl: string;
  /** Shared secret with the host (CAPSTAN_SECRET). */
  secret: string;
  /** Locations whose recordings this server keeps. */
  locations: string[];
  /** The repository folder. */
  dir: string;
  /** Server id. Default `rcs-<random>`. */
  id?: string | undefined;
  /** Content API port. Default 9200 (0: any free port). */
  port?: number | undefined;
  /** Listen address. Default 0.0.0.0. */
  address?: string | undefined;
  /** Address the host uses to reach this server. Default: the listen address, 127.0.0.1 for 0.0.0.0. */
  advertiseAddress?: string | undefined;
  /** Heartbeat interval, ms. Default 1000. */
  reportIntervalMs?: number | undefined;
  logger?: Logger | undefined;
}

const MIME_BY_EXT: Record<string, string> = { '.wav': 'audio/wav', '.opus': 'audio/ogg', '.sasf': 'application/octet-stream' };

export class RcsServer {
  readonly id: string;
  readonly #options: RcsServerOptions;
  readonly #store: ContentStore;
  readonly #logger: Logger;
  #app: FastifyInstance | null = null;
  #registration: HostRegistration<RcsRegisterRequest, RcsLoadReport> | null = null;
  /** Fetches in progress by recording id: a repeated request joins the running one. */
  readonly #fetching = new Map<string, Promise<RcsFetchResponse>>();
  #files = 0;
  #url = '';
  #closing: Promise<void> | null = null;

  constructor(options: RcsServerOptions) {
    this.#options = options;
    this.id = options.id ?? `rcs-${randomUUID().slice(0, 8)}`;
    this.#store = new ContentStore(options.dir);
    this.#logger = componentLogger(options.logger ?? createLogger(), 'rcs');
  }

  /** Base URL of the content API (set once started). */
  get url(): string {
    return this.#url;
  }

  async start(): Promise<void> {
    this.#files = countFiles(this.#store.root);
    const app = await createHttpServer(this.#logger, VERSION);
    this.#app = app;
    this.#routes(app);
    const address = this.#options.address ?? '0.0.0.0';
    const listened = await app.listen({ port: this.#options.port ?? 9200, host: address });
    const port = new URL(listened).port;
    const advertise = this.#options.advertiseAddress ?? (address === '0.0.0.0' ? '127.0.0.1' : address);
    this.#url = `http://${advertise.includes(':') ? `[${advertise}]` : advertise}:${port}`;
    this.#registration = new HostRegistration<RcsRegisterRequest, RcsLoadReport>({
      hostUrl: this.#options.hostUrl,
      secret: this.#options.secret,
      request: { id: this.id, locations: this.#options.locations, url: this.#url, version: VERSION, pid: process.pid },
      intervalMs: this.#options.reportIntervalMs ?? 1000,
      report: async () => ({ freeDiskBytes: await freeDisk(this.#store.root), files: this.#files }),
      logger: this.#logger,
      paths: { register: '/api/v1/rcs-servers/register', load: (id) => `/api/v1/rcs-servers/${encodeURIComponent(id)}/load` },
    });
    this.#registration.start();
    this.#logger.info({ id: this.id, url: this.#url, locations: this.#options.locations, dir: this.#store.root, files: this.#files }, 'remote content service listening');
  }

  #routes(app: FastifyInstance): void {
    const auth = requireSecret(this.#options.secret, 'The host');
    app.get('/rcs/v1/health', async () => ({ id: this.id, locations: this.#options.locations, files: this.#files, version: VERSION }));
    app.post('/rcs/v1/fetch', { onRequest: auth, schema: { body: schemaOf(RcsFetchRequest) } }, async (request) => {
      const body = request.body as RcsFetchRequest;
      const running = this.#fetching.get(body.recordingId);
      if (running) return running;
      const run = this.#fetch(body).finally(() => this.#fetching.delete(body.recordingId));
      this.#fetching.set(body.recordingId, run);
      return run;
    });
    app.get('/rcs/v1/media/*', { onRequest: auth }, async (request, reply) => {
      const mediaPath = (request.params as { '*': string })['*'];
      const path = this.#existing(mediaPath);
      const size = statSync(path).size;
      const range = parseByteRange(request.headers.range, size);
      void reply.header('accept-ranges', 'bytes').header('content-type', MIME_BY_EXT[extname(path)] ?? 'application/octet-stream');
      if (range === 'unsatisfiable') {
        return reply.status(416).header('content-range', `bytes */${size}`).send(new CapstanError('CAPSTAN_ERR_BAD_REQUEST', 'Range not satisfiable').toJSON());
      }
      const start = range?.start ?? 0;
      const end = range?.end ?? size - 1;
      if (range) void reply.status(206).header('content-range', `bytes ${start}-${end}/${size}`);
      void reply.header('content-length', end - start + 1);
      return reply.send(request.method === 'HEAD' ? '' : createReadStream(path, { start, end }));
    });
    // Deleting what is not there is done already: the host may repeat a delete after a crash.
    app.delete('/rcs/v1/media/*', { onRequest: auth }, async (request, reply) => {
      const mediaPath = (request.params as { '*': string })['*'];
      if (this.#store.exists(mediaPath)) {
        this.#store.remove(mediaPath);
        this.#files = Math.max(0, this.#files - 1);
        this.#logger.info({ mediaPath }, 'recording removed from the repository');
      }
      return reply.status(204).send();
    });
  }

  #existing(mediaPath: string): string {
    if (!this.#store.exists(mediaPath)) throw new CapstanError('CAPSTAN_ERR_FILE_NOT_FOUND', `No file ${mediaPath} in this repository`, { details: { mediaPath } });
    return this.#store.pathOf(mediaPath);
  }

  async #fetch(request: RcsFetchRequest): Promise<RcsFetchResponse> {
    const mediaPath = this.#store.mediaPathFor(request.recordingId, request.ext, request.startedAt);
    if (this.#store.exists(mediaPath)) {
      const have = await this.#store.digest(mediaPath);
      if (have.sizeBytes === request.sizeBytes && have.sha256 === request.sha256) return { mediaPath, ...have, already: true };
      this.#logger.warn({ mediaPath }, 'a different file with this name is in the repository; fetching again');
    }
    const response = await fetch(request.uri, { signal: AbortSignal.timeout(60_000) }).catch((e: unknown) => {
      throw new CapstanError('CAPSTAN_ERR_FETCH_FAILED', `Fetching ${request.recordingId} from its media server failed: ${(e as Error).message}`, { cause: e });
    });
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new CapstanError('CAPSTAN_ERR_FETCH_FAILED', `Fetching ${request.recordingId} from its media server answered ${response.status}`, { details: { status: response.status } });
    }
    const put = await this.#store.put(request.recordingId, request.ext, request.startedAt, response.body);
    if (put.sizeBytes !== request.sizeBytes || put.sha256 !== request.sha256) {
      this.#store.discard(put);
      throw new CapstanError('CAPSTAN_ERR_CHECKSUM_MISMATCH', `${request.recordingId}: got ${put.sizeBytes} bytes sha256 ${put.sha256}, expected ${request.sizeBytes} bytes sha256 ${request.sha256}`);
    }
    const replaced = this.#store.exists(put.mediaPath);
    this.#store.commit(put);
    if (!replaced) this.#files++;
    this.#logger.info({ recordingId: request.recordingId, mediaPath: put.mediaPath, sizeBytes: put.sizeBytes }, 'recording kept');
    return { mediaPath: put.mediaPath, sizeBytes: put.sizeBytes, sha256: put.sha256, already: false };
  }

  /** Stops heartbeats and the content API (fetches in progress finish first). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#registration?.close();
      await Promise.allSettled(this.#fetching.values());
      await this.#app?.close();
    })();
    return this.#closing;
  }
}

function countFiles(root: string): number {
  return readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && !e.name.endsWith('.part')).length;
}

async function freeDisk(dir: string): Promise<number> {
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return 0;
  }
}
