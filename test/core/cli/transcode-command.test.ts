import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecRegistry } from '../../../media/codecs/codec-registry.ts';
import { EncodedFileWriter } from '../../../media/recording/encoded-file-writer.ts';
import { parseWav } from '../../../media/wav/wav-reader.ts';
import { buildWavHeader } from '../../../media/wav/wav-format.ts';
import { alignedCorrelation, segmentalSnr } from '../../helpers/audio-quality.ts';
import { espeakSpeech, pcmBytes } from '../../helpers/espeak-speech.ts';
import { ffmpegDecode, ffprobe, interleave } from '../../helpers/ffmpeg-audio.ts';
import { runCli } from '../../helpers/run-cli.ts';

let dir: string;
let speech: Int16Array;
let mono8k: string;

function wavFile(name: string, channels: Int16Array[], rate: number): string {
  const data = pcmBytes(interleave(channels));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([buildWavHeader({ encoding: 'pcm16', channels: channels.length, sampleRate: rate }, data.length).header, data]));
  return path;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'transcode-'));
  speech = espeakSpeech(dir, 'Check a format by ear before you choose it.').pcm;
  mono8k = wavFile('in.wav', [speech], 8000);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('capstan transcode', () => {
  it('writes byte for byte what the media server\'s writer writes for the same audio', async () => {
    for (const mime of ['audio/GSM', 'audio/x-truespeech', 'audio/PCMA']) {
      const out = join(dir, `cli-${mime.slice(6)}.wav`);
      const r = await runCli(['transcode', '--to', mime, mono8k, out]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`${speech.length} samples`);
      // The same encoder and container writer, fed the same way (100 ms writes).
      const ref = join(dir, `ref-${mime.slice(6)}.wav`);
      const writer = await EncodedFileWriter.create(ref, { codec: codecRegistry.require(mime), channels: 1 });
      for (let i = 0; i < speech.length; i += 800) await writer.write(speech.subarray(i, i + 800));
      await writer.finalize();
      expect(readFileSync(out).equals(readFileSync(ref))).toBe(true);
    }
  });

  it('makes dual-channel Opus from a stereo WAV, and mixes stereo down for mono-only GSM', async () => {
    const stereo = wavFile('stereo.wav', [speech, new Int16Array(speech.length)], 8000);
    const opus = join(dir, 'stereo.opus');
    expect((await runCli(['transcode', '--to', 'audio/opus', stereo, opus])).code).toBe(0);
    expect(ffprobe(opus)).toMatchObject({ codec: 'opus', channels: 2 });
    const [left, right] = ffmpegDecode(opus, 2);
    expect(alignedCorrelation(speech, left!, 20).correlation).toBeGreaterThan(0.8);
    // The silent channel stays silent: no bleed of the speaking party (mid/side coding at low bitrates would).
    const energy = (x: Int16Array) => x.reduce((a, v) => a + v * v, 0);
    expect(10 * Math.log10(energy(right!) / energy(left!))).toBeLessThan(-40);

    const gsm = join(dir, 'stereo-gsm.wav');
    const r = await runCli(['transcode', '--to', 'audio/gsm', stereo, gsm]);
    expect(r.code).toBe(0);
    expect(parseWav(readFileSync(gsm))).toMatchObject({ formatTag: 0x31, channels: 1, factFrames: speech.length });
  });

  it('resamples a 16 kHz input to 8 kHz well enough for G.711 to stay near its own quality', async () => {
    const wide = join(dir, 'wide.wav');
    execFileSync('sox', [mono8k, '-r', '16000', wide]);
    const out = join(dir, 'from16k.wav');
    const r = await runCli(['transcode', '--to', 'audio/L16', wide, out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('resampled from 16000 Hz');
    const back = ffmpegDecode(out, 1)[0]!;
    expect(Math.abs(back.length - speech.length)).toBeLessThanOrEqual(1);
    // Up and down again: sox's resampler and ours in series still match the original closely.
    const { lag } = alignedCorrelation(speech, back, 10);
    expect(lag).toBe(0);
    expect(segmentalSnr(speech, back)).toBeGreaterThan(25);
  });

  it('refuses what it cannot do with coded errors', async () => {
    const gsm2 = await runCli(['transcode', '--to', 'audio/GSM', '--channels', '2', mono8k, join(dir, 'x.wav')]);
    expect(gsm2.code).toBe(1);
    expect(gsm2.stderr).toContain('CAPSTAN_ERR_UNSUPPORTED_FORMAT');
    const mp3 = await runCli(['transcode', '--to', 'audio/mp3', mono8k, join(dir, 'x.wav')]);
    expect(mp3.stderr).toContain('CAPSTAN_ERR_UNSUPPORTED_FORMAT');
    const noTo = await runCli(['transcode', mono8k, join(dir, 'x.wav')]);
    expect(noTo.code).toBe(2);
    expect(noTo.stderr).toContain('CAPSTAN_ERR_CLI_USAGE');
    const ulaw = join(dir, 'ulaw-in.wav');
    execFileSync('sox', [mono8k, '-e', 'u-law', ulaw]);
    const notPcm = await runCli(['transcode', '--to', 'audio/L16', ulaw, join(dir, 'y.wav')]);
    expect(notPcm.stderr).toMatch(/CAPSTAN_ERR_AUDIO_FILE.*sox/);
    const exists = await runCli(['transcode', '--to', 'audio/L16', mono8k, mono8k]);
    expect(exists.stderr).toContain('exists');
  });
});
