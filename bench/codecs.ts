/**
 * bench/codecs: encode speed of each recording codec, in × real time on one core, next to the
 * reference encoders on the same input in the same run.
 *
 * Input: examples/audio/caller.wav (speech, 8 kHz mono) repeated to `audioSeconds` (default 120).
 *
 * Ours: the codec's streaming encoder exactly as the media server drives it (100 ms pushes, then
 * end()), timed in-process with performance.now() after a warm-up run (JIT), single-threaded.
 * Container writing (file I/O) is not included: it is the same for every codec.
 *
 * Theirs, spawned on the same input written as a file:
 *   - ffmpeg -threads 1 encoding to the null muxer (pcm_s16le, pcm_mulaw, pcm_alaw, libgsm_ms,
 *     libopus at the same bitrate and 20 ms frames);
 *   - toast -l (libgsm's own command line tool) writing to /dev/null.
 * A process's start-up (exec, dynamic linking, codec init) is subtracted by timing the same
 * command on 0.1 s of input and scaling: speed = (audio − 0.1 s) / (t_full − t_short). Each is
 * the best of `runs` (default 3), which also favours them (warm caches).
 *
 * Also libopus alone: @discordjs/opus encode() in a loop on the same frames, no Ogg — the
 * "within 10 % of libopus alone" goal compares our Ogg Opus encoder with that.
 *
 * Run alone: node --no-node-snapshot --import tsx -e "import('./bench/codecs.ts').then(async m => console.log(await m.benchCodecs()))"
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import discordOpus from '@discordjs/opus';
import { codecRegistry } from '../media/codecs/codec-registry.ts';
import { OPUS_DUAL_CHANNEL_BITRATE } from '../media/codecs/builtin/opus-codec.ts';
import { readPcm8k } from '../media/wav/wav-reader.ts';

export interface CodecBenchOptions {
  /** Seconds of audio encoded per measurement. Default 120. */
  audioSeconds?: number;
  /** Repetitions; the best is kept. Default 3. */
  runs?: number;
}

const CHUNK = 800;
const SHORT_SECONDS = 0.1;

function speech(seconds: number): Int16Array {
  const source = readPcm8k(readFileSync(new URL('../examples/audio/caller.wav', import.meta.url))).channels[0]!;
  const out = new Int16Array(seconds * 8000);
  for (let i = 0; i < out.length; i += source.length) out.set(source.subarray(0, Math.min(source.length, out.length - i)), i);
  return out;
}

