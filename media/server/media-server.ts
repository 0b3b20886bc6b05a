/**
 * A media server: anchors calls' RTP (relay), records them in any registered format (WAV or Ogg
 * Opus, optionally wrapped in SASF), serves the files on signed URIs, and keeps itself
 * registered with its host.
 *
 * It is the parent of everything it runs: calls (and their sockets), recordings, the HTTP server
 * and the registration loop. `close()` is idempotent and cascades: recordings are stopped and
 * finalized (their files complete), then sockets, registration and HTTP are closed.
 *
 * At start it repairs the `.part` files a crash left in its recordings folder and lists them in
 * its load reports (`recovered`) until they are deleted.
 */
import { createPublicKey, randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { CapstanError, isCapstanError } from '../../core/errors.ts';
import packageJson from '../../package.json' with { type: 'json' };
import { MediaCall } from '../call/media-call.ts';
import type {
  AllocateCallRequest,
  AllocateCallResponse,
  Endpoint,
  LegRole,
  LoadReport,
  PauseRequest,
  RecordingResult,
  StartRecordingRequest,
  StartRecordingResponse,
} from '../control-api.ts';
import { Recording } from '../recording/recording.ts';
import { PlainFileSink, SasfFileSink } from '../recording/file-sink.ts';
import { FilesystemSync } from '../recording/filesystem-sync.ts';
import { inspectSasf } from '../sasf/inspect.ts';
import { PacketCounters } from '../rtp/packet-counters.ts';
import { RtpPortPool } from '../rtp/rtp-port-pool.ts';
import { openUdpTransport } from '../rtp/open-udp-transport.ts';
import type { UdpTransport } from '../rtp/udp-transport.ts';
import { PART_SUFFIX } from '../recording/part-file.ts';
import { repairWav } from '../wav/wav-repair.ts';
import { repairOgg } from '../codecs/ogg/ogg-repair.ts';
import { codecRegistry, loadCodecModules, type CodecRegistry } from '../codecs/codec-registry.ts';
import type { CodecFileExtension } from '../codecs/codec.ts';
import { registerControlRoutes, type MediaControl } from './control-routes.ts';
import { DataDirLock } from './data-dir-lock.ts';
import { registerFileRoutes } from './file-routes.ts';
import { HostRegistration } from './host-registration.ts';
import { Housekeeping } from './housekeeping.ts';
import { resolveMediaServerOptions, type MediaServerOptions, type ResolvedMediaServerOptions } from './media-server-options.ts';
import { FILE_NAME_PATTERN, signFileUri } from './signed-uri.ts';

export const MEDIA_SERVER_VERSION: string = packageJson.version;

interface RecoveredFile {
  recordingId: string;
  fileName: string;
}

interface ActiveRecording {
  recording: Recording;
  callId: string;
}

/**
 * File name for a recording: its id made safe, plus a random part so a repeated id never collides.
 * An encrypted (SASF) recording gets a name that is all random: it says nothing of the recording
 * (its id is inside the authenticated header).
 */
function recordingFileName(recordingId: string, encrypted: boolean, extension: CodecFileExtension): string {
  if (encrypted) return `${randomBytes(16).toString('hex')}.sasf`;
  let safe = recordingId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 100);
  if (!/^[A-Za-z0-9]/.test(safe)) safe = `r${safe}`.slice(0, 100);
  return `${safe}.${randomBytes(6).toString('hex')}${extension}`;
}

export class MediaServer implements MediaControl {
  readonly options: ResolvedMediaServerOptions;
  readonly logger: Logger;
  readonly counters = new PacketCounters();
  /** The formats this server writes: the built-ins plus `codecModules`. */
  readonly codecs: CodecRegistry;
  /** The RTP sockets' transport: the native socket set or node:dgram (`udp` option). */
  readonly transport: UdpTransport;
  private readonly pool: RtpPortPool;
  private readonly calls = new Map<string, MediaCall>();
  private readonly allocating = new Set<string>();
  private readonly active = new Map<string, ActiveRecording>();
  private readonly finished = new Map<string, RecordingResult>();
  private readonly recovered = new Map<string, RecoveredFile>();
  private app: FastifyInstance | undefined;
  private registration: HostRegistration | undefined;
  private lock: DataDirLock | undefined;
  private housekeeping: Housekeeping | undefined;
  /** Group durability of the recordings folder; undefined: each file syncs itself. */
  private filesystemSync: FilesystemSync | undefined;
  private _controlUrl: string | undefined;
  private cpuSample = { usage: process.cpuUsage(), at: performance.now(), value: 0 };
  private closing: Promise<void> | undefined;

