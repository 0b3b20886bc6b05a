/**
 * Every recording format, written by the media server's own path (Recording → mixer → codec
 * encoder → container writer → file sink), decoded by ffmpeg and compared with what the legs
 * said. espeak-ng speech goes in as 20 ms packets on a hand-moved clock.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alawDecode, alawEncode, ulawDecode, ulawEncode } from '../../../media/codecs/g711.ts';
import type { RecordingResult } from '../../../media/control-api.ts';
import { readOggPackets } from '../../../media/codecs/ogg/ogg-page-reader.ts';
import { OggPageWriter } from '../../../media/codecs/ogg/ogg-page-writer.ts';
import { opusHead, opusTags } from '../../../media/codecs/opus/ogg-opus-writer.ts';
import { trueSpeechWav } from '../../../media/codecs/truespeech/truespeech-wav-header.ts';
import { SasfFileSink } from '../../../media/recording/file-sink.ts';
import { Recording } from '../../../media/recording/recording.ts';
import { decryptSasf } from '../../../media/sasf/reader.ts';
import { parseWav } from '../../../media/wav/wav-reader.ts';
import { alignByLag, alignedCorrelation, logSpectralDistance, lpcEnvelopeCorrelation, segmentalSnr } from '../../helpers/audio-quality.ts';
import { espeakSpeech, pcmBytes } from '../../helpers/espeak-speech.ts';
import { ffmpegDecode, ffprobe, soxSamples } from '../../helpers/ffmpeg-audio.ts';
import { randomFrames } from '../codecs/truespeech/ffmpeg-truespeech.ts';

let dir: string;
let caller: Int16Array;
let callee: Int16Array;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'recording-formats-'));
  // Whole 20 ms packets, so the recording's length is exactly the speech's.
  const a = espeakSpeech(dir, 'Recordings must play anywhere for years, in a browser and in ffmpeg.').pcm;
  const b = espeakSpeech(dir, 'Thank you for calling, how can I help you today?', { voice: 'en-us' }).pcm;
  caller = a.subarray(0, a.length - (a.length % 160));
  callee = b.subarray(0, Math.min(b.length - (b.length % 160), caller.length));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Recorded {
  result: RecordingResult;
  path: string;
  bytes: Buffer;
}

/**
 * Records `legs` through a real Recording: packets pushed as they "arrive" every 20 ms of a manual
 * clock, the write timer running for real (every 2 ms) and flushing every 100 ms of clock time,
 * so periodic flushes (Ogg pages, WAV header rewrites) happen mid-recording as in production.
 */
async function record(name: string, mime: string, channels: 1 | 2, legs: { caller: Int16Array; callee?: Int16Array }, openSink?: (path: string) => Promise<SasfFileSink>): Promise<Recorded> {
  let now = 50_000;
  const path = join(dir, name);
  const rec = new Recording({
    recordingId: name,
    path,
    mime,
    channels,
    legs: ['caller', 'callee'],
    signUri: (n) => `http://127.0.0.1:1/files/${n}?expires=1&sig=x`,
    tickMs: 2,
    flushIntervalMs: 100,
    jitterDelayMs: 60,
    clock: () => now,
    ...(openSink ? { openSink } : {}),
  });
  await rec.open();
  const packets = legs.caller.length / 160;
  for (let i = 0; i < packets; i++) {
    const packet = (pcm: Int16Array) => ({ ssrc: 7, sequenceNumber: i, timestamp: i * 160, samples: pcm.subarray(i * 160, i * 160 + 160) });
    rec.push('caller', packet(legs.caller), now);
    if (legs.callee && i * 160 < legs.callee.length) rec.push('callee', packet(legs.callee), now);
    now += 20;
    if (i % 5 === 4) await sleep(3);
  }
  const result = await rec.stop();
  return { result, path, bytes: readFileSync(path) };
}

