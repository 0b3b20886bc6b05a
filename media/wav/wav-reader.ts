/**
 * WAV parsing: the chunk walk (`parseWav`) shared by tests, repair and tooling, and `readPcm8k`,
 * the strict reader for input audio (the CLI's call simulator plays such files).
 */
import { CapstanError } from '../../core/errors.ts';
import { WAV_FORMAT_TAG, type WavEncoding } from './wav-format.ts';

export interface WavInfo {
  /** The `fmt ` format tag (1 PCM, 6 A-law, 7 µ-law, others as found). */
  formatTag: number;
  /** Set when the format is one Capstan writes. */
  encoding: WavEncoding | undefined;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  blockAlign: number;
  /** Samples per channel in one block: 320 for GSM (0x0031), 240 for TrueSpeech (0x0022), else 1. */
  samplesPerBlock: number;
  /** Byte offset of the first sample. */
  dataOffset: number;
  /** Size the `data` chunk declares. */
  declaredDataBytes: number;
  /** Bytes of samples actually usable: the declared size clipped to the buffer, whole blocks. */
  dataBytes: number;
  /** Samples per channel in the whole blocks present (blocks × samplesPerBlock). */
  frames: number;
  /** The `fact` frame count when present. */
  factFrames: number | undefined;
  /** Offset of the `fact` frame count when present (repair rewrites it). */
  factOffset: number | undefined;
  /** Parsed `cpst` chunk (Capstan metadata) when present and valid JSON. */
  metadata: Record<string, unknown> | undefined;
  /** The samples (a view into the buffer). */
  data: Uint8Array;
}

function bad(message: string, reason: string): CapstanError {
  return new CapstanError('CAPSTAN_ERR_AUDIO_FILE', message, { details: { reason } });
}

/**
 * Walks the RIFF chunks up to `data`. Tolerates a `data` size larger than the buffer (a file cut
 * short, or a `.part` whose header lags): `dataBytes` says what is really there.
 * @throws CapstanError CAPSTAN_ERR_AUDIO_FILE when it is not a RIFF/WAVE file or lacks fmt/data.
 */
export function parseWav(buf: Uint8Array): WavInfo {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 12 || b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') {
    throw bad('not a RIFF/WAVE file', 'not-wav');
  }
  let offset = 12;
  let fmt: { formatTag: number; channels: number; sampleRate: number; blockAlign: number; bitsPerSample: number; samplesPerBlock: number } | undefined;
  let factFrames: number | undefined;
  let factOffset: number | undefined;
  let metadata: Record<string, unknown> | undefined;
  while (offset + 8 <= b.length) {
    const id = b.toString('ascii', offset, offset + 4);
    const size = b.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'data') {
      if (!fmt) throw bad('data chunk before fmt chunk', 'no-fmt');
      const available = Math.max(0, Math.min(size, b.length - body));
      const dataBytes = available - (available % fmt.blockAlign);
      const encoding = (Object.keys(WAV_FORMAT_TAG) as WavEncoding[]).find((k) => WAV_FORMAT_TAG[k] === fmt!.formatTag);
      return {
        ...fmt,
        encoding,
        dataOffset: body,
        declaredDataBytes: size,
        dataBytes,
        frames: (dataBytes / fmt.blockAlign) * fmt.samplesPerBlock,
        factFrames,
        factOffset,
        metadata,
        data: b.subarray(body, body + dataBytes),
      };
    }
    if (body + size > b.length) throw bad(`chunk '${id}' overruns the file`, 'truncated');
    if (id === 'fmt ') {
      if (size < 16) throw bad(`fmt chunk of ${size} bytes`, 'bad-fmt');
      fmt = {
        formatTag: b.readUInt16LE(body),
        channels: b.readUInt16LE(body + 2),
        sampleRate: b.readUInt32LE(body + 4),
        blockAlign: b.readUInt16LE(body + 12),
        bitsPerSample: b.readUInt16LE(body + 14),
        samplesPerBlock: 1,
      };
      // wSamplesPerBlock of the block codecs Capstan writes (their cbSize bytes, WAVEFORMATEX + n).
      const tag = fmt.formatTag;
      if (tag === 0x0031 && size >= 20) fmt.samplesPerBlock = b.readUInt16LE(body + 18) || 320;
      else if (tag === 0x0022 && size >= 22) fmt.samplesPerBlock = b.readUInt16LE(body + 20) || 240;
      if (fmt.channels === 0 || fmt.blockAlign === 0) throw bad('fmt chunk with 0 channels or block align', 'bad-fmt');
    } else if (id === 'fact' && size >= 4) {
      factFrames = b.readUInt32LE(body);
      factOffset = body;
    } else if (id === 'cpst') {
      try {
        const parsed: unknown = JSON.parse(b.toString('utf8', body, body + size));
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) metadata = parsed as Record<string, unknown>;
      } catch {
        // Metadata is informative only: a damaged one does not make the audio unreadable.
      }
    }
    offset = body + size + (size % 2);
  }
  throw bad('no data chunk', 'no-data');
}

export interface Pcm8kAudio {
  sampleRate: 8000;
  /** One array per channel (1 or 2), deinterleaved. */
  channels: Int16Array[];
  frames: number;
}

/**
 * Reads a 16-bit PCM WAV at 8 kHz, mono or stereo, into per-channel samples.
 * @throws CapstanError CAPSTAN_ERR_AUDIO_FILE for anything else, with `details.reason`.
 */
export function readPcm8k(buf: Uint8Array): Pcm8kAudio {
  const info = parseWav(buf);
  if (info.formatTag !== 1 || info.bitsPerSample !== 16) {
    throw bad(`format tag ${info.formatTag} with ${info.bitsPerSample} bits: only 16-bit PCM is accepted`, 'unsupported-format');
  }
  if (info.sampleRate !== 8000) throw bad(`sample rate ${info.sampleRate}: only 8000 Hz is accepted`, 'unsupported-rate');
  if (info.channels !== 1 && info.channels !== 2) throw bad(`${info.channels} channels: only mono or stereo`, 'unsupported-channels');
  if (info.blockAlign !== 2 * info.channels) throw bad(`block align ${info.blockAlign} does not match 16-bit samples`, 'bad-fmt');
  const view = new DataView(info.data.buffer, info.data.byteOffset, info.data.byteLength);
  const channels = Array.from({ length: info.channels }, () => new Int16Array(info.frames));
  for (let f = 0; f < info.frames; f++) {
    for (let c = 0; c < info.channels; c++) channels[c]![f] = view.getInt16((f * info.channels + c) * 2, true);
  }
  return { sampleRate: 8000, channels, frames: info.frames };
}