  /**
   * @throws CapstanError CAPSTAN_ERR_CONFIG_INVALID for bad options (see resolveMediaServerOptions),
   *   CAPSTAN_ERR_NATIVE_UDP when `udp` is 'native' and the addon cannot be loaded.
   */
  constructor(options: MediaServerOptions) {
    this.options = resolveMediaServerOptions(options);
    this.codecs = options.codecs ?? codecRegistry;
    this.logger = (options.logger ?? pino({ level: this.options.logLevel }, pino.destination(2))).child({ mediaServer: this.options.id });
    this.transport = openUdpTransport(this.options.udp, this.logger);
    this.pool = new RtpPortPool({ range: this.options.rtpPorts, address: this.options.rtpAddress, transport: this.transport });
  }

  /** Base URL of the control and file API; set once started. */
  get controlUrl(): string {
    if (!this._controlUrl) throw new CapstanError('CAPSTAN_ERR_CLOSED', 'the media server is not started');
    return this._controlUrl;
  }

  get id(): string {
    return this.options.id;
  }

  /** Locks the data folder, repairs crash leftovers, listens, and starts registering. */
  async start(): Promise<void> {
    if (this.app) return;
    const { recordingsDir, dataDir } = this.options;
    await mkdir(recordingsDir, { recursive: true });
    for (const codec of await loadCodecModules(this.codecs, this.options.codecModules)) {
      this.logger.info({ mime: codec.mime, name: codec.name }, 'codec plugin loaded');
    }
    this.lock = await DataDirLock.acquire(dataDir);
    try {
      // One syncfs a round for every recording's flush (media/recording/filesystem-sync.ts), or fdatasync per file.
      this.filesystemSync = await FilesystemSync.open(recordingsDir);
      await this.recover();
      this.app = this.buildApp();
      await this.app.listen({ port: this.options.port, host: this.options.address });
      const address = this.app.server.address();
      const port = typeof address === 'object' && address ? address.port : this.options.port;
      const host = this.options.advertiseAddress.includes(':') ? `[${this.options.advertiseAddress}]` : this.options.advertiseAddress;
      this._controlUrl = `http://${host}:${port}`;
    } catch (e) {
      await this.app?.close().catch(() => {});
      await this.filesystemSync?.close().catch(() => {});
      await this.lock.release();
      throw e;
    }
    this.logger.info(
      { controlUrl: this._controlUrl, dataDir, rtpPorts: this.options.rtpPorts, udp: this.transport.kind, durability: this.filesystemSync ? 'syncfs' : 'fdatasync', recovered: this.recovered.size },
      'media server listening',
    );
    // Files never fetched go after the retention (media/server/housekeeping.ts); forgotten like a DELETE.
    this.housekeeping = new Housekeeping({
      recordingsDir: this.options.recordingsDir,
      retentionSeconds: this.options.retentionSeconds,
      logger: this.logger,
      onRemoved: (fileName) => {
        this.recovered.delete(fileName);
        for (const [id, result] of this.finished) if (result.fileName === fileName) this.finished.delete(id);
      },
    });
    this.housekeeping.start();
    if (this.options.hostUrl) {
      this.registration = new HostRegistration({
        hostUrl: this.options.hostUrl,
        secret: this.options.secret,
        intervalMs: this.options.loadIntervalMs,
        request: { id: this.id, location: this.options.location, controlUrl: this._controlUrl, version: MEDIA_SERVER_VERSION, pid: process.pid },
        report: () => this.health(),
        logger: this.logger,
      });
      this.registration.start();
    }
  }

