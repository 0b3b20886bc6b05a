import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OggPage } from '../../../../media/codecs/ogg/ogg-page.ts';
import { readOggPackets, readOggPages } from '../../../../media/codecs/ogg/ogg-page-reader.ts';
import { OggOpusWriter, OPUS_PRE_SKIP } from '../../../../media/codecs/opus/ogg-opus-writer.ts';
import { alignedCorrelation, correlationAtLag } from '../../../helpers/audio-quality.ts';
import { espeakSpeech, readRawPcm } from '../../../helpers/espeak-speech.ts';

let dir: string;
let speechA: Int16Array;
let speechB: Int16Array;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'capstan-opus-'));
  speechA = espeakSpeech(dir, 'Good morning, thank you for calling Capstan support. How can I help you today?').pcm;
  speechB = espeakSpeech(dir, 'Hi, I would like to check the status of my order number four five six.', { voice: 'en-us+f3' }).pcm;
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a whole recording, pushing in awkward chunk sizes to exercise the frame buffering. */
function writeOpus(name: string, interleaved: Int16Array, channels: 1 | 2): { path: string; bytes: Buffer } {
  const w = new OggOpusWriter({ channels, serial: 0x5eed });
  const out: Buffer[] = [];
  const chunk = 77 * channels;
  for (let i = 0; i < interleaved.length; i += chunk) out.push(...w.push(interleaved.subarray(i, i + chunk)));
  out.push(...w.end());
  const bytes = Buffer.concat(out);
  const path = join(dir, `${name}.opus`);
  writeFileSync(path, bytes);
  return { path, bytes };
}

/** ffmpeg's decode, resampled to 8 kHz, as interleaved samples. */
function ffmpegDecode(path: string, channels: 1 | 2): Int16Array {
  const raw = `${path}.raw`;
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', path, '-ar', '8000', '-ac', String(channels), '-f', 's16le', raw]);
  return readRawPcm(raw);
}

function ffprobeDuration(path: string): number {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name,channels,sample_rate', '-of', 'json', path]);
  const info = JSON.parse(out.toString()) as { format: { duration: string }; streams: { codec_name: string; channels: number }[] };
  expect(info.streams[0]!.codec_name).toBe('opus');
  return Number(info.format.duration);
}

