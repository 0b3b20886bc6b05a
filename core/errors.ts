/**
 * Every error Capstan raises on purpose has a stable code from this one catalog.
 * Each code is documented in docs/errors.md with how to solve it; a test keeps the two in step.
 */
export const ErrorCodes = {
  // configuration and CLI
  CAPSTAN_ERR_CONFIG_INVALID: { status: 500, message: 'The configuration is invalid' },
  CAPSTAN_ERR_CONFIG_NOT_FOUND: { status: 500, message: 'The configuration file does not exist' },
  CAPSTAN_ERR_CLI_USAGE: { status: 400, message: 'The command line is not valid' },
  CAPSTAN_ERR_AUDIO_FILE: { status: 400, message: 'The audio file cannot be used' },
  // HTTP API
  CAPSTAN_ERR_BAD_REQUEST: { status: 400, message: 'The request is not valid' },
  CAPSTAN_ERR_UNAUTHORIZED: { status: 401, message: 'Authentication is required' },
  CAPSTAN_ERR_FORBIDDEN: { status: 403, message: 'Access is denied' },
  CAPSTAN_ERR_NOT_FOUND: { status: 404, message: 'No such route' },
  CAPSTAN_ERR_CALL_NOT_FOUND: { status: 404, message: 'No such call' },
  CAPSTAN_ERR_RECORDING_NOT_FOUND: { status: 404, message: 'No such recording' },
  CAPSTAN_ERR_FILE_NOT_FOUND: { status: 404, message: 'No such file' },
  CAPSTAN_ERR_CONFLICT: { status: 409, message: 'The request conflicts with the current state' },
  // telephony services and media servers
  CAPSTAN_ERR_NO_MEDIA_SERVER: { status: 503, message: 'No media server is available' },
  CAPSTAN_ERR_HOST_UNREACHABLE: { status: 502, message: 'The Capstan host did not answer' },
  CAPSTAN_ERR_MEDIA_SERVER_UNREACHABLE: { status: 502, message: 'A media server did not answer' },
  CAPSTAN_ERR_MEDIA_SERVER_REFUSED: { status: 502, message: 'A media server refused a request' },
  CAPSTAN_ERR_NO_RTP_PORT: { status: 503, message: 'No free RTP port on the media server' },
  CAPSTAN_ERR_NATIVE_UDP: { status: 500, message: 'The native UDP addon is not available' },
  CAPSTAN_ERR_UNSUPPORTED_FORMAT: { status: 400, message: 'The recording format is not supported' },
  CAPSTAN_ERR_RTP_INVALID: { status: 400, message: 'An RTP packet is malformed' },
  CAPSTAN_ERR_CODEC_INPUT: { status: 500, message: 'A media codec was given input it cannot process' },
  CAPSTAN_ERR_OGG_INVALID: { status: 400, message: 'An Ogg page or Ogg Opus stream is malformed' },
  CAPSTAN_ERR_URI_EXPIRED: { status: 401, message: 'The signed file URI has expired' },
  CAPSTAN_ERR_RECORDING_FAILED: { status: 500, message: 'A recording could not be written' },
  // requesters
  CAPSTAN_ERR_FETCH_FAILED: { status: 502, message: 'Fetching a recording from its media server failed' },
  CAPSTAN_ERR_CHECKSUM_MISMATCH: { status: 502, message: 'A fetched recording does not match its size or checksum' },
  CAPSTAN_ERR_STORAGE: { status: 500, message: 'The recording store failed' },
  CAPSTAN_ERR_DELIVERY_FAILED: { status: 502, message: 'Delivering a recording failed' },
  CAPSTAN_ERR_SIP_MALFORMED: { status: 400, message: 'A SIP message is malformed' },
  CAPSTAN_ERR_SIP_MEDIA: { status: 422, message: 'The SDP offers no audio Capstan can use' },
  CAPSTAN_ERR_NO_RCS: { status: 503, message: 'No Remote Content Service server keeps recordings of this location' },
  CAPSTAN_ERR_RCS_UNREACHABLE: { status: 502, message: 'A Remote Content Service server did not answer' },
  CAPSTAN_ERR_RCS_REFUSED: { status: 502, message: 'A Remote Content Service server refused a request' },
  // SASF (secure audio format) and Recorder keys
  CAPSTAN_ERR_SASF_FORMAT: { status: 422, message: 'The file is not a SASF file this version can read' },
  CAPSTAN_ERR_SASF_TAMPERED: { status: 422, message: 'The SASF file failed authentication: it was altered or corrupted' },
  CAPSTAN_ERR_SASF_TRUNCATED: { status: 422, message: 'The SASF file is incomplete' },
  CAPSTAN_ERR_SASF_WRONG_KEY: { status: 422, message: 'The SASF file was encrypted to a different key' },
  CAPSTAN_ERR_SASF_WRITE: { status: 500, message: 'Writing a SASF file failed' },
  CAPSTAN_ERR_KEY_NOT_FOUND: { status: 404, message: 'No such Recorder key' },
  CAPSTAN_ERR_KEY_PASSPHRASE: { status: 401, message: 'The private key needs a passphrase, or the passphrase is wrong' },
  CAPSTAN_ERR_KEY_INVALID: { status: 500, message: 'The key file is not a usable X25519 key' },
  CAPSTAN_ERR_KEY_STORE: { status: 500, message: 'The key directory cannot be read or written' },
  // handler runtime (handlers/*.ts in isolated-vm sandboxes)
  CAPSTAN_ERR_HANDLER_COMPILE: { status: 422, message: 'A handler failed to compile or load' },
  CAPSTAN_ERR_HANDLER_CPU: { status: 500, message: 'A handler used more than its CPU budget for one event' },
  CAPSTAN_ERR_HANDLER_TIMEOUT: { status: 500, message: 'A handler did not finish an event before its deadline' },
  CAPSTAN_ERR_HANDLER_MEMORY: { status: 500, message: 'A handler exceeded its memory limit' },
  CAPSTAN_ERR_HANDLER_THREW: { status: 500, message: 'A handler threw or rejected while handling an event' },
  CAPSTAN_ERR_HANDLER_REJECTION: { status: 500, message: 'A handler left a promise rejection unhandled' },
  CAPSTAN_ERR_HANDLER_FLOOD: { status: 429, message: 'A handler called the host API too often for one event' },
  CAPSTAN_ERR_HANDLER_ACTION: { status: 400, message: 'A handler asked for an action with invalid arguments' },
  CAPSTAN_ERR_HANDLER_STATE: { status: 413, message: 'A handler state write was refused' },
  CAPSTAN_ERR_HANDLER_QUARANTINED: { status: 503, message: 'The handler is quarantined' },
  CAPSTAN_ERR_HANDLER_NOT_FOUND: { status: 404, message: 'No such handler' },
  // plugins and lifecycle
  CAPSTAN_ERR_PLUGIN: { status: 500, message: 'A plugin failed' },
  CAPSTAN_ERR_CLOSED: { status: 503, message: 'The component is closed' },
  CAPSTAN_ERR_CHILD_PROCESS: { status: 500, message: 'A child process failed' },
  CAPSTAN_ERR_INTERNAL: { status: 500, message: 'Internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ErrorCodes;

export interface CapstanErrorOptions {
  /** Machine-readable details (the offending key, the allowed values...). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class CapstanError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, options: CapstanErrorOptions = {}) {
    super(message ?? ErrorCodes[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CapstanError';
    this.code = code;
    this.statusCode = ErrorCodes[code].status;
    this.details = options.details;
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isCapstanError(e: unknown): e is CapstanError {
  return e instanceof CapstanError;
}

/** Wraps anything thrown into a CapstanError, keeping coded ones as they are. */
export function toCapstanError(e: unknown, fallback: ErrorCode = 'CAPSTAN_ERR_INTERNAL'): CapstanError {
  if (e instanceof CapstanError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new CapstanError(fallback, message, { cause: e });
}