  /** Stops recordings (finalizing their files), closes calls, registration and HTTP. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.registration?.close();
      await this.housekeeping?.stop();
      await Promise.allSettled([...this.active.keys()].map((id) => this.stopRecording(id)));
      await Promise.allSettled([...this.calls.values()].map((call) => call.close()));
      this.calls.clear();
      await this.transport.close();
      await this.app?.close();
      await this.filesystemSync?.close();
      await this.lock?.release();
      this.logger.info('media server closed');
    })();
    return this.closing;
  }

  // ---- MediaControl --------------------------------------------------------------------------

  async health(): Promise<LoadReport> {
    let freeDiskBytes = 0;
    try {
      const fs = await statfs(this.options.recordingsDir);
      freeDiskBytes = fs.bavail * fs.bsize;
    } catch {
      // Folder gone or unreadable: report no space, so the host stops sending sessions.
    }
    let legs = 0;
    for (const call of this.calls.values()) legs += call.legCount;
    return {
      cpu: this.cpu(),
      activeResources: legs + this.active.size,
      acceptsSessions: !this.closing && this.pool.available >= 2 && freeDiskBytes >= this.options.minFreeDiskBytes,
      freeDiskBytes,
      recovered: [...this.recovered.values()].map((r) => ({ ...r, uri: this.signUri(r.fileName) })),
      packets: this.counters.snapshot(),
    };
  }

  async allocateCall(request: AllocateCallRequest): Promise<AllocateCallResponse> {
    this.assertOpen();
    const { callId } = request;
    if (this.calls.has(callId) || this.allocating.has(callId)) {
      throw new CapstanError('CAPSTAN_ERR_CONFLICT', `call ${callId} is already allocated`, { details: { callId } });
    }
    this.allocating.add(callId);
    try {
      const call = await MediaCall.allocate(request, { pool: this.pool, counters: this.counters, logger: this.logger });
      if (this.closing) {
        await call.close();
        this.assertOpen();
      }
      this.calls.set(callId, call);
      this.logger.debug({ callId, legs: call.endpoints(this.options.advertiseAddress) }, 'call allocated');
      return { callId, legs: call.endpoints(this.options.advertiseAddress) };
    } finally {
      this.allocating.delete(callId);
    }
  }

  setRemote(callId: string, legId: LegRole, remote: Endpoint): void {
    this.call(callId).setRemote(legId, remote);
  }

  async releaseCall(callId: string): Promise<void> {
    const call = this.call(callId);
    this.calls.delete(callId);
    await Promise.allSettled(call.activeRecordings.map((r) => this.stopRecording(r.recordingId)));
    await call.close();
    this.logger.debug({ callId }, 'call released');
  }

  async startRecording(callId: string, request: StartRecordingRequest): Promise<StartRecordingResponse> {
    this.assertOpen();
    const call = this.call(callId);
    const { recordingId } = request;
    if (this.active.has(recordingId) || this.finished.has(recordingId)) {
      throw new CapstanError('CAPSTAN_ERR_CONFLICT', `recording ${recordingId} already exists`, { details: { recordingId } });
    }
    call.assertRecordable();
    // Refused here (400) before anything is created: an unknown format or a channel count the codec cannot write.
    const codec = this.codecs.require(request.mime, request.channels);
    const fileName = recordingFileName(recordingId, request.encryption !== undefined, codec.fileExtension);
    const publicKey = request.encryption ? parsePublicKey(request.encryption.publicKeyPem) : undefined;
    const recording = new Recording({
      recordingId,
      path: join(this.options.recordingsDir, fileName),
      mime: codec.mime,
      codecs: this.codecs,
      channels: request.channels,
      legs: call.legRoles,
      signUri: (name) => this.signUri(name),
      jitterDelayMs: this.options.jitterDelayMs,
      flushIntervalMs: this.options.flushIntervalMs,
      tickMs: this.options.writeIntervalMs,
      maskDtmf: request.maskDtmf ?? false,
      // G.711 and L16 legs on the native socket set are recorded there, without JavaScript per packet.
      createTimeline: (leg, options) => call.createTimeline(leg, options),
      metadata: { callId, mediaServer: this.id },
      onError: (err) => this.logger.error({ recordingId, callId, err }, 'recording failed'),
      openSink: publicKey
        ? (path: string) =>
            SasfFileSink.create(path, {
              publicKey,
              metadata: { recordingId, mimeType: codec.mime, sampleRate: 8000, channels: request.channels },
            })
        : (path: string) => PlainFileSink.create(path, { filesystemSync: this.filesystemSync }),
    });
    // Registered before the file exists so packets arriving meanwhile are kept.
    this.active.set(recordingId, { recording, callId });
    call.addRecording(recording);
    try {
      await recording.open();
    } catch (e) {
      this.active.delete(recordingId);
      call.removeRecording(recording);
      throw e;
    }
    this.logger.info({ recordingId, callId, fileName, mime: request.mime, channels: request.channels }, 'recording started');
    return { recordingId, fileName, uri: this.signUri(fileName) };
  }

  pauseRecording(recordingId: string, request: PauseRequest): void {
    this.activeRecording(recordingId).pause(request.mode);
  }

  resumeRecording(recordingId: string): void {
    this.activeRecording(recordingId).resume();
  }

  /** Stops a recording; stopping a stopped one answers its result again (with a fresh URI). */
  async stopRecording(recordingId: string): Promise<RecordingResult> {
    const done = this.finished.get(recordingId);
    if (done) return { ...done, uri: this.signUri(done.fileName) };
    const entry = this.active.get(recordingId);
    if (!entry) throw new CapstanError('CAPSTAN_ERR_RECORDING_NOT_FOUND', `no recording ${recordingId}`, { details: { recordingId } });
    const call = this.calls.get(entry.callId);
    try {
      const result = await entry.recording.stop();
      if (call) result.stats.legs = call.stats();
      this.finished.set(recordingId, result);
      this.logger.info({ recordingId, fileName: result.fileName, samples: result.samples, sizeBytes: result.sizeBytes }, 'recording stopped');
      return result;
    } finally {
      this.active.delete(recordingId);
      call?.removeRecording(entry.recording);
    }
  }