function channel(interleaved: Int16Array, c: number): Int16Array {
  const out = new Int16Array(interleaved.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = interleaved[2 * i + c]!;
  return out;
}

describe('OggOpusWriter', () => {
  it('writes OpusHead alone on the BOS page, then OpusTags alone, with granule 0', () => {
    const { bytes } = writeOpus('head', speechA.subarray(0, 8000), 1);
    const pages = readOggPages(bytes);
    const [headPage, tagsPage] = pages;
    expect(headPage).toMatchObject({ bos: true, granule: 0n, sequence: 0, serial: 0x5eed });
    expect(tagsPage).toMatchObject({ bos: false, granule: 0n, sequence: 1 });
    expect(headPage!.pieces()).toHaveLength(1);
    expect(tagsPage!.pieces()).toHaveLength(1);
    const head = Buffer.from(headPage!.body);
    expect(head.length).toBe(19);
    expect(head.toString('latin1', 0, 8)).toBe('OpusHead');
    expect(head[8]).toBe(1);
    expect(head[9]).toBe(1);
    expect(head.readUInt16LE(10)).toBe(OPUS_PRE_SKIP);
    expect(head.readUInt32LE(12)).toBe(8000);
    expect(head.readInt16LE(16)).toBe(0);
    expect(head[18]).toBe(0);
    const tags = Buffer.from(tagsPage!.body);
    expect(tags.toString('latin1', 0, 8)).toBe('OpusTags');
    const vendorLength = tags.readUInt32LE(8);
    expect(tags.toString('utf8', 12, 12 + vendorLength)).toBe('capstan');
    expect(tags.readUInt32LE(12 + vendorLength)).toBe(0);
  });

  it('counts granule positions in 48 kHz samples and trims the end to the true sample count', () => {
    const samples = 8000 + 37; // not a whole number of frames
    const { bytes } = writeOpus('granule', speechA.subarray(0, samples), 1);
    const pages = readOggPages(bytes);
    const audio = readOggPackets(pages).slice(2);
    // Enough 20 ms packets for pre-skip + every sample: ceil((312 + 6 * 8037) / 960) = 51.
    expect(audio).toHaveLength(Math.ceil((OPUS_PRE_SKIP + 6 * samples) / 960));
    const audioPages = pages.slice(2);
    expect(audioPages.filter((p) => p.eos)).toEqual([audioPages.at(-1)]);
    expect(audioPages.at(-1)!.granule).toBe(BigInt(OPUS_PRE_SKIP + 6 * samples));
    // Earlier pages: one second (50 packets) each, granule = packets so far x 960.
    expect(audioPages[0]!.pieces()).toHaveLength(50);
    expect(audioPages[0]!.granule).toBe(50n * 960n);
  });

  it('writes mono speech that ffprobe times right and ffmpeg decodes into the same speech at zero lag', () => {
    const { path } = writeOpus('mono', speechA, 1);
    expect(Math.abs(ffprobeDuration(path) - speechA.length / 8000)).toBeLessThan(0.02);
    const decoded = ffmpegDecode(path, 1);
    expect(Math.abs(decoded.length - speechA.length)).toBeLessThanOrEqual(160);
    const { lag, correlation } = alignedCorrelation(speechA, decoded, 200);
    const other = alignedCorrelation(speechB, decoded, 200);
    console.info(`Opus mono: lag ${lag}, correlation ${correlation.toFixed(3)}; against other speech ${other.correlation.toFixed(3)}`);
    // Lag 0 confirms the pre-skip (the encoder's 52-sample lookahead at 8 kHz) is right.
    expect(Math.abs(lag)).toBeLessThanOrEqual(1);
    expect(correlation).toBeGreaterThan(0.8);
    expect(other.correlation).toBeLessThan(0.3);
  });

  it('keeps the caller and the other party on their own channels', () => {
    const n = Math.min(speechA.length, speechB.length);
    const interleaved = new Int16Array(n * 2);
    for (let i = 0; i < n; i++) {
      interleaved[2 * i] = speechA[i]!;
      interleaved[2 * i + 1] = speechB[i]!;
    }
    const { path } = writeOpus('dual', interleaved, 2);
    expect(Math.abs(ffprobeDuration(path) - n / 8000)).toBeLessThan(0.02);
    const decoded = ffmpegDecode(path, 2);
    const left = channel(decoded, 0);
    const right = channel(decoded, 1);
    const a = speechA.subarray(0, n);
    const b = speechB.subarray(0, n);
    const ll = alignedCorrelation(a, left, 200);
    const rr = alignedCorrelation(b, right, 200);
    console.info(`Opus dual: left ${ll.correlation.toFixed(3)} at ${ll.lag}, right ${rr.correlation.toFixed(3)} at ${rr.lag}`);
    expect(ll.correlation).toBeGreaterThan(0.8);
    expect(rr.correlation).toBeGreaterThan(0.8);
    expect(Math.abs(correlationAtLag(b, left, ll.lag))).toBeLessThan(0.3);
    expect(Math.abs(correlationAtLag(a, right, rr.lag))).toBeLessThan(0.3);
  });

  it('writes a valid one-packet file for an empty recording', () => {
    const w = new OggOpusWriter({ channels: 1, serial: 1 });
    const bytes = Buffer.concat(w.end());
    expect(w.end()).toEqual([]);
    const packets = readOggPackets(bytes);
    expect(packets).toHaveLength(3);
    expect(packets[2]).toMatchObject({ eos: true, granule: BigInt(OPUS_PRE_SKIP) });
    const path = join(dir, 'empty.opus');
    writeFileSync(path, bytes);
    expect(ffprobeDuration(path)).toBeLessThan(0.02);
  });

  it('rejects bad channel counts, uneven interleaving and pushes after end with coded errors', () => {
    expect(() => new OggOpusWriter({ channels: 3 as 1 })).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
    const w = new OggOpusWriter({ channels: 2 });
    expect(() => w.push(new Int16Array(3))).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CODEC_INPUT' }));
    w.end();
    expect(() => w.push(new Int16Array(2))).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CLOSED' }));
  });

  it('produces pages a reader accepts one by one, as they would be appended to a file', () => {
    const w = new OggOpusWriter({ channels: 1, packetsPerPage: 5 });
    const pages = [...w.push(speechA.subarray(0, 4000)), ...w.end()];
    for (const p of pages) expect(() => OggPage.parse(p)).not.toThrow();
    expect(pages.length).toBe(2 + Math.ceil(Math.ceil((OPUS_PRE_SKIP + 6 * 4000) / 960) / 5));
  });
});
