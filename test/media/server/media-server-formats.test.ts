import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecRegistry } from '../../../media/codecs/codec-registry.ts';
import { readOggPackets } from '../../../media/codecs/ogg/ogg-page-reader.ts';
import { EncodedFileWriter } from '../../../media/recording/encoded-file-writer.ts';
import { runMediaServer, type MediaServer } from '../../../media/server/main.ts';
import { parseWav } from '../../../media/wav/wav-reader.ts';
import { controlApi } from './control-api-client.ts';

const SECRET = 'media-server-formats-secret';
let dir: string;
let server: MediaServer;

const api = controlApi(() => server.controlUrl, SECRET);

/** A `.part` left by a crash mid-recording: 1.5 s flushed, then the process died. */
async function crashedRecording(recordings: string, name: string, mime: string): Promise<void> {
  const codec = codecRegistry.require(mime);
  const writer = await EncodedFileWriter.create(join(recordings, name), { codec, channels: 1, metadata: { recordingId: name.split('.')[0] } });
  const tone = Int16Array.from({ length: 12000 }, (_, i) => Math.round(8000 * Math.sin(i / 5)));
  await writer.write(tone);
  await writer.flush();
  await writer.abandon();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'media-server-formats-'));
  const recordings = join(dir, 'recordings');
  mkdirSync(recordings, { recursive: true });
  await crashedRecording(recordings, 'rec-opus.0a0b0c0d0e0f.opus', 'audio/opus');
  await crashedRecording(recordings, 'rec-gsm.0a0b0c0d0e0f.wav', 'audio/GSM');
  server = await runMediaServer({ location: 'test', id: 'ms-formats', port: 0, address: '127.0.0.1', rtpAddress: '127.0.0.1', rtpPorts: [47400, 47499], dataDir: dir, secret: SECRET, logLevel: 'silent' });
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('media server: recording formats', () => {
  it('repairs crashed Ogg Opus and GSM recordings at start and lists them as recovered', async () => {
    const { json } = await api('GET', '/v1/health');
    expect(json.recovered.map((r: { recordingId: string }) => r.recordingId).sort()).toEqual(['rec-gsm', 'rec-opus']);
    const recordings = join(dir, 'recordings');
    expect(existsSync(join(recordings, 'rec-opus.0a0b0c0d0e0f.opus.part'))).toBe(false);
    const packets = readOggPackets(readFileSync(join(recordings, 'rec-opus.0a0b0c0d0e0f.opus')));
    expect(packets.at(-1)).toMatchObject({ eos: true, granule: BigInt(75 * 960) }); // 1.5 s = 75 packets, all flushed
    expect(parseWav(readFileSync(join(recordings, 'rec-gsm.0a0b0c0d0e0f.wav')))).toMatchObject({ formatTag: 0x31, frames: 37 * 320, factFrames: 37 * 320 });
  });

  it('names files by the codec\'s extension and refuses formats or channel counts it cannot write with 400', async () => {
    const legs = [{ legId: 'caller', codec: { payloadType: 0, name: 'PCMU' } }];
    expect((await api('POST', '/v1/calls', { callId: 'c1', legs })).status).toBe(200);
    const opus = await api('POST', '/v1/calls/c1/recordings', { recordingId: 'r-opus', mime: 'audio/opus', channels: 2 });
    expect(opus.status).toBe(200);
    expect(opus.json.fileName).toMatch(/^r-opus\.[0-9a-f]{12}\.opus$/);
    const gsm2 = await api('POST', '/v1/calls/c1/recordings', { recordingId: 'r-gsm', mime: 'audio/GSM', channels: 2 });
    expect(gsm2).toMatchObject({ status: 400, json: { code: 'CAPSTAN_ERR_UNSUPPORTED_FORMAT' } });
    const mp3 = await api('POST', '/v1/calls/c1/recordings', { recordingId: 'r-mp3', mime: 'audio/mpeg', channels: 1 });
    expect(mp3).toMatchObject({ status: 400, json: { code: 'CAPSTAN_ERR_UNSUPPORTED_FORMAT' } });
    const stopped = await api('POST', '/v1/recordings/r-opus/stop');
    expect(stopped.json).toMatchObject({ mime: 'audio/opus', channels: 2 });
  });
});