  // ---- internals -----------------------------------------------------------------------------

  private signUri(fileName: string): string {
    return signFileUri(this.controlUrl, fileName, this.options.secret, this.options.uriTtlSeconds);
  }

  private call(callId: string): MediaCall {
    const call = this.calls.get(callId);
    if (!call) throw new CapstanError('CAPSTAN_ERR_CALL_NOT_FOUND', `no call ${callId}`, { details: { callId } });
    return call;
  }

  private activeRecording(recordingId: string): Recording {
    const entry = this.active.get(recordingId);
    if (entry) return entry.recording;
    if (this.finished.has(recordingId)) {
      throw new CapstanError('CAPSTAN_ERR_CONFLICT', `recording ${recordingId} is stopped`, { details: { recordingId, state: 'stopped' } });
    }
    throw new CapstanError('CAPSTAN_ERR_RECORDING_NOT_FOUND', `no recording ${recordingId}`, { details: { recordingId } });
  }

  private assertOpen(): void {
    if (this.closing) throw new CapstanError('CAPSTAN_ERR_CLOSED', 'the media server is closing');
  }

  /** Share of one core used since the previous sample; resampled at most every 250 ms. */
  private cpu(): number {
    const now = performance.now();
    const elapsedMs = now - this.cpuSample.at;
    if (elapsedMs >= 250) {
      const used = process.cpuUsage(this.cpuSample.usage);
      this.cpuSample = { usage: process.cpuUsage(), at: now, value: (used.user + used.system) / 1000 / elapsedMs };
    }
    return this.cpuSample.value;
  }

  private async recover(): Promise<void> {
    const dir = this.options.recordingsDir;
    for (const name of await readdir(dir)) {
      if (!name.endsWith(PART_SUFFIX)) {
        await this.offerLeftover(name);
        continue;
      }
      const partPath = join(dir, name);
      const fileName = name.slice(0, -PART_SUFFIX.length);
      if (fileName.endsWith('.sasf')) {
        await this.recoverSasf(partPath, fileName);
        continue;
      }
      try {
        let recordingId = fileName.split('.')[0]!;
        if (fileName.endsWith('.opus')) {
          // Ogg: whole pages kept, the last marked end-of-stream. The id is the file name's first part.
          const result = await repairOgg(partPath);
          this.logger.warn({ fileName, recordingId, pages: result.pages, droppedBytes: result.droppedBytes }, 'recovered an unfinished recording');
        } else {
          const result = await repairWav(partPath);
          if (typeof result.metadata?.recordingId === 'string') recordingId = result.metadata.recordingId;
          this.logger.warn({ fileName, recordingId, frames: result.frames }, 'recovered an unfinished recording');
        }
        this.recovered.set(fileName, { recordingId, fileName });
      } catch (err) {
        // Kept for inspection under another name, so it is not retried at every start.
        await rename(partPath, `${partPath}.unrecoverable`).catch(() => {});
        this.logger.error({ fileName: name, err }, 'cannot recover an unfinished recording');
      }
    }
  }

