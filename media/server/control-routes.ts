/**
 * The host → media server control routes of control-api.ts, behind bearer authentication with
 * the shared secret. Bodies are validated with the contract's zod schemas; a bad body is a 400
 * CAPSTAN_ERR_BAD_REQUEST whose details list the issues.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { CapstanError } from '../../core/errors.ts';
import {
  AllocateCallRequest,
  LegRole,
  PauseRequest,
  SetRemoteRequest,
  StartRecordingRequest,
  type AllocateCallResponse,
  type Endpoint,
  type LoadReport,
  type RecordingResult,
  type StartRecordingResponse,
} from '../control-api.ts';

/** What the routes drive; the MediaServer implements it. */
export interface MediaControl {
  health(): Promise<LoadReport>;
  allocateCall(request: AllocateCallRequest): Promise<AllocateCallResponse>;
  setRemote(callId: string, legId: LegRole, remote: Endpoint): void;
  releaseCall(callId: string): Promise<void>;
  startRecording(callId: string, request: StartRecordingRequest): Promise<StartRecordingResponse>;
  pauseRecording(recordingId: string, request: PauseRequest): void;
  resumeRecording(recordingId: string): void;
  stopRecording(recordingId: string): Promise<RecordingResult>;
}

/** Parses with a contract schema, turning failures into a coded 400. */
export function parseBody<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new CapstanError('CAPSTAN_ERR_BAD_REQUEST', `invalid request: ${result.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`, {
    details: { issues: result.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
  });
}

/** Compares digests so neither the secret's length nor its content leaks through timing. */
function bearerMatches(header: string | undefined, secret: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const given = createHash('sha256').update(header.slice(7)).digest();
  const expected = createHash('sha256').update(secret).digest();
  return timingSafeEqual(given, expected);
}

export function registerControlRoutes(app: FastifyInstance, control: MediaControl, secret: string): void {
  app.register(async (scope) => {
    scope.addHook('onRequest', async (request: FastifyRequest) => {
      if (!bearerMatches(request.headers.authorization, secret)) {
        throw new CapstanError('CAPSTAN_ERR_UNAUTHORIZED', 'a valid bearer token is required');
      }
    });

    scope.get('/v1/health', async () => control.health());

    scope.post('/v1/calls', async (request, reply) => {
      const body = parseBody(AllocateCallRequest, request.body);
      return reply.send(await control.allocateCall(body));
    });

    scope.put<{ Params: { callId: string; legId: string } }>('/v1/calls/:callId/legs/:legId/remote', async (request, reply) => {
      const legId = parseBody(LegRole, request.params.legId);
      const remote = parseBody(SetRemoteRequest, request.body);
      control.setRemote(request.params.callId, legId, remote);
      return reply.code(204).send();
    });

    scope.delete<{ Params: { callId: string } }>('/v1/calls/:callId', async (request, reply) => {
      await control.releaseCall(request.params.callId);
      return reply.code(204).send();
    });

    scope.post<{ Params: { callId: string } }>('/v1/calls/:callId/recordings', async (request, reply) => {
      const body = parseBody(StartRecordingRequest, request.body);
      return reply.send(await control.startRecording(request.params.callId, body));
    });

    scope.post<{ Params: { recordingId: string } }>('/v1/recordings/:recordingId/pause', async (request, reply) => {
      control.pauseRecording(request.params.recordingId, parseBody(PauseRequest, request.body ?? {}));
      return reply.code(204).send();
    });

    scope.post<{ Params: { recordingId: string } }>('/v1/recordings/:recordingId/resume', async (request, reply) => {
      control.resumeRecording(request.params.recordingId);
      return reply.code(204).send();
    });

    scope.post<{ Params: { recordingId: string } }>('/v1/recordings/:recordingId/stop', async (request) => control.stopRecording(request.params.recordingId));
  });
}
