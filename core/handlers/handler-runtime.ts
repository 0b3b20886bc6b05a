import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CapstanError, toCapstanError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { HandlerErrorInfo } from '../events/handler-events.ts';
import type { Logger } from '../logger.ts';
import { compileHandler, hashSource } from './compile-handler.ts';
import type { HandlerActions } from './handler-actions.ts';
import { HANDLER_EVENT_NAMES, type HandlerEventName } from './handler-event-names.ts';
import { resolveLimits, type HandlerLimits } from './handler-limits.ts';
import { HandlerSandbox, type EventOutcome } from './handler-sandbox.ts';
import { HandlerStateStore } from './handler-state.ts';
import { handlerNameOf, HandlerWatcher } from './handler-watcher.ts';

export interface HandlerRuntimeOptions {
  /** Folder of handler scripts (config `handlersDir`). */
  dir: string;
  events: EventBus;
  actions: HandlerActions;
  logger: Logger;
  /** Sandbox limits; each one left out takes its default (DEFAULT_HANDLER_LIMITS). */
  limits?: Partial<HandlerLimits>;
  /** Folder for the handlers' persistent state, one `<name>.json` each. */
  stateDir: string;
  /** A handler's configuration by name, its `capstan.config`. Default: `{}` for every handler. */
  configFor?: (name: string) => unknown;
  /** Watch the folder and hot-reload on save. Default true. */
  watch?: boolean;
  /** Quiet time after the last file event for a handler before it is reloaded, ms. Default 25. */
  reloadDebounceMs?: number;
}

export type HandlerState = 'running' | 'failed' | 'quarantined';

/** One attempt to load a version, or what later happened to it. Newest last. */
export interface HandlerReloadRecord {
  version: number;
  hash: string | null;
  at: string;
  outcome: 'loaded' | 'failed' | 'quarantined' | 'removed';
  /** Time from reading the file to the version serving (or failing), ms. */
  loadMs: number | null;
  error: HandlerErrorInfo | null;
}

export interface HandlerStatus {
  name: string;
  file: string;
  /** `running`: a version serves events; `failed`: no version ever loaded; `quarantined`: stopped after an error. */
  status: HandlerState;
  /** The version serving events, or null. */
  version: number | null;
  hash: string | null;
  loadedAt: string | null;
  subscriptions: string[];
  /** Events handed to the handler since the runtime started. */
  events: number;
  lastError: HandlerErrorInfo | null;
  reloads: HandlerReloadRecord[];
}

interface Entry {
  name: string;
  file: string;
  active: HandlerSandbox | null;
  hash: string | null;
  /** Last source hash tried, so a burst of events on a broken file compiles it once. */
  triedHash: string | null;
  loadedAt: string | null;
  status: HandlerState;
  lastError: HandlerErrorInfo | null;
  reloads: HandlerReloadRecord[];
  events: number;
}

const MAX_RELOAD_RECORDS = 20;

/**
 * Loads every handler in a folder into its own sandbox, feeds them the call and recording events
 * they subscribed to, hot-reloads them on save and quarantines the ones that misbehave.
 *
 * The runtime holds one bus listener per event name that any running version subscribes to, and
 * each event goes to each handler's one active version: a reload swaps `active` synchronously, so
 * an event reaches either the old or the new version, never both and never neither. The old
 * version finishes what it has in flight and is then disposed.
 */
export class HandlerRuntime {
  readonly #options: HandlerRuntimeOptions;
  readonly #limits: HandlerLimits;
  readonly #logger: Logger;
  readonly #entries = new Map<string, Entry>();
  readonly #queues = new Map<string, Promise<void>>();
  /** Version counters and state outlive an entry, so delete + re-create continues the numbering and keeps state. */
  readonly #versions = new Map<string, number>();
  readonly #states = new Map<string, HandlerStateStore>();
  readonly #busOff = new Map<HandlerEventName, () => void>();
  readonly #subscribers = new Map<HandlerEventName, number>();
  readonly #retiring = new Set<HandlerSandbox>();
  #watcher: HandlerWatcher | null = null;
  #started = false;
  #closing: Promise<void> | null = null;