  /**
   * A finished file from before this start that nobody fetched yet: finalized when the server was
   * stopped (or when its host died: the server finalizes and exits), possibly never reported to a
   * host that died first. Offered with the repaired ones so a restarted host takes it.
   */
  private async offerLeftover(fileName: string): Promise<void> {
    if (!FILE_NAME_PATTERN.test(fileName)) return;
    try {
      const recordingId = fileName.endsWith('.sasf') ? (await inspectSasf(join(this.options.recordingsDir, fileName))).recordingId : fileName.split('.')[0]!;
      this.recovered.set(fileName, { recordingId, fileName });
    } catch (err) {
      this.logger.warn({ fileName, err }, 'a file left from before this start cannot be read; not offered');
    }
  }

  /**
   * An SASF file cut by a crash is already what it should be: its verified chunks decrypt and it
   * says it is incomplete. It only needs its final name; its recording id is in its header.
   */
  private async recoverSasf(partPath: string, fileName: string): Promise<void> {
    try {
      const inspection = await inspectSasf(partPath);
      await rename(partPath, join(this.options.recordingsDir, fileName));
      this.recovered.set(fileName, { recordingId: inspection.recordingId, fileName });
      this.logger.warn({ fileName, recordingId: inspection.recordingId, chunks: inspection.chunkCount }, 'recovered an unfinished encrypted recording');
    } catch (err) {
      await rename(partPath, `${partPath}.unrecoverable`).catch(() => {});
      this.logger.error({ fileName, err }, 'cannot recover an unfinished encrypted recording');
    }
  }

  private buildApp(): FastifyInstance {
    const app = Fastify({
      loggerInstance: this.logger.child({ component: 'http' }) as FastifyBaseLogger,
      // Load reports and file fetches would flood the log; failures are logged by the error handler.
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: 64 * 1024,
      // Closing a media server closes its connections: a requester's keep-alive connection caught
      // mid-response would otherwise hold close() for the keep-alive timeout (72 s). Requesters
      // retry a fetch that is cut.
      forceCloseConnections: true,
    });
    app.setErrorHandler((err: FastifyError | CapstanError, request, reply) => {
      if (isCapstanError(err)) return reply.code(err.statusCode).send(err.toJSON());
      const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
      if (status < 500) {
        // Fastify's own client errors (bad JSON, wrong content type, body too large).
        return reply.code(status).send({ code: 'CAPSTAN_ERR_BAD_REQUEST', message: err.message, details: { fastifyCode: err.code } });
      }
      request.log.error({ err, url: request.url }, 'request failed');
      return reply.code(500).send(new CapstanError('CAPSTAN_ERR_INTERNAL').toJSON());
    });
    app.setNotFoundHandler((request, reply) =>
      reply.code(404).send(new CapstanError('CAPSTAN_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`).toJSON()),
    );
    registerControlRoutes(app, this, this.options.secret);
    registerFileRoutes(app, {
      recordingsDir: this.options.recordingsDir,
      secret: this.options.secret,
      onDeleted: (fileName) => {
        this.recovered.delete(fileName);
        for (const [id, result] of this.finished) if (result.fileName === fileName) this.finished.delete(id);
      },
    });
    return app;
  }
}

function parsePublicKey(pem: string) {
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'x25519') throw new Error(`a ${key.asymmetricKeyType} key`);
    return key;
  } catch (e) {
    throw new CapstanError('CAPSTAN_ERR_KEY_INVALID', `encryption.publicKeyPem is not an X25519 public key: ${(e as Error).message}`);
  }
}
