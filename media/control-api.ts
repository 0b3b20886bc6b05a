/**
 * The contract between Telephony Services (the host) and a media server.
 * Both sides import these schemas: the media server validates what it receives, the host what
 * it gets back. All control routes require `Authorization: Bearer <shared secret>`.
 *
 *   media server → host
 *     POST /api/v1/media-servers/register         RegisterRequest        → RegisterResponse
 *     POST /api/v1/media-servers/:id/load         LoadReport             → 204
 *   host → media server (controlUrl)
 *     GET  /v1/health                                                    → LoadReport
 *     POST /v1/calls                              AllocateCallRequest    → AllocateCallResponse
 *     PUT  /v1/calls/:callId/legs/:legId/remote   SetRemoteRequest       → 204   (re-point relay)
 *     DELETE /v1/calls/:callId                                           → 204   (release; stops its recordings)
 *     POST /v1/calls/:callId/recordings           StartRecordingRequest  → StartRecordingResponse
 *     POST /v1/recordings/:recordingId/pause      PauseRequest           → 204
 *     POST /v1/recordings/:recordingId/resume                            → 204
 *     POST /v1/recordings/:recordingId/stop                              → RecordingResult
 *   requester → media server (signed URIs from StartRecordingResponse/RecordingResult)
 *     GET | HEAD | DELETE /files/:fileName?expires=<unix s>&sig=<base64url HMAC>
 */
import { z } from 'zod';
import { BUILTIN_RECORDING_MIMES } from './codecs/builtin-formats.ts';
import { CODEC_MIME_PATTERN } from './codecs/codec.ts';

export const CodecName = z.enum(['PCMU', 'PCMA', 'L16', 'opus']);
export type CodecName = z.infer<typeof CodecName>;

export const LegCodec = z.object({
  /** RTP payload type the leg sends (0 PCMU, 8 PCMA, dynamic for L16/opus). */
  payloadType: z.number().int().min(0).max(127),
  name: CodecName,
  clockRate: z.number().int().positive().default(8000),
  /** Dynamic payload type of RFC 4733 telephone-event, when negotiated. */
  telephoneEventPayloadType: z.number().int().min(96).max(127).optional(),
});
export type LegCodec = z.infer<typeof LegCodec>;

export const Endpoint = z.object({ address: z.string().min(1), port: z.number().int().min(1).max(65535) });
export type Endpoint = z.infer<typeof Endpoint>;

export const LegRole = z.enum(['caller', 'callee']);
export type LegRole = z.infer<typeof LegRole>;

export const RegisterRequest = z.object({
  id: z.string().min(1),
  location: z.string().min(1),
  /** Base URL of the media server's control and file API, e.g. http://127.0.0.1:9100 */
  controlUrl: z.string().url(),
  version: z.string(),
  pid: z.number().int().optional(),
});
export type RegisterRequest = z.infer<typeof RegisterRequest>;

/** Any 2xx answer registers; the fields are optional hints from the host. */
export const RegisterResponse = z.object({
  id: z.string().optional(),
  /** How often the host wants load reports; the media server's own setting otherwise. */
  loadIntervalMs: z.number().int().min(100).optional(),
});
export type RegisterResponse = z.infer<typeof RegisterResponse>;

export const LoadReport = z.object({
  /** Share of one core used by the media server's process since the last report, 0..1. */
  cpu: z.number().min(0),
  /** Active resources: allocated calls' legs plus recordings in progress. */
  activeResources: z.number().int().min(0),
  acceptsSessions: z.boolean(),
  freeDiskBytes: z.number().min(0),
  /** Recordings found unfinished at start and repaired, waiting to be fetched. */
  recovered: z.array(z.object({ recordingId: z.string(), fileName: z.string(), uri: z.string() })).default([]),
  packets: z.object({ received: z.number(), dropped: z.record(z.string(), z.number()) }).optional(),
});
export type LoadReport = z.infer<typeof LoadReport>;

