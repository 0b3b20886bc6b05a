/**
 * ffmpeg and ffprobe as the independent decoder of what Capstan writes: decode any file to 8 kHz
 * 16-bit samples per channel, and read the duration the container declares.
 */
import { execFileSync } from 'node:child_process';

/** ffmpeg's decode of `path` at 8 kHz, one Int16Array per channel (`channels` forces the count). */
export function ffmpegDecode(path: string, channels: 1 | 2): Int16Array[] {
  const out = execFileSync('ffmpeg', ['-loglevel', 'error', '-i', path, '-f', 's16le', '-ar', '8000', '-ac', String(channels), '-'], { maxBuffer: 1 << 28 });
  const frames = out.length / 2 / channels;
  const result = Array.from({ length: channels }, () => new Int16Array(frames));
  for (let f = 0; f < frames; f++) for (let c = 0; c < channels; c++) result[c]![f] = out.readInt16LE((f * channels + c) * 2);
  return result;
}

export interface ProbedStream {
  codec: string;
  channels: number;
  sampleRate: number;
  /** Duration in seconds as ffprobe reports it for the stream. */
  duration: number;
  /** Duration in stream time base units (samples, for WAV). */
  durationTs: number;
}

/** ffprobe's view of the first audio stream. */
export function ffprobe(path: string): ProbedStream {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=codec_name,channels,sample_rate,duration,duration_ts', '-of', 'json', path]);
  const s = (JSON.parse(out.toString()) as { streams: Record<string, string | number>[] }).streams[0]!;
  return { codec: String(s.codec_name), channels: Number(s.channels), sampleRate: Number(s.sample_rate), duration: Number(s.duration), durationTs: Number(s.duration_ts) };
}

/** sox's sample count (per channel) of a file it can read, or throws. */
export function soxSamples(path: string): number {
  return Number(execFileSync('soxi', ['-s', path]).toString().trim());
}

/** Interleaves per-channel samples. */
export function interleave(channels: readonly Int16Array[]): Int16Array {
  const n = channels[0]!.length;
  const out = new Int16Array(n * channels.length);
  for (let i = 0; i < n; i++) for (let c = 0; c < channels.length; c++) out[i * channels.length + c] = channels[c]![i]!;
  return out;
}
