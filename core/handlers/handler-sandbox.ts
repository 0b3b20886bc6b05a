import ivm from 'isolated-vm';
import { CapstanError, toCapstanError } from '../errors.ts';
import type { HandlerErrorInfo } from '../events/handler-events.ts';
import type { Logger } from '../logger.ts';
import { HandlerStartOptionsSchema, type HandlerActionContext, type HandlerActions, type HandlerStartOptions } from './handler-actions.ts';
import { HANDLER_EVENT_NAMES } from './handler-event-names.ts';
import type { HandlerLimits } from './handler-limits.ts';
import type { HandlerStateStore } from './handler-state.ts';
import { GUEST_PRELUDE } from './guest-prelude.ts';

export type ActionOp = 'start' | 'pause' | 'securePause' | 'resume' | 'stop';

/** One action a handler asked for, as the host validated it. */
export type ActionRecord =
  | { op: 'start'; callId: string; options: HandlerStartOptions }
  | { op: Exclude<ActionOp, 'start'>; recordingId: string };

export interface EventOutcome {
  event: string;
  /** CPU the handler used for this event, ms (sync part and continuations). */
  cpuMs: number;
  /** Actions taken while handling the event; filled only with `recordActions`. */
  actions: ActionRecord[];
  /** The error that made the handler fail on this event (it is then quarantined), or null. */
  error: HandlerErrorInfo | null;
}

export interface SandboxOptions {
  name: string;
  version: number;
  /** Compiled JavaScript (see compileHandler). */
  code: string;
  /** Shown in stack traces and compile errors. */
  fileName: string;
  /** The handler's configuration, copied in as JSON and frozen (`capstan.config`). */
  config: unknown;
  limits: HandlerLimits;
  actions: HandlerActions;
  state: HandlerStateStore;
  logger: Logger;
  /** Called once when the sandbox stops itself; it is already disposed then. */
  onQuarantine: (error: CapstanError) => void;
  /** Keep the actions of each event in its outcome (tests, benchmarks). Default false. */
  recordActions?: boolean;
  /** Test mode: the handler's test file, run after the handler, and the host side of its `test.*` calls. */
  test?: { code: string; fileName: string; onOp: (op: string, json: string) => string };
}

interface InFlight {
  seq: number;
  event: string;
  startedAt: number;
  cpuMs: number;
  hostCalls: number;
  /** Listener promises not settled yet. */
  waiting: number;
  actionsPending: number;
  actions: ActionRecord[];
  timer: NodeJS.Timeout | null;
  resolve: ((outcome: EventOutcome) => void) | null;
  /** Test code and load: not an event, no CPU budget (bounded by loadTimeoutMs per entry instead). */
  budgeted: boolean;
}

/** Added to the wall-clock backstop of each synchronous guest call, ms. */
const WALL_SLACK_MS = 20;
const OK = '{}';
const errorAnswer = (e: CapstanError): string => JSON.stringify({ error: e.toJSON() });
const info = (e: CapstanError): HandlerErrorInfo => e.toJSON();

// Arguments are numbers, booleans and strings only: copied, never shared.
type GuestArg = string | number | boolean;
type GuestFn = ivm.Reference<(...args: GuestArg[]) => unknown>;

/**
 * One version of one handler in its own isolate. The isolate sees one copied-in callback; the host
 * holds References to the guest's entry points (the guest never holds a host Reference).
 *
 * Every guest entry (dispatch, settle, test run) is a synchronous call with a timeout, so the
 * guest's microtasks — the continuations of its async listeners — run inside it and count against
 * the event's CPU budget; the wall-clock deadline covers the time spent waiting on actions.
 * Host callbacks never dispose the isolate or call back into it: they record what must happen and
 * the host acts once the guest call has returned.
 */
