import {
  AllocateCallResponse,
  RecordingResult,
  StartRecordingResponse,
  type AllocateCallRequest,
  type Endpoint,
  type PauseRequest,
  type StartRecordingRequest,
} from '../../media/control-api.ts';
import type { z } from 'zod';
import { CapstanError } from '../errors.ts';

/** Timeout of one control request, ms. */
const CONTROL_TIMEOUT_MS = 5000;

/** Talks to one media server's control API with the shared secret. */
export class MediaServerClient {
  readonly #baseUrl: string;
  readonly #secret: string;
  readonly #id: string;

  constructor(id: string, baseUrl: string, secret: string) {
    this.#id = id;
    this.#baseUrl = baseUrl.replace(/\/$/, '');
    this.#secret = secret;
  }

  async #call<T>(method: string, path: string, body: unknown, schema: z.ZodType<T> | null): Promise<T | undefined> {
    let response: Response;
    try {
      response = await fetch(`${this.#baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#secret}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS),
      });
    } catch (e) {
      throw new CapstanError('CAPSTAN_ERR_MEDIA_SERVER_UNREACHABLE', `Media server ${this.#id} did not answer ${method} ${path}: ${(e as Error).message}`, {
        details: { mediaServer: this.#id, path },
        cause: e,
      });
    }
    const text = await response.text();
    if (!response.ok) {
      let code = 'unknown';
      let message = text;
      try {
        const parsed = JSON.parse(text) as { code?: string; message?: string };
        code = parsed.code ?? code;
        message = parsed.message ?? message;
      } catch {
        // not JSON: keep the text
      }
      throw new CapstanError('CAPSTAN_ERR_MEDIA_SERVER_REFUSED', `Media server ${this.#id} refused ${method} ${path}: ${response.status} ${code}: ${message}`, {
        details: { mediaServer: this.#id, path, status: response.status, code },
      });
    }
    if (schema === null) return undefined;
    return schema.parse(JSON.parse(text));
  }

  async allocateCall(request: AllocateCallRequest): Promise<AllocateCallResponse> {
    return (await this.#call('POST', '/v1/calls', request, AllocateCallResponse))!;
  }

  async setRemote(callId: string, legId: string, remote: Endpoint): Promise<void> {
    await this.#call('PUT', `/v1/calls/${encodeURIComponent(callId)}/legs/${legId}/remote`, remote, null);
  }

  async releaseCall(callId: string): Promise<void> {
    await this.#call('DELETE', `/v1/calls/${encodeURIComponent(callId)}`, undefined, null);
  }

  async startRecording(callId: string, request: StartRecordingRequest): Promise<StartRecordingResponse> {
    return (await this.#call('POST', `/v1/calls/${encodeURIComponent(callId)}/recordings`, request, StartRecordingResponse))!;
  }

  async pauseRecording(recordingId: string, request: PauseRequest): Promise<void> {
    await this.#call('POST', `/v1/recordings/${encodeURIComponent(recordingId)}/pause`, request, null);
  }

  async resumeRecording(recordingId: string): Promise<void> {
    await this.#call('POST', `/v1/recordings/${encodeURIComponent(recordingId)}/resume`, {}, null);
  }

  async stopRecording(recordingId: string): Promise<RecordingResult> {
    return (await this.#call('POST', `/v1/recordings/${encodeURIComponent(recordingId)}/stop`, {}, RecordingResult))!;
  }
}