/** An Ogg Opus file of `count` mono packets: TOC 0x08 (SILK narrowband, 20 ms, one frame) and 40 random bytes. */
function randomOpusFile(count: number): Buffer {
  const ogg = new OggPageWriter(1234);
  const pages = [...ogg.writePacket(opusHead(1, 312, 8000), 0n, { flush: true }), ...ogg.writePacket(opusTags('random'), 0n, { flush: true })];
  const bytes = randomFrames(Math.ceil((count * 41) / 32), 777);
  for (let i = 0; i < count; i++) {
    const packet = Buffer.concat([Buffer.from([0x08]), bytes.subarray(i * 41, i * 41 + 40)]);
    pages.push(...ogg.writePacket(packet, BigInt((i + 1) * 960), { eos: i === count - 1, flush: i % 50 === 49 }));
  }
  return Buffer.concat(pages);
}

/** The speech measures of docs/formats.md: alignment, envelope correlation and LSD on the aligned part. */
function speechMeasures(reference: Int16Array, decoded: Int16Array): { lag: number; correlation: number; envelope: number; lsd: number } {
  const { lag, correlation } = alignedCorrelation(reference, decoded, 400);
  const [r, t] = alignByLag(reference, decoded, lag);
  return { lag, correlation, envelope: lpcEnvelopeCorrelation(r, t), lsd: logSpectralDistance(r, t) };
}