export class HandlerSandbox {
  readonly name: string;
  readonly version: number;
  readonly #options: SandboxOptions;
  readonly #limits: HandlerLimits;
  readonly #context: HandlerActionContext;
  #isolate: ivm.Isolate | null = null;
  #dispatchRef: GuestFn | null = null;
  #settleRef: GuestFn | null = null;
  #runTestRef: GuestFn | null = null;
  #listTestsRef: GuestFn | null = null;
  #subscriptions: ReadonlySet<string> = new Set();
  #status: 'loading' | 'running' | 'quarantined' | 'disposed' = 'loading';
  #error: CapstanError | null = null;
  /** A fatal problem noticed inside a host callback, acted on once the guest call returns. */
  #fatal: CapstanError | null = null;
  readonly #events = new Map<number, InFlight>();
  /** Events whose counters changed during the current guest call. */
  readonly #touched = new Set<InFlight>();
  #entry: InFlight | null = null;
  #depth = 0;
  #seq = 0;
  #idleWaiters: (() => void)[] = [];

  private constructor(options: SandboxOptions) {
    this.name = options.name;
    this.version = options.version;
    this.#options = options;
    this.#limits = options.limits;
    this.#context = { handler: options.name, version: options.version };
  }

  /** Creates the isolate and loads the handler; rejects with CAPSTAN_ERR_HANDLER_COMPILE if it does not load. */
  static async create(options: SandboxOptions): Promise<HandlerSandbox> {
    const sandbox = new HandlerSandbox(options);
    try {
      await sandbox.#load();
    } catch (e) {
      sandbox.dispose();
      throw e;
    }
    return sandbox;
  }

  get status(): 'loading' | 'running' | 'quarantined' | 'disposed' {
    return this.#status;
  }

  /** Why the sandbox was quarantined, if it was. */
  get error(): CapstanError | null {
    return this.#error;
  }

  /** The events the handler subscribed to while loading. */
  get subscriptions(): ReadonlySet<string> {
    return this.#subscriptions;
  }

  /** Events this version is still handling. */
  get inFlight(): number {
    return this.#events.size;
  }

