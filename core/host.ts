import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { CapstanConfig } from './config/schema.ts';
import { EventBus } from './events/event-bus.ts';
import { createHttpServer } from './http/create-http-server.ts';
import { installApiAuth } from './http/api-auth.ts';
import { healthRoutes } from './http/routes/health-routes.ts';
import { mediaServerRoutes } from './http/routes/media-server-routes.ts';
import { rcsRoutes } from './http/routes/rcs-routes.ts';
import { RcsKeeper } from './rcs/rcs-keeper.ts';
import { consoleRoutes } from './console/console-routes.ts';
import { callSourceSipPlugin } from '../plugins/call-source-sip/index.ts';
import { ConsoleUsers } from './console/console-users.ts';
import { Sessions, sessionIdOf } from './console/sessions.ts';
import { RcsRegistry } from './rcs/rcs-registry.ts';
import { recordingRoutes } from './http/routes/recording-routes.ts';
import { componentLogger, createLogger, type Logger } from './logger.ts';
import { HostMetrics } from './metrics.ts';
import { PluginHost, type CapstanPlugin } from './plugin.ts';
import { ContentStore } from './recorder/content-store.ts';
import { Recorder } from './recorder/recorder.ts';
import { MailRequester } from './delivery/mail-requester.ts';
import { HandlerRuntime } from './handlers/handler-runtime.ts';
import { telephonyActions } from './handlers/telephony-actions.ts';
import { handlerRoutes } from './http/routes/handler-routes.ts';
import { deliveryRoutes } from './http/routes/delivery-routes.ts';
import { RecorderKeys } from './recorder/recorder-keys.ts';
import { RetentionRunner } from './recorder/retention.ts';
import { retentionRoutes } from './http/routes/retention-routes.ts';
import { loadOrCreateSecret } from './secret.ts';
import { ServiceRegistry } from './services.ts';
import { EmbeddedMediaServers } from './telephony/embedded-media-servers.ts';
import { MediaServerRegistry } from './telephony/media-server-registry.ts';
import { TelephonyServices } from './telephony/telephony-services.ts';
import { VERSION } from './version.ts';
import { storageKnexPlugin } from '../plugins/storage-knex/index.ts';
import { deliveryMailPlugin } from '../plugins/delivery-mail/index.ts';
import { callSourceSimulatorPlugin } from '../plugins/call-source-simulator/index.ts';

/** The plugins every host starts with; `HostOptions.plugins` adds more. */
export function builtinPlugins(): CapstanPlugin[] {
  return [storageKnexPlugin(), deliveryMailPlugin(), callSourceSimulatorPlugin(), callSourceSipPlugin()];
}

export interface HostOptions {
  /** Default: a pino logger at `config.logLevel` on stdout. */
  logger?: Logger;
  /** Extra plugins, set up after the built-ins. */
  plugins?: CapstanPlugin[];
}

/**
 * The host process: Telephony Services, the Recorder, plugins, the HTTP API, and the embedded media
 * servers. Parents create and track their children; `close()` cascades and is idempotent.
 */
export class Host {
  readonly config: CapstanConfig;
  readonly events: EventBus;
  readonly services = new ServiceRegistry();
  readonly metrics = new HostMetrics();
  readonly registry: MediaServerRegistry;
  /** Remote Content Service servers, by the locations they keep. */
  readonly rcsRegistry: RcsRegistry;
  readonly telephony: TelephonyServices;
  readonly http: FastifyInstance;
  readonly logger: Logger;
  readonly secret: string;
  readonly embedded: EmbeddedMediaServers | null;
  #recorder: Recorder | null = null;
  #mailRequester: MailRequester | null = null;
  #handlers: HandlerRuntime | null = null;
  #retention: RetentionRunner | null = null;
  readonly #plugins: PluginHost;
  #url = '';
  #sessions: Sessions | null = null;
  #closing: Promise<void> | null = null;

  private constructor(config: CapstanConfig, logger: Logger, http: FastifyInstance, plugins: PluginHost) {
    this.config = config;
    this.logger = logger;
    this.http = http;
    this.#plugins = plugins;
    this.events = new EventBus(componentLogger(logger, 'events'));
    this.secret = loadOrCreateSecret(config.dataDir, config.secret);
    this.registry = new MediaServerRegistry(this.events, componentLogger(logger, 'registry'), { downAfterMs: config.mediaServers.downAfterMs });
    this.rcsRegistry = new RcsRegistry(componentLogger(logger, 'rcs-registry'), { downAfterMs: config.mediaServers.downAfterMs });
    this.telephony = new TelephonyServices(this.registry, this.events, componentLogger(logger, 'telephony'), {
      secret: this.secret,
      location: config.location,
      selection: config.selection,
      audioPaths: config.audioPaths,
      recordingMimeTypeDefault: config.mediaServers.recordingMimeTypeDefault,
      journalDir: join(config.dataDir, 'calls'),
    });
    this.embedded = null;
  }