/** Best wall time (ms) of `fn` over `runs`. */
function best(runs: number, fn: () => void): number {
  let min = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

/** × real time of our encoder for `mime`, channels `channels` (dual-channel: the same speech on both). */
function ours(mime: string, channels: 1 | 2, pcm: Int16Array, runs: number): number {
  const codec = codecRegistry.require(mime, channels);
  const input = channels === 1 ? pcm : Int16Array.from({ length: pcm.length * 2 }, (_, i) => pcm[i >> 1]!);
  const chunk = CHUNK * channels;
  const run = (n: number) => {
    const enc = codec.createEncoder(channels);
    for (let i = 0; i < n; i += chunk) enc.push(input.subarray(i, Math.min(n, i + chunk)));
    enc.end();
  };
  run(Math.min(input.length, 8000 * 10 * channels)); // warm-up: JIT
  return pcm.length / 8000 / (best(runs, () => run(input.length)) / 1000);
}

/** × real time of libopus alone (@discordjs/opus encode per 20 ms frame, no container). */
function libopusAlone(channels: 1 | 2, pcm: Int16Array, runs: number): number {
  const frames: Buffer[] = [];
  for (let i = 0; i + 160 <= pcm.length; i += 160) {
    const f = new Int16Array(160 * channels);
    for (let j = 0; j < 160; j++) for (let c = 0; c < channels; c++) f[j * channels + c] = pcm[i + j]!;
    frames.push(Buffer.from(f.buffer));
  }
  const run = () => {
    const enc = new discordOpus.OpusEncoder(8000, channels);
    if (channels === 2) enc.setBitrate(OPUS_DUAL_CHANNEL_BITRATE);
    for (const f of frames) enc.encode(f);
  };
  run();
  return pcm.length / 8000 / (best(runs, run) / 1000);
}

/** × real time of a spawned encoder, its start-up subtracted (see the file comment); NaN if it fails. */
function spawned(command: string, args: (input: string) => string[], full: string, short: string, seconds: number, runs: number): number {
  const time = (input: string): number =>
    best(runs, () => {
      const r = spawnSync(command, args(input), { stdio: ['ignore', 'ignore', 'pipe'] });
      if (r.status !== 0) throw new Error(`${command} failed: ${r.stderr?.toString() ?? r.error?.message}`);
    });
  try {
    return (seconds - SHORT_SECONDS) / ((time(full) - time(short)) / 1000);
  } catch {
    return Number.NaN;
  }
}

export async function benchCodecs(options: CodecBenchOptions = {}): Promise<Record<string, number | string>> {
  const seconds = options.audioSeconds ?? 120;
  const runs = options.runs ?? 3;
  const pcm = speech(seconds);
  const dir = mkdtempSync(join(tmpdir(), 'bench-codecs-'));
  try {
    const raw = (name: string, samples: Int16Array, channels: 1 | 2) => {
      const path = join(dir, `${name}.raw`);
      const b = Buffer.alloc(samples.length * 2 * channels);
      for (let i = 0; i < samples.length; i++) for (let c = 0; c < channels; c++) b.writeInt16LE(samples[i]!, (i * channels + c) * 2);
      writeFileSync(path, b);
      return path;
    };
    const mono = raw('mono', pcm, 1);
    const monoShort = raw('mono-short', pcm.subarray(0, SHORT_SECONDS * 8000), 1);
    const stereo = raw('stereo', pcm, 2);
    const stereoShort = raw('stereo-short', pcm.subarray(0, SHORT_SECONDS * 8000), 2);
    const ffmpeg = (channels: 1 | 2, codecArgs: string[]) => (input: string) => [
      '-nostdin', '-loglevel', 'error', '-threads', '1', '-f', 's16le', '-ar', '8000', '-ac', String(channels), '-i', input, ...codecArgs, '-f', 'null', '-',
    ];
    const ff = (channels: 1 | 2, codecArgs: string[]) => spawned('ffmpeg', ffmpeg(channels, codecArgs), channels === 1 ? mono : stereo, channels === 1 ? monoShort : stereoShort, seconds, runs);

    const result: Record<string, number | string> = { audioSeconds: seconds };
    result['L16.ours'] = ours('audio/L16', 1, pcm, runs);
    result['L16.ffmpeg'] = ff(1, ['-c:a', 'pcm_s16le']);
    result['PCMU.ours'] = ours('audio/PCMU', 1, pcm, runs);
    result['PCMU.ffmpeg'] = ff(1, ['-c:a', 'pcm_mulaw']);
    result['PCMA.ours'] = ours('audio/PCMA', 1, pcm, runs);
    result['PCMA.ffmpeg'] = ff(1, ['-c:a', 'pcm_alaw']);
    result['GSM.ours'] = ours('audio/GSM', 1, pcm, runs);
    result['GSM.ffmpegLibgsmMs'] = ff(1, ['-c:a', 'libgsm_ms']);
    result['GSM.toast'] = spawned('toast', (input) => ['-l', '-c', input], mono, monoShort, seconds, runs);
    // toast writes to stdout; spawnSync with stdout ignored sends it to /dev/null.
    result['GSM.oursVsLibgsm'] = (result['GSM.ours'] as number) / Math.max(result['GSM.ffmpegLibgsmMs'] as number, result['GSM.toast'] as number);
    result['TrueSpeech.ours'] = ours('audio/x-truespeech', 1, pcm, runs);
    result['TrueSpeech.others'] = 'none exist (ffmpeg decodes only)';
    result['OpusMono.ours'] = ours('audio/opus', 1, pcm, runs);
    result['OpusMono.libopusAlone'] = libopusAlone(1, pcm, runs);
    result['OpusMono.ffmpegLibopus'] = ff(1, ['-c:a', 'libopus', '-b:a', '11k', '-frame_duration', '20', '-application', 'audio']);
    result['OpusMono.oursVsLibopusAlone'] = (result['OpusMono.ours'] as number) / (result['OpusMono.libopusAlone'] as number);
    result['OpusDual.ours'] = ours('audio/opus', 2, pcm, runs);
    result['OpusDual.libopusAlone'] = libopusAlone(2, pcm, runs);
    result['OpusDual.ffmpegLibopus'] = ff(2, ['-c:a', 'libopus', '-b:a', '32k', '-frame_duration', '20', '-application', 'audio']);
    result['OpusDual.oursVsLibopusAlone'] = (result['OpusDual.ours'] as number) / (result['OpusDual.libopusAlone'] as number);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
