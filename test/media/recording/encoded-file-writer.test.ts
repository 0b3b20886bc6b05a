import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecRegistry } from '../../../media/codecs/codec-registry.ts';
import { readOggPackets } from '../../../media/codecs/ogg/ogg-page-reader.ts';
import { repairOgg } from '../../../media/codecs/ogg/ogg-repair.ts';
import { EncodedFileWriter } from '../../../media/recording/encoded-file-writer.ts';
import { parseWav } from '../../../media/wav/wav-reader.ts';
import { repairWav } from '../../../media/wav/wav-repair.ts';
import { alignedCorrelation } from '../../helpers/audio-quality.ts';
import { espeakSpeech } from '../../helpers/espeak-speech.ts';
import { ffmpegDecode, ffprobe, interleave } from '../../helpers/ffmpeg-audio.ts';

let dir: string;
let speech: Int16Array;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'encoded-writer-'));
  speech = espeakSpeech(dir, 'A crash must not lose what was recorded before the last flush.').pcm;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `seconds` of speech in 100 ms writes (the media server's tick), flushing every second. */
async function writeSpeech(writer: EncodedFileWriter, channels: 1 | 2, fromSample: number, seconds: number, flushEverySecond: boolean): Promise<void> {
  for (let t = 0; t < seconds * 10; t++) {
    const mono = speech.subarray(fromSample + t * 800, fromSample + (t + 1) * 800);
    const chunk = mono.length === 800 ? mono : new Int16Array(800);
    await writer.write(channels === 1 ? chunk : interleave([chunk, chunk]));
    if (flushEverySecond && t % 10 === 9) await writer.flush();
  }
}

const CASES = [
  ['audio/L16', 2],
  ['audio/PCMU', 1],
  ['audio/PCMA', 2],
  ['audio/GSM', 1],
  ['audio/x-truespeech', 1],
  ['audio/opus', 2],
] as const;

describe('EncodedFileWriter crash recovery', () => {
  for (const [mime, channels] of CASES) {
    it(`leaves a ${mime} file that repairs to the whole blocks on disk and that ffmpeg reads`, async () => {
      const codec = codecRegistry.require(mime, channels);
      const path = join(dir, `crash-${mime.slice(6)}${codec.fileExtension}`);
      const writer = await EncodedFileWriter.create(path, { codec, channels, metadata: { recordingId: `crash-${mime}` } });
      await writeSpeech(writer, channels, 0, 2, true); // 2 s, flushed
      // 1.5 s more, never flushed: WAV appends it (unsynced); Ogg emits one full page (50 packets) and keeps the rest.
      await writeSpeech(writer, channels, 16000, 1.5, false);
      await writer.abandon(); // the process dies: no finalize, the .part stays
      const part = `${path}.part`;
      // The tail was torn mid-block (or mid-page) by the crash.
      truncateSync(part, statSync(part).size - 7);

      if (codec.container === 'wav') {
        const result = await repairWav(part);
        const info = parseWav(readFileSync(path));
        const block = codec.wavFormat(channels);
        expect(info.dataBytes % block.blockAlign).toBe(0);
        expect(info.declaredDataBytes).toBe(info.dataBytes);
        expect(result.frames).toBe((info.dataBytes / block.blockAlign) * block.samplesPerBlock);
        if (block.formatTag !== 1) expect(info.factFrames).toBe(result.frames);
        expect(result.metadata).toMatchObject({ recordingId: `crash-${mime}` });
        // At least everything flushed (2 s), at most everything written (3.5 s).
        expect(result.frames).toBeGreaterThanOrEqual(16000 - block.samplesPerBlock);
        expect(result.frames).toBeLessThanOrEqual(28000);
        expect(ffprobe(path).durationTs).toBe(result.frames);
      } else {
        const result = await repairOgg(part);
        const packets = readOggPackets(readFileSync(path)); // strict reader: every page valid, EOS last
        expect(packets.at(-1)!.eos).toBe(true);
        // The torn page (the unflushed one) is dropped; the page flushed at 2 s is the end.
        expect(result.granule).toBe(BigInt(100 * 960));
        expect(result.droppedBytes).toBeGreaterThan(0);
      }
      const decoded = ffmpegDecode(path, channels)[0]!;
      expect(decoded.length).toBeGreaterThanOrEqual(16000 - 320);
      expect(alignedCorrelation(speech.subarray(0, 16000), decoded.subarray(0, 16000), 50).correlation).toBeGreaterThan(0.8);
    });
  }

  it('refuses an Ogg file whose header pages did not survive', async () => {
    const codec = codecRegistry.require('audio/opus');
    const path = join(dir, 'headless.opus');
    const writer = await EncodedFileWriter.create(path, { codec, channels: 1 });
    await writer.abandon();
    truncateSync(`${path}.part`, 40);
    await expect(repairOgg(`${path}.part`)).rejects.toMatchObject({ code: 'CAPSTAN_ERR_OGG_INVALID' });
    expect(existsSync(`${path}.part`)).toBe(true);
  });

  it('pads the last partial block with silence and says the true length in fact', async () => {
    const codec = codecRegistry.require('audio/GSM', 1);
    const path = join(dir, 'short.wav');
    const writer = await EncodedFileWriter.create(path, { codec, channels: 1 });
    await writer.write(speech.subarray(0, 500));
    expect(await writer.finalize()).toMatchObject({ samples: 500 });
    expect(parseWav(readFileSync(path))).toMatchObject({ factFrames: 500, dataBytes: 2 * 65, frames: 640 });
  });

  it('refuses a channel count the codec cannot write', async () => {
    await expect(EncodedFileWriter.create(join(dir, 'x.wav'), { codec: codecRegistry.require('audio/GSM'), channels: 2 })).rejects.toMatchObject({
      code: 'CAPSTAN_ERR_UNSUPPORTED_FORMAT',
    });
  });
});