  /** The URL the host listens on (and media servers register with). */
  get url(): string {
    return this.#url;
  }

  get recorder(): Recorder {
    return this.#recorder!;
  }

  get handlers(): HandlerRuntime {
    return this.#handlers!;
  }

  static async start(config: CapstanConfig, options: HostOptions = {}): Promise<Host> {
    const logger = options.logger ?? createLogger({ level: config.logLevel });
    const http = await createHttpServer(logger, VERSION);
    // Before any route: every /api/v1 request gets its principal (token and role) first.
    // Console sessions count as principals for the API too (a browser is who signed in).
    const sessions = new Sessions(config.console.sessionHours * 3_600_000);
    installApiAuth(http, config.api.tokens, (request) => sessions.get(sessionIdOf(request.headers.cookie)));
    if (config.api.tokens.length === 0 && !['127.0.0.1', '::1', 'localhost'].includes(config.http.address)) {
      logger.warn({ address: config.http.address }, 'the API is open (no api.tokens) and listens beyond loopback: configure api.tokens');
    }
    const plugins = new PluginHost();
    for (const plugin of [...builtinPlugins(), ...(options.plugins ?? [])]) plugins.register(plugin);
    const host = new Host(config, logger, http, plugins);
    host.#sessions = sessions;
    try {
      await host.#start();
    } catch (e) {
      await host.close().catch(() => undefined);
      throw e;
    }
    return host;
  }

