/**
 * bench/truespeech: encode speed of the TypeScript TrueSpeech encoder, in x real time on one
 * core (the goal: at least 100x). There is no other TrueSpeech encoder to compare with.
 *
 * Input: espeak-ng speech (test/helpers/espeak-speech.ts), repeated to `audioSeconds`. The
 * encoder runs on the main thread; CPU time is process.cpuUsage (user + system), so other load
 * on the machine inflates it less than wall time would. A warm-up pass lets V8 optimise first.
 *
 * Run alone: node --no-node-snapshot --import tsx bench/truespeech.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TrueSpeechEncoder, type TrueSpeechEncoderOptions } from '../media/codecs/truespeech/truespeech-encoder.ts';
import { espeakSpeech } from '../test/helpers/espeak-speech.ts';

export interface TrueSpeechBenchOptions extends TrueSpeechEncoderOptions {
  /** Seconds of audio per run (default 60). */
  audioSeconds?: number;
  /** Timed runs; the best is reported with the median (default 5). */
  runs?: number;
}

export interface TrueSpeechBenchResult {
  audioSeconds: number;
  /** CPU milliseconds of the fastest and the median run. */
  bestCpuMs: number;
  medianCpuMs: number;
  /** Audio seconds encoded per CPU second (x real time), fastest and median run. */
  bestRealTime: number;
  medianRealTime: number;
}

export function benchTrueSpeech(options: TrueSpeechBenchOptions = {}): TrueSpeechBenchResult {
  const dir = mkdtempSync(join(tmpdir(), 'capstan-bench-truespeech-'));
  try {
    const { pcm: speech } = espeakSpeech(dir, 'The quick brown fox jumps over the lazy dog. This call may be recorded for quality and training purposes.');
    const frames = Math.ceil(((options.audioSeconds ?? 60) * 8000) / 240);
    const input = new Int16Array(frames * 240);
    for (let i = 0; i < input.length; i++) input[i] = speech[i % speech.length]!;
    const out = new Uint8Array(32);
    const encodeAll = (): number => {
      const enc = new TrueSpeechEncoder(options);
      const start = process.cpuUsage();
      for (let f = 0; f < frames; f++) enc.encodeFrameInto(input.subarray(f * 240, f * 240 + 240), out, 0);
      const used = process.cpuUsage(start);
      return (used.user + used.system) / 1000;
    };
    encodeAll(); // warm-up
    const times = Array.from({ length: options.runs ?? 5 }, encodeAll).sort((a, b) => a - b);
    const audioSeconds = (frames * 240) / 8000;
    const best = times[0]!;
    const median = times[times.length >> 1]!;
    return {
      audioSeconds,
      bestCpuMs: best,
      medianCpuMs: median,
      bestRealTime: (audioSeconds * 1000) / best,
      medianRealTime: (audioSeconds * 1000) / median,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = benchTrueSpeech();
  console.log(
    `TrueSpeech encode, ${r.audioSeconds.toFixed(0)} s of speech: best ${r.bestCpuMs.toFixed(0)} ms CPU = ${r.bestRealTime.toFixed(0)}x real time, ` +
      `median ${r.medianCpuMs.toFixed(0)} ms = ${r.medianRealTime.toFixed(0)}x`,
  );
}