  async #load(): Promise<void> {
    const { limits, logger } = this.#options;
    const isolate = new ivm.Isolate({
      memoryLimit: limits.memoryMb,
      // V8 itself lost control of the isolate: nothing the host can contain; say so loudly.
      onCatastrophicError: (message) => logger.fatal({ handler: this.name, version: this.version, message }, 'isolated-vm catastrophic error'),
    });
    this.#isolate = isolate;
    const context = await isolate.createContext();
    const global = context.global;
    global.setSync('__capstan_host', new ivm.Callback(this.#onHost));
    global.setSync(
      '__capstan_boot',
      JSON.stringify({ name: this.name, version: this.version, config: this.#options.config ?? {}, events: HANDLER_EVENT_NAMES, mode: this.#options.test ? 'test' : 'run' }),
    );
    isolate.compileScriptSync(GUEST_PRELUDE, { filename: 'capstan:prelude.js' }).runSync(context, { timeout: limits.loadTimeoutMs });
    const take = (name: string): GuestFn => {
      const ref = global.getSync(name, { reference: true }) as GuestFn;
      global.deleteSync(name);
      return ref;
    };
    this.#dispatchRef = take('__capstan_dispatch');
    this.#settleRef = take('__capstan_settle');
    this.#runTestRef = take('__capstan_runTest');
    this.#listTestsRef = take('__capstan_listTests');
    const finishLoad = take('__capstan_finishLoad');

    await this.#runTopLevel(context, this.#options.code, this.#options.fileName);
    if (this.#options.test) await this.#runTopLevel(context, this.#options.test.code, this.#options.test.fileName);
    const subscriptions = JSON.parse(finishLoad.applySync(undefined, [], { timeout: limits.loadTimeoutMs }) as string) as string[];
    finishLoad.release();
    this.#subscriptions = new Set(subscriptions);
    this.#status = 'running';
  }

  /** Runs a script's top-level code off the main thread (a hostile top level cannot stall the host). */
  async #runTopLevel(context: ivm.Context, code: string, fileName: string): Promise<void> {
    const isolate = this.#isolate!;
    const loadFailed = (why: string, cause?: unknown): CapstanError =>
      new CapstanError('CAPSTAN_ERR_HANDLER_COMPILE', `${fileName}: ${why}`, { details: { file: fileName }, cause });
    let script: ivm.Script;
    try {
      script = await isolate.compileScript(code, { filename: `handler:${fileName}` });
    } catch (e) {
      throw loadFailed(`does not compile: ${(e as Error).message}`, e);
    }
    const rec = this.#newRecord(0, 'load', false);
    this.#entry = rec;
    try {
      await script.run(context, { timeout: this.#limits.loadTimeoutMs });
    } catch (e) {
      if (isolate.isDisposed) throw loadFailed(`exceeded the memory limit of ${this.#limits.memoryMb} MB while loading`, e);
      const message = (e as Error).message ?? String(e);
      if (/timed out/i.test(message)) throw loadFailed(`top-level code ran longer than ${this.#limits.loadTimeoutMs} ms`, e);
      throw loadFailed(`threw while loading: ${message}`, e);
    } finally {
      this.#entry = null;
      script.release();
    }
    if (this.#fatal) {
      const fatal = this.#fatal;
      this.#fatal = null;
      throw loadFailed(fatal.message, fatal);
    }
  }

  #newRecord(seq: number, event: string, budgeted: boolean): InFlight {
    return { seq, event, startedAt: performance.now(), cpuMs: 0, hostCalls: 0, waiting: 0, actionsPending: 0, actions: [], timer: null, resolve: null, budgeted };
  }

  /**
   * Hands one event to the handler. Resolves (never rejects) when every listener settled, with the
   * CPU it took; synchronous handling answers without a promise.
   */
  dispatch(event: string, payloadJson: string): EventOutcome | Promise<EventOutcome> {
    if (this.#status !== 'running') return { event, cpuMs: 0, actions: [], error: info(this.#closedError()) };
    if (this.#depth > 0) {
      // An action implementation emitted synchronously into this same sandbox: isolated-vm cannot
      // re-enter a running isolate, so hand the event over once the current call has returned.
      return new Promise((resolve) => queueMicrotask(() => resolve(this.dispatch(event, payloadJson))));
    }
    const rec = this.#newRecord(++this.#seq, event, true);
    this.#events.set(rec.seq, rec);
    const waiting = this.#call(this.#dispatchRef!, [rec.seq, event, payloadJson], rec, this.#limits.cpuMsPerEvent);
    if (typeof waiting === 'number') rec.waiting += waiting;
    if (!this.#events.has(rec.seq)) return this.#outcome(rec, this.#error);
    if (this.#isDone(rec)) {
      this.#finish(rec, null);
      return this.#outcome(rec, null);
    }
    const deadline = this.#limits.deadlineMs;
    rec.timer = setTimeout(() => {
      this.#quarantine(
        new CapstanError('CAPSTAN_ERR_HANDLER_TIMEOUT', `Handler ${this.name} was still handling ${event} ${deadline} ms after it`, {
          details: { handler: this.name, version: this.version, event, deadlineMs: deadline },
        }),
      );
    }, deadline);
    rec.timer.unref();
    return new Promise((resolve) => {
      rec.resolve = resolve;
    });
  }

  #isDone(rec: InFlight): boolean {
    return rec.waiting <= 0 && rec.actionsPending <= 0;
  }

  #outcome(rec: InFlight, error: CapstanError | null): EventOutcome {
    return { event: rec.event, cpuMs: rec.cpuMs, actions: rec.actions, error: error ? info(error) : null };
  }

  #finish(rec: InFlight, error: CapstanError | null): void {
    this.#events.delete(rec.seq);
    if (rec.timer) clearTimeout(rec.timer);
    rec.resolve?.(this.#outcome(rec, error));
    rec.resolve = null;
    if (this.#events.size === 0) this.#wakeIdle();
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once no event is in flight (or the sandbox is gone): a retired version waits here. */
  whenIdle(): Promise<void> {
    if (this.#events.size === 0 || this.#status === 'disposed' || this.#status === 'quarantined') return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * One synchronous guest call with a timeout of what is left of the budget. Charges its CPU to
   * `rec`, turns a timeout, a memory-limit disposal, an unhandled rejection or a fatal problem seen
   * in a callback into a quarantine, then completes the events the call finished.
   */
  #call(ref: GuestFn, args: GuestArg[], rec: InFlight, budgetMs: number): unknown {
    const isolate = this.#isolate!;
    // isolated-vm's timeout is wall-clock: on a busy machine a descheduled thread would trip it on
    // a well-behaved handler. It is only the backstop that stops a runaway; the budget itself is
    // enforced on the isolate's measured CPU time below.
    const timeout = rec.budgeted ? Math.ceil(2 * Math.max(0, budgetMs - rec.cpuMs) + WALL_SLACK_MS) : this.#limits.loadTimeoutMs;
    const before = isolate.cpuTime;
    let result: unknown;
    const outer = this.#entry;
    this.#entry = rec;
    this.#depth++;
    try {
      result = ref.applySync(undefined, args, { timeout });
    } catch (e) {
      this.#fatal ??= this.#classify(e, rec);
    } finally {
      this.#depth--;
      this.#entry = outer;
      if (!isolate.isDisposed) rec.cpuMs += Number(isolate.cpuTime - before) / 1e6;
    }
    if (!this.#fatal && rec.budgeted && rec.cpuMs > this.#limits.cpuMsPerEvent) this.#fatal = this.#cpuError(rec);
    if (this.#fatal) {
      const fatal = this.#fatal;
      this.#fatal = null;
      this.#quarantine(fatal);
      return undefined;
    }
    for (const touched of this.#touched) if (touched !== rec && this.#isDone(touched) && this.#events.has(touched.seq)) this.#finish(touched, null);
    this.#touched.clear();
    return result;
  }

  #cpuError(rec: InFlight): CapstanError {
    return new CapstanError('CAPSTAN_ERR_HANDLER_CPU', `Handler ${this.name} used more than ${this.#limits.cpuMsPerEvent} ms of CPU on ${rec.event}`, {
      details: { handler: this.name, version: this.version, event: rec.event, cpuMsPerEvent: this.#limits.cpuMsPerEvent },
    });
  }

  #classify(e: unknown, rec: InFlight): CapstanError {
    const details = { handler: this.name, version: this.version, event: rec.event };
    if (this.#isolate?.isDisposed) {
      return new CapstanError('CAPSTAN_ERR_HANDLER_MEMORY', `Handler ${this.name} exceeded its memory limit of ${this.#limits.memoryMb} MB`, {
        details: { ...details, memoryMb: this.#limits.memoryMb },
      });
    }
    const message = e instanceof Error ? e.message : String(e);
    if (message === 'Script execution timed out.') return this.#cpuError(rec);
    // The guest's entry points catch everything they call, so what escapes them is what isolated-vm
    // raises after the microtask checkpoint: a rejection nothing handled.
    return new CapstanError('CAPSTAN_ERR_HANDLER_REJECTION', `Handler ${this.name} left a promise rejection unhandled: ${message.slice(0, 500)}`, {
      details,
    });
  }

  /** The one host function the guest has. Strings in, a JSON string out; never throws. */
  readonly #onHost = (op: unknown, json: unknown): string => {
    if (typeof op !== 'string' || typeof json !== 'string') return errorAnswer(new CapstanError('CAPSTAN_ERR_HANDLER_ACTION', 'Invalid host call'));
    try {
      if (op === 'done') {
        const rec = this.#events.get(Number(json));
        if (rec) {
          rec.waiting--;
          this.#touched.add(rec);
        }
        return OK;
      }
      if (op === 'threw') {
        const report = JSON.parse(json) as { seq: number; async: boolean; error: { name: string; message: string; stack?: string } };
        const event = this.#events.get(report.seq)?.event ?? this.#entry?.event ?? 'unknown';
        this.#fatal ??= new CapstanError(
          'CAPSTAN_ERR_HANDLER_THREW',
          `Handler ${this.name} ${report.async ? 'rejected' : 'threw'} on ${event}: ${String(report.error.name)}: ${String(report.error.message).slice(0, 500)}`,
          { details: { handler: this.name, version: this.version, event, stack: report.error.stack ?? null } },
        );
        return OK;
      }
      if (op === 'test.done' || (this.#options.test && op.startsWith('test.'))) return this.#options.test?.onOp(op, json) ?? OK;
      if (this.#fatal) return errorAnswer(this.#fatal);
      const entry = this.#entry;
      if (entry === null) return errorAnswer(new CapstanError('CAPSTAN_ERR_HANDLER_ACTION', 'The host API is only available while the handler loads or handles an event'));
      // Test code (not the handler) may call as often as it likes; events and loading may not.
      if (++entry.hostCalls > this.#limits.maxHostCallsPerEvent && entry.event !== 'test') {
        const max = this.#limits.maxHostCallsPerEvent;
        this.#fatal = new CapstanError('CAPSTAN_ERR_HANDLER_FLOOD', `Handler ${this.name} made more than ${max} host API calls ${entry.event === 'load' ? 'while loading' : `on ${entry.event}`}`, {
          details: { handler: this.name, version: this.version, event: entry.event, maxHostCallsPerEvent: max },
        });
        return errorAnswer(this.#fatal);
      }
      switch (op) {
        case 'action':
          return this.#action(JSON.parse(json) as { op: string; args: Record<string, unknown>; seq: number; id: number });
        case 'log':
          return this.#log(JSON.parse(json) as { level: string; message: string; fields?: unknown }, entry);
        case 'state.get': {
          const value = this.#options.state.get(String((JSON.parse(json) as { key: unknown }).key));
          return value === undefined ? OK : `{"value":${value}}`;
        }
        case 'state.set': {
          const { key, value } = JSON.parse(json) as { key: unknown; value: unknown };
          this.#options.state.set(String(key), JSON.stringify(value));
          return OK;
        }
        case 'state.delete':
          this.#options.state.delete(String((JSON.parse(json) as { key: unknown }).key));
          return OK;
        case 'state.keys':
          return JSON.stringify({ value: this.#options.state.keys() });
        default:
          return errorAnswer(new CapstanError('CAPSTAN_ERR_HANDLER_ACTION', `Unknown host call ${op.slice(0, 40)}`));
      }
    } catch (e) {
      return errorAnswer(toCapstanError(e, 'CAPSTAN_ERR_HANDLER_ACTION'));
    }
  };

  #log(entry: { level: string; message: string; fields?: unknown }, rec: InFlight): string {
    const level = (['debug', 'info', 'warn', 'error'] as const).find((l) => l === entry.level) ?? 'info';
    let fields = entry.fields;
    // Guest fields go under `fields` so a handler cannot overwrite the log line's own keys.
    if (fields !== undefined && JSON.stringify(fields).length > 4096) fields = '[more than 4096 bytes: dropped]';
    this.#options.logger[level]({ handler: this.name, version: this.version, event: rec.event, ...(fields === undefined ? {} : { fields }) }, String(entry.message).slice(0, 2000));
    return OK;
  }

  #action(request: { op: string; args: Record<string, unknown>; seq: number; id: number }): string {
    const rec = this.#events.get(request.seq) ?? (this.#entry?.budgeted ? this.#entry : undefined);
    if (!rec) {
      return errorAnswer(new CapstanError('CAPSTAN_ERR_HANDLER_ACTION', 'Recording actions can only be taken while handling an event, not while loading'));
    }
    const record = this.#validateAction(request.op, request.args ?? {});
    if (this.#options.recordActions) rec.actions.push(record);
    rec.actionsPending++;
    const id = request.id;
    // Started after the guest call returns: an action may emit bus events that come back here.
    queueMicrotask(() => {
      let done: Promise<unknown>;
      try {
        done = this.#perform(record);
      } catch (e) {
        done = Promise.reject(e);
      }
      done.then(
        (value) => this.#settle(rec, id, true, value === undefined ? '' : JSON.stringify(value)),
        (e: unknown) => {
          const error = toCapstanError(e);
          this.#options.logger.warn({ handler: this.name, version: this.version, event: rec.event, err: error, action: record.op }, 'handler action failed');
          this.#settle(rec, id, false, JSON.stringify(error.toJSON()));
        },
      );
    });
    return OK;
  }

  #validateAction(op: string, args: Record<string, unknown>): ActionRecord {
    const bad = (message: string, details?: Record<string, unknown>): CapstanError => new CapstanError('CAPSTAN_ERR_HANDLER_ACTION', message, details ? { details } : {});
    if (op === 'start') {
      if (typeof args.callId !== 'string' || args.callId.length === 0 || args.callId.length > 200) throw bad('record.start(callId, options): callId must be a call id string');
      const parsed = HandlerStartOptionsSchema.safeParse(args.options ?? {});
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw bad(`record.start(): option "${issue.path.join('.') || '(options)'}": ${issue.message}`, { issues: parsed.error.issues.map((i) => ({ key: i.path.join('.'), problem: i.message })) });
      }
      return { op, callId: args.callId, options: parsed.data };
    }
    if (op === 'pause' || op === 'securePause' || op === 'resume' || op === 'stop') {
      if (typeof args.recordingId !== 'string' || args.recordingId.length === 0 || args.recordingId.length > 200) throw bad(`record.${op}(recordingId): recordingId must be a recording id string`);
      return { op, recordingId: args.recordingId };
    }
    throw bad(`Unknown action ${op.slice(0, 40)}`);
  }

  #perform(record: ActionRecord): Promise<unknown> {
    const actions = this.#options.actions;
    switch (record.op) {
      case 'start':
        return actions.startRecording(record.callId, record.options, this.#context);
      case 'pause':
        return actions.pauseRecording(record.recordingId, false, this.#context);
      case 'securePause':
        return actions.pauseRecording(record.recordingId, true, this.#context);
      case 'resume':
        return actions.resumeRecording(record.recordingId, this.#context);
      case 'stop':
        return actions.stopRecording(record.recordingId, this.#context);
    }
  }

  /** An action finished: resolve or reject its promise in the guest (running its continuations). */
  #settle(rec: InFlight, id: number, ok: boolean, json: string): void {
    if (this.#status !== 'running' || !this.#events.has(rec.seq)) return;
    if (this.#depth > 0) {
      queueMicrotask(() => this.#settle(rec, id, ok, json));
      return;
    }
    this.#call(this.#settleRef!, [id, ok, json], rec, this.#limits.cpuMsPerEvent);
    if (!this.#events.has(rec.seq)) return;
    rec.actionsPending--;
    if (this.#isDone(rec)) this.#finish(rec, null);
  }

  // ---- test mode (capstan handlers test) ----

  /** The tests the test file registered, with the configuration each asks for. */
  listTests(): { name: string; config?: unknown }[] {
    const rec = this.#newRecord(0, 'test', false);
    return JSON.parse(String(this.#call(this.#listTestsRef!, [], rec, 0) ?? '[]')) as { name: string; config?: unknown }[];
  }

  /** Starts test `index`; its end arrives as the `test.done` host call. */
  runTest(index: number): void {
    if (this.#status !== 'running') return;
    this.#call(this.#runTestRef!, [index], this.#newRecord(0, 'test', false), 0);
  }

  /** Settles a `test.*` request the test code is awaiting. */
  settleRequest(id: number, ok: boolean, json: string): void {
    if (this.#status !== 'running') return;
    this.#call(this.#settleRef!, [id, ok, json], this.#newRecord(0, 'test', false), 0);
  }

  // ---- end of life ----

  #closedError(): CapstanError {
    return this.#error ?? new CapstanError('CAPSTAN_ERR_HANDLER_QUARANTINED', `Handler ${this.name} version ${this.version} is not running`, { details: { handler: this.name } });
  }

  #quarantine(error: CapstanError): void {
    if (this.#status !== 'running' && this.#status !== 'loading') return;
    this.#status = 'quarantined';
    this.#error = error;
    this.#teardown(error);
    this.#options.onQuarantine(error);
  }

  #teardown(error: CapstanError): void {
    for (const rec of [...this.#events.values()]) this.#finish(rec, error);
    this.#events.clear();
    this.#touched.clear();
    for (const ref of [this.#dispatchRef, this.#settleRef, this.#runTestRef, this.#listTestsRef]) {
      try {
        ref?.release();
      } catch {
        // already released with its isolate
      }
    }
    this.#dispatchRef = this.#settleRef = this.#runTestRef = this.#listTestsRef = null;
    try {
      if (this.#isolate && !this.#isolate.isDisposed) this.#isolate.dispose();
    } catch {
      // disposing twice (memory-limit disposal raced us) is harmless
    }
    this.#wakeIdle();
  }

  /** Disposes the isolate; events still in flight end with CAPSTAN_ERR_HANDLER_QUARANTINED. Idempotent. */
  dispose(): void {
    if (this.#status === 'disposed') return;
    const wasQuarantined = this.#status === 'quarantined';
    this.#status = 'disposed';
    if (!wasQuarantined) this.#teardown(this.#closedError());
  }
}