  async #start(): Promise<void> {
    const { config, logger } = this;
    this.services.provide('telephony', this.telephony);
    this.#countEvents();
    await this.#plugins.setupAll((plugin) => ({
      config,
      events: this.events,
      logger: componentLogger(logger, plugin.name),
      http: this.http,
      services: this.services,
    }));
    const content = new ContentStore(join(config.dataDir, 'store'));
    const store = this.services.get('recordingStore');
    const keys = await this.#openKeys();
    const rcs = new RcsKeeper(this.rcsRegistry, this.secret);
    this.#recorder = new Recorder(
      { store, content, telephony: this.telephony, events: this.events, logger: componentLogger(logger, 'recorder'), rcs },
      {
        policies: config.recorder.policies,
        fetchAttempts: config.recorder.fetchAttempts,
        encryptByDefault: config.recorder.encryption.enabled,
        keys,
      },
    );
    const mail = config.mail;
    this.#mailRequester = new MailRequester(
      {
        store: this.services.get('deliveryStore'),
        mail: this.services.get('mail'),
        telephony: this.telephony,
        recorder: this.#recorder,
        events: this.events,
        logger: componentLogger(logger, 'mail-requester'),
      },
      {
        agents: mail.agents,
        workgroups: mail.workgroups,
        maxAttachmentBytes: mail.maxAttachmentBytes,
        keepCopy: mail.keepCopy,
        retryInitialMs: mail.retryInitialMs,
        retryMaxMs: mail.retryMaxMs,
        hostUrl: () => config.http.publicUrl ?? this.#url,
      },
    );
    // Calls a previous run left in progress (it crashed): known again before the API listens.
    this.telephony.restore();
    deliveryRoutes(this.http, { store: () => this.services.get('deliveryStore') });
    const h = config.handlers;
    this.#handlers = new HandlerRuntime({
      dir: config.handlersDir,
      events: this.events,
      actions: telephonyActions(this.telephony, { encryptionKey: () => keys?.active ?? null }),
      logger: componentLogger(logger, 'handlers'),
      limits: {
        memoryMb: h.memoryMb,
        cpuMsPerEvent: h.cpuMsPerEvent,
        deadlineMs: h.deadlineMs,
        loadTimeoutMs: h.loadTimeoutMs,
        maxHostCallsPerEvent: h.maxHostCallsPerEvent,
        stateMaxBytes: h.stateMaxBytes,
      },
      stateDir: h.stateDir ?? join(config.dataDir, 'handler-state'),
      configFor: (name) => h.config[name] ?? {},
      watch: h.watch,
      reloadDebounceMs: h.reloadDebounceMs,
    });
    await this.#handlers.start();
    handlerRoutes(this.http, this.#handlers);
    healthRoutes(this.http, {
      registry: this.registry,
      metrics: this.metrics,
      version: VERSION,
      components: () => ({
        http: { state: 'up' },
        recorder: { state: 'up', detail: config.recorder.database.client },
        mail: { state: 'up', detail: this.services.get('mail').mode },
        plugins: { state: 'up', detail: this.#plugins.names.join(', ') },
        handlers: (() => {
          const list = this.#handlers?.list() ?? [];
          const bad = list.filter((x) => x.status !== 'running').map((x) => `${x.name}: ${x.status}`);
          return bad.length ? { state: 'down' as const, detail: bad.join(', ') } : { state: 'up' as const, detail: `${list.length} running` };
        })(),
      }),
    });
    mediaServerRoutes(this.http, { registry: this.registry, secret: this.secret });
    rcsRoutes(this.http, { registry: this.rcsRegistry, secret: this.secret });
    // A Remote Content Service server registering (or back up) takes the recordings that waited for it.
    this.rcsRegistry.onUp(() => void this.#recorder?.retryWaiting().catch((e: unknown) => logger.error({ err: e }, 'retrying recordings for the remote content service failed')));
    const retention = config.recorder.retention;
    const locations = Object.fromEntries(Object.entries(retention.locations).map(([name, dir]) => [name, new ContentStore(dir)]));
    this.#retention = new RetentionRunner({ store, content, locations, rcs, logger: componentLogger(logger, 'retention') }, retention.policies);
    this.#retention.schedule(retention.intervalMinutes * 60_000);
    retentionRoutes(this.http, this.#retention);
    recordingRoutes(this.http, { store: () => store, content, locations, keys: () => keys, audit: () => this.services.get('auditLog'), rcs });
    if (config.console.enabled) {
      consoleRoutes(this.http, {
        users: await ConsoleUsers.open(config.console.users, config.dataDir, componentLogger(logger, 'console')),
        sessions: this.#sessions!,
        events: this.events,
        telephony: () => this.telephony,
        logger: componentLogger(logger, 'console'),
        securePauseMaxSeconds: config.console.securePauseMaxSeconds,
        sessionHours: config.console.sessionHours,
      });
    }
    this.#url = await this.http.listen({ port: config.http.port, host: config.http.address });
    const publicUrl = config.http.publicUrl ?? this.#url;
    logger.info({ url: this.#url, dataDir: config.dataDir }, 'host listening');
    if (config.mediaServers.embedded > 0) {
      const embedded = new EmbeddedMediaServers(
        {
          count: config.mediaServers.embedded,
          hostUrl: publicUrl,
          secret: this.secret,
          location: config.mediaServers.location ?? config.location,
          rtpPorts: config.mediaServers.rtpPorts,
          retentionDays: config.mediaServers.retentionDays,
          rtpAddress: config.mediaServers.rtpAddress,
          udp: config.mediaServers.udp,
          dataDir: config.dataDir,
          logLevel: config.logLevel,
          codecModules: config.mediaServers.codecModules,
        },
        this.registry,
        componentLogger(logger, 'media-servers'),
      );
      (this as { embedded: EmbeddedMediaServers | null }).embedded = embedded;
      this.registry.expectEmbedded(embedded.ids);
      await embedded.start();
      await this.#waitForRegistrations(embedded.ids);
    }
    await this.#recorder.resume();
    await this.#mailRequester.resume();
  }

  /**
   * The Recorder's keys: required (and generated on first start) when encryption is enabled;
   * otherwise opened when the folder has keys, so recordings encrypted earlier still play.
   */
  async #openKeys(): Promise<RecorderKeys | null> {
    const { encryption } = this.config.recorder;
    const dir = encryption.keysDir ?? join(this.config.dataDir, 'keys');
    const passphrase = encryption.passphraseEnv === undefined ? undefined : process.env[encryption.passphraseEnv];
    const logger = componentLogger(this.logger, 'keys');
    if (encryption.enabled) return RecorderKeys.open({ dir, generateIfMissing: true, passphrase }, logger);
    return RecorderKeys.open({ dir, generateIfMissing: false, passphrase }, logger).catch(() => null);
  }

  /** Children print "ready" once listening; they count as started once registered. */
  async #waitForRegistrations(ids: string[], timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ids.every((id) => this.registry.get(id)?.state === 'up')) {
      if (Date.now() > deadline) {
        this.logger.warn({ ids }, 'embedded media servers did not all register in time');
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  #countEvents(): void {
    const m = this.metrics;
    this.events.on('call.connected', () => {
      m.callsTotal.inc();
      m.callsActive.inc();
    });
    this.events.on('call.disconnected', () => m.callsActive.dec());
    this.events.on('recording.started', ({ recording }) => m.recordingsStarted.inc({ requester: recording.requester }));
    this.events.on('recording.stored', () => m.recordingsStored.inc());
    this.events.on('recording.failed', () => m.recordingsFailed.inc());
  }

  /**
   * Shuts down in order: hang up calls (recordings finalized), let the Recorder store what it
   * fetched, stop the media servers, then plugins and HTTP. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.logger.info('host shutting down');
      await this.telephony.close();
      // After the hang-ups, so handlers still see the disconnects.
      await this.#handlers?.close();
      this.#retention?.close();
      await this.#mailRequester?.close();
      await this.#recorder?.close();
      await this.embedded?.close();
      await this.#plugins.closeAll((name, e) => this.logger.error({ err: e, plugin: name }, 'plugin close failed'));
      await this.http.close();
      this.registry.close();
      this.rcsRegistry.close();
      this.events.removeAllListeners();
      this.logger.info('host stopped');
    })();
    return this.#closing;
  }
}
