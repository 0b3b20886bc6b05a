/**
 * probeAudioHeader: the SASF metadata (codec MIME type, sample rate, channels) of an existing WAV
 * or Ogg Opus file, read from its first bytes — so `capstan sasf encrypt` can bring an existing
 * recording under SASF without being told what it is.
 */
import { CapstanError } from '../../core/errors.ts';

export interface ProbedAudio {
  mimeType: string;
  sampleRate: number;
  channels: number;
  /** The inner container: `wav` or `ogg`. */
  container: 'wav' | 'ogg';
}

/** WAV format tags of the recording formats (DESIGN: Formats) and their codec MIME types. */
const WAV_FORMATS: Record<number, string> = {
  0x0006: 'audio/PCMA',
  0x0007: 'audio/PCMU',
  0x0031: 'audio/GSM',
  0x0022: 'audio/x-truespeech',
};

function audioFileError(message: string): CapstanError {
  return new CapstanError('CAPSTAN_ERR_AUDIO_FILE', message);
}

/** Reads the first bytes (64 KiB is plenty) of a WAV or Ogg Opus file. */
export function probeAudioHeader(head: Buffer): ProbedAudio {
  if (head.length >= 12 && head.toString('ascii', 0, 4) === 'RIFF' && head.toString('ascii', 8, 12) === 'WAVE') {
    let o = 12;
    while (o + 8 <= head.length) {
      const id = head.toString('ascii', o, o + 4);
      const size = head.readUInt32LE(o + 4);
      if (id === 'fmt ') {
        if (o + 8 + 16 > head.length) break;
        let tag = head.readUInt16LE(o + 8);
        const channels = head.readUInt16LE(o + 10);
        const sampleRate = head.readUInt32LE(o + 12);
        const bits = head.readUInt16LE(o + 22);
        // WAVE_FORMAT_EXTENSIBLE: the real tag is the first two bytes of the sub-format GUID.
        if (tag === 0xfffe && size >= 40 && o + 8 + 26 <= head.length) tag = head.readUInt16LE(o + 8 + 24);
        const mimeType = tag === 0x0001 ? (bits === 16 ? 'audio/L16' : bits === 8 ? 'audio/L8' : undefined) : WAV_FORMATS[tag];
        if (mimeType === undefined) throw audioFileError(`Unsupported WAV format tag 0x${tag.toString(16).padStart(4, '0')} (${bits} bits)`);
        return { mimeType, sampleRate, channels, container: 'wav' };
      }
      o += 8 + size + (size & 1);
    }
    throw audioFileError('WAV file without a fmt chunk in its first bytes');
  }
  if (head.length >= 4 && head.toString('ascii', 0, 4) === 'OggS') {
    const at = head.indexOf('OpusHead', 0, 'ascii');
    if (at < 0 || at + 19 > head.length) throw audioFileError('Ogg file without an Opus identification header');
    const channels = head.readUInt8(at + 9);
    // RFC 7845 §5.1: the input sample rate is informational; 0 means unspecified, decoders run at 48 kHz.
    const inputRate = head.readUInt32LE(at + 12);
    return { mimeType: 'audio/opus', sampleRate: inputRate === 0 ? 48_000 : inputRate, channels, container: 'ogg' };
  }
  throw audioFileError('Not a WAV or Ogg Opus file');
}

/** File extension of the inner file for a codec MIME type: Opus is Ogg (`.opus`), everything else WAV. */
export function innerExtensionOf(mimeType: string): '.opus' | '.wav' {
  return mimeType.toLowerCase() === 'audio/opus' ? '.opus' : '.wav';
}
