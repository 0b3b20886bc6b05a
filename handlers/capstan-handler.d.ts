/**
 * The Capstan handler API: what a handler script in `handlers/` can see and do.
 *
 * A handler is a TypeScript file that runs in its own sandbox (an isolated-vm isolate) with no
 * file system, network, process, timers or modules: only the global `capstan` below (and, in
 * `*.test.ts` files run by `capstan handlers test`, the global `capstanTest`). Keep this file
 * beside your handlers (or in your tsconfig's `include`) and your editor completes the API.
 *
 * Limits (defaults; the host's `handlers` configuration changes them): 32 MB of memory, 50 ms of
 * CPU per event, 5 s from an event until every listener settled, 1 s for top-level code, 100 host
 * calls (actions, log lines, state reads and writes) per event, 64 KiB of state. A handler that
 * breaks one is quarantined until its file is saved again. See docs/handlers.md.
 */
export {};

declare global {
  namespace CapstanHandler {
    type Requester = 'recorder' | 'recorder-rcs' | 'workgroup' | 'client' | 'handler';
    type CallDirection = 'inbound' | 'outbound' | 'internal';

    interface CallInfo {
      callId: string;
      /** Which call source created it: 'simulator' or 'sip'. */
      source: string;
      direction: CallDirection;
      /** Calling number (ANI). */
      from: string;
      /** Called number (DNIS). */
      to: string;
      workgroup: string | null;
      agent: string | null;
      /** Location of the requesting device (station or line). */
      location: string;
      /** ISO 8601. */
      startedAt: string;
      /** Call attributes from the call source, e.g. `role`, `station`, `line`. */
      attributes: Record<string, string>;
    }

    interface RecordingInfo {
      recordingId: string;
      callId: string;
      requester: Requester;
      mediaServerId: string;
      fileName: string;
      uri: string;
      mime: string;
      channels: 1 | 2;
      deliverTo: string | null;
      tags: string[];
      /** The Recorder key an encrypted (SASF) recording is encrypted to; null when plain. */
      keyId: string | null;
      startedAt: string;
      /**
       * Set on a failover segment (its media server died and the recording went on elsewhere):
       * the recording it continues, its index (1, 2...), and its start in ms after that one's.
       */
      segment?: { of: string; index: number; startMs: number } | undefined;
    }

    interface RecordingResultInfo {
      fileName: string;
      uri: string;
      mime: string;
      channels: number;
      sampleRate: number;
      samples: number;
      durationMs: number;
      sizeBytes: number;
      sha256: string;
      startedAt: string;
      stoppedAt: string;
      pauses: { mode: 'skip' | 'silence'; startMs: number; endMs: number }[];
      dtmf: { leg: 'caller' | 'callee'; digit: string; atMs: number; durationMs: number }[];
    }

    interface ErrorInfo {
      code: string;
      message: string;
      details?: Record<string, unknown>;
    }

    /** Every event a handler can subscribe to, with its payload. Payloads are copies: change them freely. */
    interface Events {
      'call.offered': { call: CallInfo };
      'call.connected': { call: CallInfo };
      'call.assigned': { call: CallInfo; workgroup: string | null; agent: string | null };
      'call.held': { call: CallInfo; leg: 'caller' | 'callee' };
      'call.resumed': { call: CallInfo; leg: 'caller' | 'callee' };
      'call.transferred': { call: CallInfo; to: string };
      'call.disconnected': { call: CallInfo; reason: string };
      'recording.started': { recording: RecordingInfo };
      'recording.paused': { recording: RecordingInfo; mode: 'skip' | 'silence' };
      'recording.resumed': { recording: RecordingInfo };
      'recording.completed': { recording: RecordingInfo; result: RecordingResultInfo };
      'recording.failed': { recording: RecordingInfo | null; callId: string; error: ErrorInfo };
      'recording.stored': { recording: RecordingInfo; storedId: string; location: string };
      'recording.delivered': { recording: RecordingInfo; to: string };
    }

    type EventName = keyof Events;

    interface StartOptions {
      /**
       * Who the recording is for; decides where it goes after the fetch: `recorder` stores it in the
       * Recorder's database, `recorder-rcs` in a Remote Content Service, `workgroup` and `handler`
       * mail it to `deliverTo`. Default `handler`. (`client` is an agent's own, never a handler's.)
       */
      requester?: Exclude<Requester, 'client'>;
      /** `audio/L16`, `audio/PCMU` or `audio/PCMA`; default: the media server's RecordingMimeTypeDefault. */
      mime?: string;
      /** 1 mixes all parties; 2 puts the caller on one channel and everyone else on the other. Default 2. */
      channels?: 1 | 2;
      /** E-mail address(es), comma-separated, the finished recording is mailed to. */
      deliverTo?: string | null;
      /** Up to 32 tags of up to 100 characters. */
      tags?: string[];
      /** Compression the Recorder asks for. Passed through; the media side does not apply it yet. */
      compression?: 'none' | 'opus' | 'gsm' | 'truespeech';
      /** Record as SASF, encrypted to the Recorder's key (fails if it has none). Default false. */
      encryption?: boolean;
      /** Days to keep the recording. Passed through for the Recorder's retention. */
      retentionDays?: number;
    }

    /**
     * Actions answer with promises. A failed action (no media server, an ended call, invalid
     * options) rejects with an Error that has a `code` (CAPSTAN_ERR_...); it is logged by the host
     * and never held against the handler, whether or not you catch it.
     */
    interface RecordActions {
      /** Starts recording a call. Resolves once the media server records, with its file name and URI. */
      start(callId: string, options?: StartOptions): Promise<RecordingInfo>;
      /** Pauses; the paused audio is cut out of the recording (mode `skip`). */
      pause(recordingId: string): Promise<void>;
      /** Pauses for sensitive audio; the recording keeps its timeline, silent and marked (mode `silence`). */
      securePause(recordingId: string): Promise<void>;
      resume(recordingId: string): Promise<void>;
      /** Stops; resolves with the finished file's size, duration and checksum. */
      stop(recordingId: string): Promise<RecordingResultInfo>;
    }

    interface Log {
      debug(message: string, fields?: object): void;
      info(message: string, fields?: object): void;
      warn(message: string, fields?: object): void;
      error(message: string, fields?: object): void;
    }

    type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

    /** Small persistent key-value state, kept across events, reloads and restarts (per handler). */
    interface State {
      /** A copy of the value, or undefined. */
      get<T extends Json = Json>(key: string): T | undefined;
      /** Keys are 1–200 characters; all state together at most `stateMaxBytes` of JSON (default 64 KiB). Throws when over. */
      set(key: string, value: Json | undefined): void;
      delete(key: string): void;
      keys(): string[];
    }

    interface Api {
      /** This handler: its file name without `.ts`, and the version number of this load. */
      readonly handler: { readonly name: string; readonly version: number };
      /** This handler's configuration from the host (`handlers.config.<name>`), frozen; `{}` when none. */
      readonly config: Readonly<{ [key: string]: unknown }>;
      /**
       * Subscribes to an event. Only in top-level code (while the handler loads). A listener may be
       * async; the event counts as handled when its promise settles.
       */
      on<E extends EventName>(event: E, listener: (payload: Events[E]) => void | Promise<void>): void;
      readonly record: RecordActions;
      readonly log: Log;
      readonly state: State;
    }

    // ---- capstan handlers test ----

    /** An action the handler took, as the test sees it. */
    type Action =
      | { op: 'start'; callId: string; options: StartOptions & { requester: Exclude<Requester, 'client'> }; recordingId?: string }
      | { op: 'pause' | 'securePause' | 'resume' | 'stop'; recordingId: string };

    interface EmitResult {
      /** The actions the handler took while handling this event. */
      actions: Action[];
      /** CPU the handler used on it, ms, and the budget it runs under. */
      cpuMs: number;
      budgetMs: number;
      /** Set when the handler failed on this event (the test then fails too). */
      error: ErrorInfo | null;
    }

    interface Matchers {
      toBe(expected: unknown): void;
      toEqual(expected: unknown): void;
      /** Every key of `expected` matches, recursively; arrays match element by element. */
      toMatchObject(expected: unknown): void;
      toContain(item: unknown): void;
      toHaveLength(length: number): void;
      toBeTruthy(): void;
      toBeFalsy(): void;
      toBeUndefined(): void;
      toBeNull(): void;
      toBeGreaterThan(n: number): void;
      toBeLessThan(n: number): void;
      /** `actual` is a function; it throws (an error whose message contains `text`). */
      toThrow(text?: string): void;
    }

    interface TestContext {
      /** Hands the handler one event (as the host would) and resolves when it has handled it. */
      emit<E extends EventName>(event: E, payload: Events[E]): Promise<EmitResult>;
      /** Every action taken so far in this test. */
      actions(): Action[];
      /** Makes the next action `op` fail with `code` (default CAPSTAN_ERR_NO_MEDIA_SERVER). */
      failNext(op: Action['op'], code?: string, message?: string): void;
      /** A call with test defaults (new callId each time), overridden by `overrides`. */
      call(overrides?: Partial<CallInfo>): CallInfo;
      /** A recording with test defaults, overridden by `overrides`. */
      recording(overrides?: Partial<RecordingInfo>): RecordingInfo;
      expect(actual: unknown): Matchers & { not: Matchers };
    }

    interface TestOptions {
      /** The handler's `capstan.config` in this test. Default `{}`. */
      config?: { [key: string]: unknown };
    }
  }

  /** The handler API. */
  const capstan: CapstanHandler.Api;

  /**
   * Declares a test, in a `<handler>.test.ts` file beside the handler. Each test runs in a fresh
   * sandbox with the handler loaded under `options.config`.
   */
  function capstanTest(name: string, fn: (t: CapstanHandler.TestContext) => void | Promise<void>): void;
  function capstanTest(name: string, options: CapstanHandler.TestOptions, fn: (t: CapstanHandler.TestContext) => void | Promise<void>): void;
}
