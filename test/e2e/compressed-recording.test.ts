/**
 * Recorder policies with compression, through a real call: simulated RTP legs (PCMU) → an
 * embedded media server (child process) → the Recorder's fetch and store → playback over the
 * HTTP API, decoded by ffmpeg and compared with what each party said.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../core/host.ts';
import { ulawDecode, ulawEncode } from '../../media/codecs/g711.ts';
import { inspectSasf } from '../../media/sasf/index.ts';
import { parseWav, readPcm8k } from '../../media/wav/wav-reader.ts';
import { placeSimulatedCall, waitForStoredRecordings } from '../../plugins/call-source-simulator/simulated-call.ts';
import { alignedCorrelation, alignByLag, lpcEnvelopeCorrelation } from '../helpers/audio-quality.ts';
import { ffmpegDecode, ffprobe } from '../helpers/ffmpeg-audio.ts';
import { startTestHost } from '../helpers/host.ts';

let host: Host;
let dir: string;
const callerAudio = readPcm8k(readFileSync(new URL('../../examples/audio/caller.wav', import.meta.url))).channels[0]!.subarray(0, 24000);
const calleeAudio = readPcm8k(readFileSync(new URL('../../examples/audio/callee.wav', import.meta.url))).channels[0]!.subarray(0, 24000);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'compressed-e2e-'));
  host = await startTestHost({
    mediaServers: { embedded: 1 },
    recorder: {
      encryption: { enabled: true },
      policies: [
        { name: 'opus-dual', when: { workgroup: ['opus'] }, compression: 'opus', channels: 2, encrypt: false },
        { name: 'gsm', when: { workgroup: ['gsm'] }, compression: 'gsm', channels: 2, encrypt: false },
        { name: 'opus-sasf', when: { workgroup: ['secure'] }, compression: 'opus', channels: 2, encrypt: true },
      ],
    },
  });
});
afterAll(async () => {
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Places a 3 s call in `workgroup`; returns the recording's row and its audio as served by the API. */
async function recordCall(workgroup: string): Promise<{ row: { mime: string; channels: number; mediaPath: string; fileName: string; samples: number }; audio: Buffer; contentType: string | null; started: { fileName: string } }> {
  const call = await placeSimulatedCall({ hostUrl: host.url, callerAudio, calleeAudio, durationMs: 3000, workgroup });
  const started = call.recordings[0]!;
  const [stored] = await waitForStoredRecordings(host.url, call.callId);
  expect(stored!.status).toBe('stored');
  const row = (await (await fetch(`${host.url}/api/v1/recordings/${started.recordingId}`)).json()) as { mime: string; channels: number; mediaPath: string; fileName: string; samples: number };
  const res = await fetch(`${host.url}/api/v1/recordings/${started.recordingId}/audio`);
  return { row, audio: Buffer.from(await res.arrayBuffer()), contentType: res.headers.get('content-type'), started };
}

/** Correlation of the decoded channel with what the party sent (through PCMU), at the best lag. */
function matches(sent: Int16Array, decoded: Int16Array): { correlation: number; envelope: number } {
  const reference = ulawDecode(ulawEncode(sent));
  // The leg's audio starts when its first packet arrives: search a wide lag.
  const { lag, correlation } = alignedCorrelation(reference, decoded, 16000);
  const [r, t] = alignByLag(reference, decoded, lag);
  return { correlation, envelope: lpcEnvelopeCorrelation(r, t) };
}

describe('Recorder policies with compression, end to end', () => {
  it('records dual-channel Ogg Opus: caller on the left, callee on the right, as ffmpeg decodes it', async () => {
    const { row, audio, contentType, started } = await recordCall('opus');
    expect(row).toMatchObject({ mime: 'audio/opus', channels: 2 });
    expect(started.fileName).toMatch(/\.opus$/);
    expect(contentType).toBe('audio/ogg');
    const path = join(dir, 'call.opus');
    writeFileSync(path, audio);
    expect(ffprobe(path)).toMatchObject({ codec: 'opus', channels: 2 });
    const [left, right] = ffmpegDecode(path, 2);
    // As long as the recording says (its granules trimmed to the true length), and at least the 3 s call.
    expect(Math.abs(left!.length - row.samples)).toBeLessThanOrEqual(160);
    expect(left!.length).toBeGreaterThan(24000 - 160);
    const l = matches(callerAudio, left!);
    const r = matches(calleeAudio, right!);
    expect(l.correlation).toBeGreaterThan(0.8);
    expect(r.correlation).toBeGreaterThan(0.8);
    expect(l.envelope).toBeGreaterThan(0.8);
    expect(matches(callerAudio, right!).correlation).toBeLessThan(0.4);
  });

  it('records GSM 06.10 WAV, mixed to mono as GSM is mono-only', async () => {
    const { row, audio, contentType } = await recordCall('gsm');
    expect(row).toMatchObject({ mime: 'audio/GSM', channels: 1 });
    expect(contentType).toBe('audio/wav');
    const info = parseWav(audio);
    expect(info).toMatchObject({ formatTag: 0x31, channels: 1, blockAlign: 65 });
    // The fact chunk says the recording's true length: what the Recorder stored, at least the 3 s call.
    expect(info.factFrames).toBe(row.samples);
    expect(info.factFrames!).toBeGreaterThan(24000 - 160);
    const path = join(dir, 'call-gsm.wav');
    writeFileSync(path, audio);
    expect(ffprobe(path).durationTs).toBe(info.factFrames);
    const [mono] = ffmpegDecode(path, 1);
    // The mix holds both parties: the caller's speech is found in it.
    expect(matches(callerAudio, mono!).correlation).toBeGreaterThan(0.5);
  });

  it('records Opus inside SASF when the policy encrypts, and plays it back as Ogg Opus', async () => {
    const { row, audio, contentType, started } = await recordCall('secure');
    expect(started.fileName).toMatch(/^[0-9a-f]{32}\.sasf$/);
    expect(row.mediaPath).toMatch(/\.sasf$/);
    const stored = readFileSync(join(host.config.dataDir, 'store', row.mediaPath));
    expect(stored.includes(Buffer.from('OggS'))).toBe(false);
    expect(await inspectSasf(stored)).toMatchObject({ mimeType: 'audio/opus', channels: 2, complete: true });
    expect(contentType).toBe('audio/ogg');
    const path = join(dir, 'call-sasf.opus');
    writeFileSync(path, audio);
    const [left] = ffmpegDecode(path, 2);
    expect(matches(callerAudio, left!).correlation).toBeGreaterThan(0.8);
  });
});
