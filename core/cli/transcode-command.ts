import { existsSync, readFileSync, statSync } from 'node:fs';
import { CapstanError } from '../errors.ts';
import { resample } from '../../media/codecs/resample.ts';
import { EncodedFileWriter } from '../../media/recording/encoded-file-writer.ts';
import { parseWav } from '../../media/wav/wav-reader.ts';
import { intFlag, parseFlags } from './parse-args.ts';

export const TRANSCODE_USAGE = `capstan transcode --to MIME [--channels 1|2] IN.wav OUT

Encodes a 16-bit PCM WAV into a recording format with the media server's own encoders and
container writers: the file is what a recording of the same audio would be.
  --to        audio/L16, audio/PCMU, audio/PCMA, audio/GSM, audio/x-truespeech or audio/opus
              (any case); OUT gets the format's container whatever its name (.wav or .opus)
  --channels  1 or 2; default: the input's, except that a mono-only format (GSM, TrueSpeech)
              mixes a stereo input down to mono (asking for 2 with them is an error)
Input at another rate than 8000 Hz is resampled (windowed sinc, see media/codecs/resample.ts).
Input that is not 16-bit PCM is refused; convert it first: sox IN -b 16 -e signed-integer OUT.wav
OUT must not exist.`;

/** Audio pushed per write: 100 ms, the media server's write tick. */
const CHUNK_FRAMES = 800;

function audioError(path: string, message: string, reason: string): CapstanError {
  return new CapstanError('CAPSTAN_ERR_AUDIO_FILE', `${path}: ${message}`, { details: { file: path, reason } });
}

/** Deinterleaved channels of a 16-bit PCM WAV at its own rate. */
function readPcm16(path: string): { rate: number; channels: Int16Array[] } {
  if (!statSync(path, { throwIfNoEntry: false })?.isFile()) throw audioError(path, 'no such file', 'not-found');
  const info = parseWav(readFileSync(path));
  if (info.formatTag !== 1 || info.bitsPerSample !== 16) {
    throw audioError(path, `format tag ${info.formatTag} with ${info.bitsPerSample} bits: only 16-bit PCM is read. Convert it with: sox ${path} -b 16 -e signed-integer in16.wav`, 'unsupported-format');
  }
  if (info.channels !== 1 && info.channels !== 2) {
    throw audioError(path, `${info.channels} channels: only mono or stereo. Convert it with: sox ${path} -c 1 mono.wav`, 'unsupported-channels');
  }
  const view = new DataView(info.data.buffer, info.data.byteOffset, info.data.byteLength);
  const channels = Array.from({ length: info.channels }, () => new Int16Array(info.frames));
  for (let f = 0; f < info.frames; f++) {
    for (let c = 0; c < info.channels; c++) channels[c]![f] = view.getInt16((f * info.channels + c) * 2, true);
  }
  return { rate: info.sampleRate, channels };
}

export async function transcodeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags('transcode', args, { to: { type: 'string' }, channels: { type: 'string' } }, true);
  if (values.to === undefined) throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', 'capstan transcode: --to MIME is required');
  if (positionals.length !== 2) throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', 'capstan transcode: expected IN.wav OUT');
  const [inPath, outPath] = positionals as [string, string];
  const asked = intFlag('transcode', 'channels', values.channels, 1, 2) as 1 | 2 | undefined;
  // Loaded here, not at the top: the codecs (libopus) would slow every other CLI command's start.
  const { codecRegistry } = await import('../../media/codecs/codec-registry.ts');
  const codec = codecRegistry.require(values.to, asked);
  if (existsSync(outPath)) throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', `capstan transcode: ${outPath} exists; remove it or choose another name`, { details: { file: outPath } });

  const input = readPcm16(inPath);
  let channels = input.channels.map((c) => resample(c, input.rate, 8000));
  const inChannels = channels.length as 1 | 2;
  const target: 1 | 2 = asked ?? (codec.supportsChannels.includes(inChannels) ? inChannels : 1);
  if (target === 1 && channels.length === 2) {
    // Mix down: the mean of the two channels (never clips).
    const [l, r] = channels as [Int16Array, Int16Array];
    channels = [l.map((v, i) => (v + r[i]!) >> 1)];
  } else if (target === 2 && channels.length === 1) {
    channels = [channels[0]!, channels[0]!];
  }
  const frames = channels[0]!.length;
  const writer = await EncodedFileWriter.create(outPath, { codec, channels: target });
  try {
    const chunk = new Int16Array(CHUNK_FRAMES * target);
    for (let start = 0; start < frames; start += CHUNK_FRAMES) {
      const n = Math.min(CHUNK_FRAMES, frames - start);
      for (let i = 0; i < n; i++) for (let c = 0; c < target; c++) chunk[i * target + c] = channels[c]![start + i]!;
      await writer.write(chunk.subarray(0, n * target));
    }
    const result = await writer.finalize();
    const bytes = statSync(result.path).size;
    const resampled = input.rate === 8000 ? '' : `, resampled from ${input.rate} Hz`;
    process.stdout.write(
      `${result.path}: ${codec.mime} (${codec.name}), ${target} channel${target === 1 ? '' : 's'}, ${result.samples} samples (${(result.samples / 8000).toFixed(2)} s)${resampled}, ${bytes} bytes\n`,
    );
    return 0;
  } catch (e) {
    await writer.abandon();
    throw e;
  }
}
