import { CapstanError, ErrorCodes, type ErrorCode } from '../errors.ts';
import type { RecordingInfo, RecordingResultInfo } from '../events/call-events.ts';
import type { HandlerActionContext, HandlerActions, HandlerStartOptions } from './handler-actions.ts';

export type TakenAction =
  | { op: 'start'; handler: string; callId: string; options: HandlerStartOptions; recordingId: string }
  | { op: 'pause' | 'securePause' | 'resume' | 'stop'; handler: string; recordingId: string };

type Op = TakenAction['op'];

/**
 * HandlerActions that only write down what was asked and answer like Telephony Services would,
 * for `capstan handlers test`, the runtime's tests and the benchmark. `failNext` scripts a
 * failure; `hold` keeps every action pending until released (to test what happens in flight).
 */
export class ScriptedActions implements HandlerActions {
  readonly taken: TakenAction[] = [];
  /** Called synchronously when an action is asked for (the benchmark timestamps requests here). */
  onAction: ((action: TakenAction) => void) | null = null;
  readonly #failures = new Map<Op, { code: ErrorCode; message: string }[]>();
  #gate: Promise<void> | null = null;
  #serial = 0;

  /** The next `op` fails with this code (default CAPSTAN_ERR_NO_MEDIA_SERVER). */
  failNext(op: Op, code: ErrorCode = 'CAPSTAN_ERR_NO_MEDIA_SERVER', message?: string): void {
    if (!Object.hasOwn(ErrorCodes, code)) throw new CapstanError('CAPSTAN_ERR_BAD_REQUEST', `Unknown error code ${code}`);
    const list = this.#failures.get(op) ?? [];
    list.push({ code, message: message ?? ErrorCodes[code].message });
    this.#failures.set(op, list);
  }

  /** Every action waits until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    this.#gate = new Promise((resolve) => {
      release = () => {
        this.#gate = null;
        resolve();
      };
    });
    return release;
  }

  async #take(action: TakenAction): Promise<void> {
    this.taken.push(action);
    this.onAction?.(action);
    if (this.#gate) await this.#gate;
    const failure = this.#failures.get(action.op)?.shift();
    if (failure) throw new CapstanError(failure.code, failure.message);
  }

  async startRecording(callId: string, options: HandlerStartOptions, context: HandlerActionContext): Promise<RecordingInfo> {
    const recordingId = `rec-${++this.#serial}`;
    await this.#take({ op: 'start', handler: context.handler, callId, options, recordingId });
    return {
      recordingId,
      callId,
      requester: options.requester,
      mediaServerId: 'ms-scripted',
      fileName: `${recordingId}.wav`,
      uri: `http://media.invalid/files/${recordingId}.wav`,
      mime: options.mime ?? 'audio/L16',
      channels: options.channels ?? 2,
      deliverTo: options.deliverTo ?? null,
      tags: options.tags ?? [],
      keyId: options.encryption ? 'scripted-key' : null,
      startedAt: new Date().toISOString(),
    };
  }

  async pauseRecording(recordingId: string, secure: boolean, context: HandlerActionContext): Promise<void> {
    await this.#take({ op: secure ? 'securePause' : 'pause', handler: context.handler, recordingId });
  }

  async resumeRecording(recordingId: string, context: HandlerActionContext): Promise<void> {
    await this.#take({ op: 'resume', handler: context.handler, recordingId });
  }

  async stopRecording(recordingId: string, context: HandlerActionContext): Promise<RecordingResultInfo> {
    await this.#take({ op: 'stop', handler: context.handler, recordingId });
    const now = new Date().toISOString();
    return {
      fileName: `${recordingId}.wav`,
      uri: `http://media.invalid/files/${recordingId}.wav`,
      mime: 'audio/L16',
      channels: 2,
      sampleRate: 8000,
      samples: 0,
      durationMs: 0,
      sizeBytes: 44,
      sha256: '0'.repeat(64),
      startedAt: now,
      stoppedAt: now,
      pauses: [],
      dtmf: [],
    };
  }
}