  constructor(options: HandlerRuntimeOptions) {
    this.#options = options;
    this.#limits = resolveLimits(options.limits);
    this.#logger = options.logger;
  }

  get limits(): Readonly<HandlerLimits> {
    return this.#limits;
  }

  /** Loads every handler in the folder, subscribes them, then watches the folder. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    if (this.#options.watch ?? true) {
      // Watch before the first scan, so a save between the two is not missed (a reload of
      // unchanged content is a no-op).
      this.#watcher = new HandlerWatcher(this.#options.dir, this.#options.reloadDebounceMs ?? 25, (name) => void this.#enqueue(name, () => this.#load(name, false)));
      await this.#watcher.start();
    }
    let files: string[] = [];
    try {
      files = await readdir(this.#options.dir);
    } catch (e) {
      this.#logger.warn({ err: e, dir: this.#options.dir }, 'handlers folder cannot be read; no handlers loaded');
    }
    const names = files.map(handlerNameOf).filter((n): n is string => n !== null).sort();
    await Promise.all(names.map((name) => this.#enqueue(name, () => this.#load(name, false))));
    this.#logger.info({ dir: this.#options.dir, handlers: this.list().map((h) => `${h.name}:${h.status}`) }, 'handler runtime started');
  }

  /** Every known handler, by name. */
  list(): HandlerStatus[] {
    return [...this.#entries.values()].sort((a, b) => a.name.localeCompare(b.name)).map((e) => this.#status(e));
  }

  get(name: string): HandlerStatus | undefined {
    const entry = this.#entries.get(name);
    return entry ? this.#status(entry) : undefined;
  }

  /** Loads the handler's file again even if it did not change (the way out of quarantine without an edit). */
  async reload(name: string): Promise<HandlerStatus> {
    if (handlerNameOf(`${name}.ts`) !== name) throw new CapstanError('CAPSTAN_ERR_HANDLER_NOT_FOUND', `No handler named ${name}`, { details: { name } });
    await this.#enqueue(name, () => this.#load(name, true));
    const status = this.get(name);
    if (!status) throw new CapstanError('CAPSTAN_ERR_HANDLER_NOT_FOUND', `No handler named ${name}`, { details: { name } });
    return status;
  }

  /** Waits until every load and reload queued so far has finished (tests, benchmarks). */
  async settled(): Promise<void> {
    for (let queued = [...this.#queues.values()]; queued.length > 0; queued = [...this.#queues.values()]) await Promise.all(queued);
  }

  #status(e: Entry): HandlerStatus {
    return {
      name: e.name,
      file: e.file,
      status: e.status,
      version: e.active?.version ?? null,
      hash: e.active ? e.hash : null,
      loadedAt: e.active ? e.loadedAt : null,
      subscriptions: e.active ? [...e.active.subscriptions] : [],
      events: e.events,
      lastError: e.lastError,
      reloads: [...e.reloads],
    };
  }

  /** Loads and reloads of one handler run one after the other; different handlers in parallel. */
  #enqueue(name: string, task: () => Promise<void>): Promise<void> {
    const previous = this.#queues.get(name) ?? Promise.resolve();
    const next = previous.then(task).catch((e: unknown) => this.#logger.error({ err: e, handler: name }, 'handler load task failed'));
    this.#queues.set(name, next);
    void next.then(() => {
      if (this.#queues.get(name) === next) this.#queues.delete(name);
    });
    return next;
  }

  #entry(name: string): Entry {
    let entry = this.#entries.get(name);
    if (!entry) {
      entry = { name, file: join(this.#options.dir, `${name}.ts`), active: null, hash: null, triedHash: null, loadedAt: null, status: 'failed', lastError: null, reloads: [], events: 0 };
      this.#entries.set(name, entry);
    }
    return entry;
  }

  #state(name: string): HandlerStateStore {
    let state = this.#states.get(name);
    if (!state) {
      state = new HandlerStateStore(join(this.#options.stateDir, `${name}.json`), this.#limits.stateMaxBytes, this.#logger);
      this.#states.set(name, state);
    }
    return state;
  }

  #record(entry: Entry, record: HandlerReloadRecord): void {
    entry.reloads.push(record);
    if (entry.reloads.length > MAX_RELOAD_RECORDS) entry.reloads.splice(0, entry.reloads.length - MAX_RELOAD_RECORDS);
  }

  async #load(name: string, force: boolean): Promise<void> {
    if (this.#closing) return;
    const started = performance.now();
    const file = join(this.#options.dir, `${name}.ts`);
    let source: string;
    try {
      source = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.#remove(name);
        return;
      }
      throw e;
    }
    const hash = hashSource(source);
    const existing = this.#entries.get(name);
    // Editors touch files and send several events per save: an unchanged running handler, or the
    // same broken source again, is not reloaded. A quarantined one is, by any save.
    if (!force && existing && (existing.active ? existing.hash === hash : existing.status === 'failed' && existing.triedHash === hash)) return;
    const entry = this.#entry(name);
    entry.triedHash = hash;
    const version = (this.#versions.get(name) ?? 0) + 1;
    this.#versions.set(name, version);
    let sandbox: HandlerSandbox | null = null;
    try {
      const compiled = await compileHandler(source, `${name}.ts`);
      sandbox = await HandlerSandbox.create({
        name,
        version,
        code: compiled.code,
        fileName: `${name}.ts`,
        config: this.#configFor(name),
        limits: this.#limits,
        actions: this.#options.actions,
        state: this.#state(name),
        logger: this.#logger,
        onQuarantine: (error) => this.#onQuarantine(entry, sandbox!, error),
      });
    } catch (e) {
      const error = toCapstanError(e, 'CAPSTAN_ERR_HANDLER_COMPILE').toJSON();
      entry.lastError = error;
      if (!entry.active) entry.status = entry.status === 'quarantined' ? 'quarantined' : 'failed';
      this.#record(entry, { version, hash, at: new Date().toISOString(), outcome: 'failed', loadMs: performance.now() - started, error });
      const running = entry.active?.version ?? null;
      this.#logger.error({ handler: name, version, err: error, runningVersion: running }, running === null ? 'handler failed to load' : 'handler failed to load; the previous version keeps running');
      this.#options.events.emit('handler.failed', { name, version, error, quarantined: false, runningVersion: running });
      return;
    }
    if (this.#closing || this.#entries.get(name) !== entry) {
      // Closed, or the file was deleted while this version compiled.
      sandbox.dispose();
      return;
    }
    const old = entry.active;
    // Subscribe the new version before unsubscribing the old: a shared event never loses its bus listener.
    this.#subscribe(sandbox);
    entry.active = sandbox;
    if (old) this.#retire(old);
    entry.hash = hash;
    entry.status = 'running';
    entry.lastError = null;
    entry.loadedAt = new Date().toISOString();
    const loadMs = performance.now() - started;
    this.#record(entry, { version, hash, at: entry.loadedAt, outcome: 'loaded', loadMs, error: null });
    this.#logger.info({ handler: name, version, hash, replaced: old?.version ?? null, loadMs: Math.round(loadMs * 10) / 10, subscriptions: [...sandbox.subscriptions] }, 'handler loaded');
    this.#options.events.emit('handler.loaded', { name, version, hash, subscriptions: [...sandbox.subscriptions], replacedVersion: old?.version ?? null });
  }

  #configFor(name: string): unknown {
    const config = this.#options.configFor?.(name);
    return config === undefined ? {} : config;
  }

  /** The old version stops getting events now, finishes the ones in flight, then is disposed. */
  #retire(sandbox: HandlerSandbox): void {
    this.#unsubscribe(sandbox);
    this.#retiring.add(sandbox);
    void sandbox.whenIdle().then(() => {
      sandbox.dispose();
      this.#retiring.delete(sandbox);
    });
  }

  #remove(name: string): void {
    const entry = this.#entries.get(name);
    if (!entry) return;
    const version = entry.active?.version ?? null;
    if (entry.active) this.#retire(entry.active);
    entry.active = null;
    this.#entries.delete(name);
    this.#states.get(name)?.flush();
    this.#logger.info({ handler: name, version }, 'handler removed');
    this.#options.events.emit('handler.removed', { name, version });
  }

  #onQuarantine(entry: Entry, sandbox: HandlerSandbox, error: CapstanError): void {
    const info = error.toJSON();
    this.#retiring.delete(sandbox);
    if (entry.active === sandbox) {
      this.#unsubscribe(sandbox);
      entry.active = null;
      entry.status = 'quarantined';
      entry.lastError = info;
    }
    this.#record(entry, { version: sandbox.version, hash: null, at: new Date().toISOString(), outcome: 'quarantined', loadMs: null, error: info });
    this.#logger.error({ handler: entry.name, version: sandbox.version, err: info }, 'handler quarantined');
    this.#options.events.emit('handler.failed', { name: entry.name, version: sandbox.version, error: info, quarantined: true, runningVersion: entry.active?.version ?? null });
  }

  #subscribe(sandbox: HandlerSandbox): void {
    for (const event of sandbox.subscriptions as ReadonlySet<HandlerEventName>) {
      const count = (this.#subscribers.get(event) ?? 0) + 1;
      this.#subscribers.set(event, count);
      if (count === 1) this.#busOff.set(event, this.#options.events.on(event, (payload) => this.#deliver(event, payload)));
    }
  }

  #unsubscribe(sandbox: HandlerSandbox): void {
    for (const event of sandbox.subscriptions as ReadonlySet<HandlerEventName>) {
      const count = (this.#subscribers.get(event) ?? 0) - 1;
      if (count > 0) {
        this.#subscribers.set(event, count);
        continue;
      }
      this.#subscribers.delete(event);
      this.#busOff.get(event)?.();
      this.#busOff.delete(event);
    }
  }

  /**
   * One bus event to every handler subscribed to it. The payload is serialized once and parsed in
   * each sandbox: handlers get copies and can change nothing the host or other handlers see.
   * Returns a promise only when a handler is still working, so `emitAndWait` (call offered and
   * connected) waits for the recordings handlers start.
   */
  #deliver(event: HandlerEventName, payload: unknown): Promise<void> | undefined {
    let json: string | null = null;
    let waiting: Promise<EventOutcome>[] | null = null;
    for (const entry of this.#entries.values()) {
      const sandbox = entry.active;
      if (sandbox === null || !sandbox.subscriptions.has(event)) continue;
      json ??= JSON.stringify(payload);
      entry.events++;
      const outcome = sandbox.dispatch(event, json);
      if (outcome instanceof Promise) (waiting ??= []).push(outcome);
    }
    return waiting ? Promise.all(waiting).then(() => undefined) : undefined;
  }

  /** Event names any running handler listens to (for diagnostics). */
  get subscribedEvents(): HandlerEventName[] {
    return HANDLER_EVENT_NAMES.filter((e) => this.#busOff.has(e));
  }

  /**
   * Stops watching, lets events in flight finish (at most `deadlineMs`), disposes every isolate
   * and writes the handlers' state. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#watcher?.close();
      await this.settled();
      const sandboxes = [...this.#entries.values()].flatMap((e) => (e.active ? [e.active] : [])).concat([...this.#retiring]);
      for (const entry of this.#entries.values()) {
        if (entry.active) this.#unsubscribe(entry.active);
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(sandboxes.map((s) => s.whenIdle())),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.#limits.deadlineMs);
        }),
      ]);
      clearTimeout(timer);
      for (const sandbox of sandboxes) sandbox.dispose();
      this.#retiring.clear();
      for (const state of this.#states.values()) state.flush();
      this.#logger.info('handler runtime closed');
    })();
    return this.#closing;
  }
}
