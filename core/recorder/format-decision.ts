/**
 * The recording format decision, in one place (DESIGN.md flow step 5; the table in
 * docs/formats.md is this function in prose). Pure: Telephony Services calls it for every
 * recording request, whoever asks, and sends the media server what it answers.
 *
 *   1. `client` (an agent's ad hoc recording): always a plain, unencrypted `.wav` — PCM or G.711:
 *      the default when it is one of those, else 16-bit PCM (`audio/L16`; lossless, every player
 *      reads it). Asking for encryption, compression or another format is refused.
 *   2. An explicit `mime` (the override handlers and the call simulator can give) is used as
 *      given; with a compression other than `none` it must be that compression's format.
 *   3. Compression `opus` | `gsm` | `truespeech` → `audio/opus` | `audio/GSM` | `audio/x-truespeech`.
 *   4. Compression `none` (or none given) → `recordingMimeTypeDefault` (the media servers'
 *      RecordingMimeTypeDefault: Opus, G.711 or PCM — or GSM/TrueSpeech when set so).
 *   5. Channels: as asked (default 2); a mono-only codec (GSM, TrueSpeech) gets 1 — the media
 *      server mixes the parties down, and `downmixed` says so (the alternative, refusing, would
 *      fail every dual-channel policy that asks for GSM).
 *   6. Encryption (a Recorder key given: the Recorder asking with encryption configured, or a
 *      handler asking for it) → SASF: a `.sasf` file wrapping the format decided above.
 */
import { BUILTIN_FORMATS, builtinMime, type BuiltinRecordingMime } from '../../media/codecs/builtin-formats.ts';
import type { CodecContainer, CodecFileExtension } from '../../media/codecs/codec.ts';
import { CapstanError } from '../errors.ts';
import type { Requester } from '../events/call-events.ts';

export const COMPRESSIONS = ['none', 'opus', 'gsm', 'truespeech'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** The format each compression asks for. */
export const COMPRESSION_MIME: Readonly<Record<Exclude<Compression, 'none'>, BuiltinRecordingMime>> = {
  opus: 'audio/opus',
  gsm: 'audio/GSM',
  truespeech: 'audio/x-truespeech',
};

/** What an ad hoc (client) recording may be: plain WAV, PCM or G.711. */
const CLIENT_MIMES: readonly BuiltinRecordingMime[] = ['audio/L16', 'audio/PCMU', 'audio/PCMA'];

export interface FormatRequest {
  requester: Requester;
  /** The compression the Recorder (policy or handler) asks for. Default `none`. */
  compression?: Compression | undefined;
  /** An explicit format, overriding the default (not the requester's rules). Default: none. */
  mime?: string | undefined;
  /** Channels asked for. Default 2. */
  channels?: 1 | 2 | undefined;
  /** The media servers' RecordingMimeTypeDefault. */
  recordingMimeTypeDefault: string;
  /** True when the recording is to be encrypted to a Recorder key (SASF). */
  encrypt: boolean;
}

export interface FormatDecision {
  /** The codec's MIME type, as the media server is asked for it (canonical case for built-ins). */
  mime: string;
  channels: 1 | 2;
  /** The container of the audio itself (inside the SASF file when encrypted). */
  container: CodecContainer;
  /** Extension of the audio file: `.wav` or `.opus`. */
  innerExtension: CodecFileExtension;
  /** Extension of the file the media server writes: `.sasf` when encrypted, else `innerExtension`. */
  extension: CodecFileExtension | '.sasf';
  encrypted: boolean;
  /** Dual-channel was asked for a mono-only codec: the parties are mixed into one channel. */
  downmixed: boolean;
  /** Which rule decided the format, for logs: `client`, `mime`, `compression` or `default`. */
  rule: 'client' | 'mime' | 'compression' | 'default';
}

function refuse(message: string, details: Record<string, unknown>): CapstanError {
  return new CapstanError('CAPSTAN_ERR_UNSUPPORTED_FORMAT', message, { details });
}

/**
 * Decides container, codec, extension and encryption for one recording request.
 * @throws CapstanError CAPSTAN_ERR_UNSUPPORTED_FORMAT for a request the rules refuse.
 */
export function decideFormat(request: FormatRequest): FormatDecision {
  const compression = request.compression ?? 'none';
  if (!(COMPRESSIONS as readonly string[]).includes(compression)) {
    throw refuse(`Compression "${compression}" is not one of ${COMPRESSIONS.join(', ')}`, { compression });
  }
  let mime: string;
  let rule: FormatDecision['rule'];
  if (request.requester === 'client') {
    if (request.encrypt) throw refuse('Ad hoc (client) recordings are plain WAV: they cannot be encrypted', { requester: 'client' });
    if (compression !== 'none') throw refuse(`Ad hoc (client) recordings are PCM or G.711 WAV: compression "${compression}" is not available`, { requester: 'client', compression });
    if (request.mime !== undefined) {
      const asked = builtinMime(request.mime);
      if (!asked || !CLIENT_MIMES.includes(asked)) {
        throw refuse(`Ad hoc (client) recordings are PCM or G.711 WAV: one of ${CLIENT_MIMES.join(', ')}, not ${request.mime}`, { requester: 'client', mime: request.mime });
      }
      mime = asked;
    } else {
      const byDefault = builtinMime(request.recordingMimeTypeDefault);
      mime = byDefault && CLIENT_MIMES.includes(byDefault) ? byDefault : 'audio/L16';
    }
    rule = 'client';
  } else if (request.mime !== undefined) {
    mime = builtinMime(request.mime) ?? request.mime;
    if (compression !== 'none' && mime !== COMPRESSION_MIME[compression]) {
      throw refuse(`Compression "${compression}" records ${COMPRESSION_MIME[compression]}, but the request asks for ${request.mime}`, { compression, mime: request.mime });
    }
    rule = 'mime';
  } else if (compression !== 'none') {
    mime = COMPRESSION_MIME[compression];
    rule = 'compression';
  } else {
    mime = builtinMime(request.recordingMimeTypeDefault) ?? request.recordingMimeTypeDefault;
    rule = 'default';
  }
  const builtin = builtinMime(mime);
  // A plugin codec (not built in) is described by the media server that has it; the host only
  // knows that anything not Opus is WAV (the registry enforces `.opus` ⇔ Ogg for plugins too).
  const format = builtin ? BUILTIN_FORMATS[builtin] : { container: 'wav' as const, fileExtension: '.wav' as const, supportsChannels: [1, 2] as const };
  const asked = request.channels ?? 2;
  const channels: 1 | 2 = format.supportsChannels.includes(asked) ? asked : format.supportsChannels[0]!;
  return {
    mime,
    channels,
    container: format.container,
    innerExtension: format.fileExtension,
    extension: request.encrypt ? '.sasf' : format.fileExtension,
    encrypted: request.encrypt,
    downmixed: channels < asked,
    rule,
  };
}