describe('recording formats, written by the media server path and decoded by ffmpeg', () => {
  it('writes 16-bit PCM that ffmpeg decodes sample for sample, dual-channel', async () => {
    const { result, path } = await record('pcm.wav', 'audio/L16', 2, { caller, callee });
    expect(result).toMatchObject({ mime: 'audio/L16', channels: 2, samples: caller.length });
    const [left, right] = ffmpegDecode(path, 2);
    expect(left!.length).toBe(caller.length);
    expect(Buffer.from(left!.buffer).equals(Buffer.from(caller.slice().buffer))).toBe(true);
    const expectedRight = new Int16Array(caller.length);
    expectedRight.set(callee);
    expect(Buffer.from(right!.buffer).equals(Buffer.from(expectedRight.buffer))).toBe(true);
  });

  for (const [mime, encode, decode, tag] of [
    ['audio/PCMU', ulawEncode, ulawDecode, 7],
    ['audio/PCMA', alawEncode, alawDecode, 6],
  ] as const) {
    it(`writes ${mime} that ffmpeg decodes to the G.711 values with a segmental SNR of at least 35 dB`, async () => {
      const { result, path, bytes } = await record(`${mime.slice(6)}.wav`, mime, 1, { caller });
      expect(result.samples).toBe(caller.length);
      expect(parseWav(bytes)).toMatchObject({ formatTag: tag, channels: 1, blockAlign: 1, bitsPerSample: 8, factFrames: caller.length });
      const [decoded] = ffmpegDecode(path, 1);
      expect(Array.from(decoded!)).toEqual(Array.from(decode(encode(caller))));
      expect(segmentalSnr(caller, decoded!)).toBeGreaterThanOrEqual(35);
    });
  }

  it('writes GSM 06.10 WAV49 bit-exact with libgsm (ffmpeg -c:a libgsm_ms on the same input)', async () => {
    // 3 packets of the speech removed: the length is not a multiple of 320, so the last block is padded.
    const input = caller.subarray(0, caller.length - 480);
    const { result, path, bytes } = await record('gsm.wav', 'audio/GSM', 1, { caller: input });
    expect(result).toMatchObject({ mime: 'audio/GSM', channels: 1, samples: input.length });
    const ours = parseWav(bytes);
    expect(ours).toMatchObject({ formatTag: 0x31, blockAlign: 65, bitsPerSample: 0, samplesPerBlock: 320, factFrames: input.length });
    expect(ours.dataBytes).toBe(Math.ceil(input.length / 320) * 65);
    // The fmt chunk exactly as REFERENCE.md gives it: 20 bytes, 1625 bytes/s, cbSize 2, 320 samples per block.
    expect(bytes.readUInt32LE(16)).toBe(20);
    expect([bytes.readUInt32LE(28), bytes.readUInt16LE(36), bytes.readUInt16LE(38)]).toEqual([1625, 2, 320]);

    const raw = join(dir, 'gsm-input.raw');
    const theirsPath = join(dir, 'gsm-libgsm.wav');
    writeFileSync(raw, pcmBytes(input));
    execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 's16le', '-ar', '8000', '-ac', '1', '-i', raw, '-c:a', 'libgsm_ms', theirsPath]);
    const theirs = parseWav(readFileSync(theirsPath));
    expect(Buffer.from(ours.data).equals(Buffer.from(theirs.data))).toBe(true);

    // ffmpeg's decoder outputs whole blocks (ffprobe and players take the length from fact, below).
    const [decoded] = ffmpegDecode(path, 1);
    expect(decoded!.length).toBe(Math.ceil(input.length / 320) * 320);
    expect(speechMeasures(input, decoded!).correlation).toBeGreaterThan(0.9);
  });

  it('writes TrueSpeech that ffmpeg decodes into the same speech; random frames fail the same measures by far', async () => {
    const { result, path, bytes } = await record('truespeech.wav', 'audio/x-truespeech', 1, { caller });
    expect(result).toMatchObject({ mime: 'audio/x-truespeech', channels: 1, samples: caller.length });
    expect(parseWav(bytes)).toMatchObject({ formatTag: 0x22, blockAlign: 32, bitsPerSample: 1, samplesPerBlock: 240, factFrames: caller.length });
    // The 50-byte fmt chunk: 1067 bytes/s, cbSize 32, revision 1, 240 samples per block.
    expect(bytes.readUInt32LE(16)).toBe(50);
    expect([bytes.readUInt32LE(28), bytes.readUInt16LE(36), bytes.readUInt16LE(38), bytes.readUInt16LE(40)]).toEqual([1067, 32, 1, 240]);
    const [decoded] = ffmpegDecode(path, 1);
    expect(decoded!.length).toBe(Math.ceil(caller.length / 240) * 240);
    const ours = speechMeasures(caller, decoded!);

    const randomPath = join(dir, 'truespeech-random.wav');
    writeFileSync(randomPath, trueSpeechWav(randomFrames(Math.ceil(caller.length / 240))));
    const random = speechMeasures(caller, ffmpegDecode(randomPath, 1)[0]!);

    expect(Math.abs(ours.lag)).toBeLessThanOrEqual(2);
    expect(ours.correlation).toBeGreaterThan(0.8);
    expect(ours.envelope).toBeGreaterThan(0.85);
    expect(ours.lsd).toBeLessThan(12);
    expect(random.correlation).toBeLessThan(0.3);
    expect(random.envelope).toBeLessThan(0.6);
    expect(random.lsd).toBeGreaterThan(18);
  });

  it('writes dual-channel Ogg Opus that ffmpeg decodes into each leg\'s speech on its own channel', async () => {
    const { result, path, bytes } = await record('opus.opus', 'audio/opus', 2, { caller, callee });
    expect(result).toMatchObject({ mime: 'audio/opus', channels: 2, samples: caller.length });
    // Periodic flushes cut pages (100 ms here) and the last page ends the stream at the true length.
    const packets = readOggPackets(bytes);
    expect(packets[0]!.data.subarray(0, 8).toString()).toBe('OpusHead');
    expect(packets[0]!.data[9]).toBe(2);
    const last = packets[packets.length - 1]!;
    expect(last.eos).toBe(true);
    expect(last.granule).toBe(BigInt(312 + caller.length * 6));

    const probe = ffprobe(path);
    expect(probe).toMatchObject({ codec: 'opus', channels: 2 });
    const [left, right] = ffmpegDecode(path, 2);
    // Pre-skip and end trimming honoured: the decode is the recording's length, give or take the resampler's rounding.
    expect(Math.abs(left!.length - caller.length)).toBeLessThanOrEqual(2);
    const expectedRight = new Int16Array(caller.length);
    expectedRight.set(callee);
    const l = speechMeasures(caller, left!);
    const r = speechMeasures(expectedRight, right!);
    const swapped = speechMeasures(caller, right!);
    for (const m of [l, r]) {
      expect(Math.abs(m.lag)).toBeLessThanOrEqual(2);
      expect(m.correlation).toBeGreaterThan(0.8);
      expect(m.envelope).toBeGreaterThan(0.85);
      expect(m.lsd).toBeLessThan(10);
    }
    // The other leg's speech on the wrong channel: no waveform match and a distant spectrum
    // (speech envelopes share their tilt, so envelope correlation alone does not separate them).
    expect(swapped.correlation).toBeLessThan(0.4);
    expect(swapped.lsd).toBeGreaterThan(12);

    // Random Opus frames (valid SILK narrowband 20 ms TOC, random payload) fail the thresholds by far.
    const randomPath = join(dir, 'opus-random.opus');
    writeFileSync(randomPath, randomOpusFile(caller.length / 160));
    const random = speechMeasures(caller, ffmpegDecode(randomPath, 1)[0]!);
    expect(random.correlation).toBeLessThan(0.3);
    expect(random.envelope).toBeLessThan(0.6);
    expect(random.lsd).toBeGreaterThan(15);
  });

  it('writes mono Ogg Opus that ffmpeg decodes into the mixed speech', async () => {
    const { result, path } = await record('opus-mono.opus', 'audio/opus', 1, { caller });
    expect(result).toMatchObject({ channels: 1, samples: caller.length });
    const [decoded] = ffmpegDecode(path, 1);
    const m = speechMeasures(caller, decoded!);
    expect(m.correlation).toBeGreaterThan(0.8);
    expect(m.envelope).toBeGreaterThan(0.85);
  });

  it('wraps Ogg Opus in SASF: the decrypted inner file is a complete Ogg Opus stream ffmpeg plays', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('x25519');
    const open = (path: string) => SasfFileSink.create(path, { publicKey, metadata: { recordingId: 'sasf-opus', mimeType: 'audio/opus', sampleRate: 8000, channels: 2 } });
    const { result, bytes } = await record('opus.sasf', 'audio/opus', 2, { caller, callee }, open);
    expect(result.mime).toBe('audio/opus');
    expect(bytes.includes(Buffer.from('OggS'))).toBe(false);
    const inner = await decryptSasf(bytes, { privateKey });
    const innerPath = join(dir, 'opus-from-sasf.opus');
    writeFileSync(innerPath, inner.plaintext);
    expect(readOggPackets(inner.plaintext).at(-1)!.eos).toBe(true);
    const [left] = ffmpegDecode(innerPath, 2);
    expect(speechMeasures(caller, left!).correlation).toBeGreaterThan(0.8);
  });

  it('wraps GSM in SASF: the header rewrites land in the trailer, the inner WAV is complete', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('x25519');
    const open = (path: string) => SasfFileSink.create(path, { publicKey, metadata: { recordingId: 'sasf-gsm', mimeType: 'audio/GSM', sampleRate: 8000, channels: 1 } });
    const { bytes } = await record('gsm.sasf', 'audio/GSM', 1, { caller }, open);
    const inner = await decryptSasf(bytes, { privateKey });
    expect(parseWav(inner.plaintext)).toMatchObject({ formatTag: 0x31, factFrames: caller.length, declaredDataBytes: Math.ceil(caller.length / 320) * 65 });
    const innerPath = join(dir, 'gsm-from-sasf.wav');
    writeFileSync(innerPath, inner.plaintext);
    expect(ffmpegDecode(innerPath, 1)[0]!.length).toBe(Math.ceil(caller.length / 320) * 320);
  });

  it('has every WAV read by ffprobe with the exact duration, and by sox (which ignores fact: GSM to the whole block)', async () => {
    const samples = 8000 + 160 * 3; // 1.06 s: not a whole number of GSM or TrueSpeech blocks
    const input = caller.subarray(0, samples);
    for (const mime of ['audio/L16', 'audio/PCMU', 'audio/PCMA', 'audio/GSM', 'audio/x-truespeech']) {
      for (const channels of mime === 'audio/GSM' || mime === 'audio/x-truespeech' ? ([1] as const) : ([1, 2] as const)) {
        const { path } = await record(`dur-${mime.slice(6)}-${channels}.wav`, mime, channels, { caller: input, callee: input });
        const probe = ffprobe(path);
        expect({ mime, channels, ts: probe.durationTs, sr: probe.sampleRate }).toEqual({ mime, channels, ts: samples, sr: 8000 });
        if (mime === 'audio/x-truespeech') continue; // sox has no TrueSpeech decoder (REFERENCE.md)
        const block = mime === 'audio/GSM' ? 320 : 1;
        expect({ mime, channels, sox: soxSamples(path) }).toEqual({ mime, channels, sox: Math.ceil(samples / block) * block });
      }
    }
  });
});