export const AllocateCallRequest = z.object({
  callId: z.string().min(1),
  legs: z
    .array(
      z.object({
        legId: LegRole,
        codec: LegCodec,
        /** Where this leg's party receives RTP: packets from the other leg are relayed there. */
        remote: Endpoint.optional(),
      }),
    )
    .min(1)
    .max(2),
});
export type AllocateCallRequest = z.infer<typeof AllocateCallRequest>;

export const AllocateCallResponse = z.object({
  callId: z.string(),
  legs: z.array(z.object({ legId: LegRole, rtp: Endpoint })),
});
export type AllocateCallResponse = z.infer<typeof AllocateCallResponse>;

export const SetRemoteRequest = Endpoint;

/** The built-in recording formats (docs/formats.md): what configuration and handlers name. */
export const RecordingMime = z.enum(BUILTIN_RECORDING_MIMES);
export type RecordingMime = z.infer<typeof RecordingMime>;

/**
 * A recording format on the wire: a built-in or a MIME type a codec plugin registered on the
 * media server. The media server checks it against its codec registry and answers
 * CAPSTAN_ERR_UNSUPPORTED_FORMAT (400) for one it does not have.
 */
export const RecordingMimeType = z.string().regex(CODEC_MIME_PATTERN, 'a MIME type like audio/PCMU');

export const StartRecordingRequest = z.object({
  recordingId: z.string().min(1),
  mime: RecordingMimeType.default('audio/L16'),
  /**
   * 2: caller on the left channel, everyone else on the right; 1: mixed. A codec that is mono
   * only (GSM, TrueSpeech) refuses 2: the host's format decision asks for 1 for them.
   */
  channels: z.union([z.literal(1), z.literal(2)]).default(2),
  /**
   * Write the recording as SASF, encrypted to this X25519 public key (PEM) of the Recorder. The
   * media server never holds a private key: it cannot read back what it wrote.
   */
  encryption: z.object({ publicKeyPem: z.string().min(1).max(4096) }).optional(),
  /**
   * Read DTMF (RFC 4733 telephone-event) spans out of the audio as silence, so digits keyed in
   * (a card number) are not in the file. Default false. The digits are listed in the result's
   * `dtmf` either way.
   */
  maskDtmf: z.boolean().optional(),
});
export type StartRecordingRequest = z.infer<typeof StartRecordingRequest>;

export const StartRecordingResponse = z.object({
  recordingId: z.string(),
  fileName: z.string(),
  /** Signed absolute URI the requester fetches (GET) and deletes (DELETE) once stored. */
  uri: z.string().url(),
});
export type StartRecordingResponse = z.infer<typeof StartRecordingResponse>;

export const PauseRequest = z.object({ mode: z.enum(['skip', 'silence']).default('silence') });
export type PauseRequest = z.infer<typeof PauseRequest>;

export const RecordingResult = z.object({
  recordingId: z.string(),
  fileName: z.string(),
  uri: z.string().url(),
  mime: RecordingMimeType,
  channels: z.number().int(),
  sampleRate: z.number().int(),
  /** Samples per channel in the file. */
  samples: z.number().int().min(0),
  durationMs: z.number().min(0),
  sizeBytes: z.number().int().min(0),
  /** Hex SHA-256 of the whole file as served. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  startedAt: z.string(),
  stoppedAt: z.string(),
  /**
   * Pauses on the recording's wall-clock timeline (ms since start). `fileMs` is where the pause
   * sits in the file: after a 'skip' pause the file runs behind the timeline by its length.
   */
  pauses: z
    .array(z.object({ mode: z.enum(['skip', 'silence']), startMs: z.number(), endMs: z.number(), fileMs: z.number().optional() }))
    .default([]),
  dtmf: z.array(z.object({ leg: LegRole, digit: z.string(), atMs: z.number(), durationMs: z.number() })).default([]),
  stats: z.record(z.string(), z.unknown()).default({}),
});
export type RecordingResult = z.infer<typeof RecordingResult>;

/** Error body every media server route answers with on failure. */
export const ErrorBody = z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() });
