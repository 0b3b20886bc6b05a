/**
 * The built-in recording formats as plain data: MIME type → container and extension. Pure (no
 * encoder is loaded), so the host's format decision (core/recorder/format-decision.ts), the
 * configuration schema and the control API can use it without pulling in native codecs. The
 * encoders behind these names are in media/codecs/builtin/ and registered in codec-registry.ts;
 * a test keeps the two in step.
 */
import type { CodecContainer, CodecFileExtension } from './codec.ts';

export const BUILTIN_RECORDING_MIMES = ['audio/L16', 'audio/PCMU', 'audio/PCMA', 'audio/GSM', 'audio/x-truespeech', 'audio/opus'] as const;
export type BuiltinRecordingMime = (typeof BUILTIN_RECORDING_MIMES)[number];

export interface BuiltinFormat {
  container: CodecContainer;
  fileExtension: CodecFileExtension;
  supportsChannels: readonly (1 | 2)[];
}

export const BUILTIN_FORMATS: Readonly<Record<BuiltinRecordingMime, BuiltinFormat>> = {
  'audio/L16': { container: 'wav', fileExtension: '.wav', supportsChannels: [1, 2] },
  'audio/PCMU': { container: 'wav', fileExtension: '.wav', supportsChannels: [1, 2] },
  'audio/PCMA': { container: 'wav', fileExtension: '.wav', supportsChannels: [1, 2] },
  // MS-GSM (WAV49) is defined for mono only: libgsm, ffmpeg's gsm_ms and Windows' ACM codec
  // refuse anything else. The format decision mixes a dual-channel request down (docs/formats.md).
  'audio/GSM': { container: 'wav', fileExtension: '.wav', supportsChannels: [1] },
  // TrueSpeech is mono in every decoder (ffmpeg's refuses other channel counts).
  'audio/x-truespeech': { container: 'wav', fileExtension: '.wav', supportsChannels: [1] },
  'audio/opus': { container: 'ogg', fileExtension: '.opus', supportsChannels: [1, 2] },
};

/** The built-in MIME type `mime` names, matched case-insensitively (MIME types are), or undefined. */
export function builtinMime(mime: string): BuiltinRecordingMime | undefined {
  const lower = mime.toLowerCase();
  return BUILTIN_RECORDING_MIMES.find((m) => m.toLowerCase() === lower);
}
